"""The HTTP server: predictions equal the library's, validation, limits, metrics, micro-batching,
the ONNX runtime, images, graceful shutdown, and the serve / export commands (in-process and as a
real subprocess)."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import traincraft as tc
from traincraft.errors import DataError, MissingDependencyError, RecipeError
from traincraft.serving.microbatch import BatcherClosed, MicroBatcher, QueueFull

fastapi = pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

from traincraft.serving.server import create_app  # noqa: E402

SRC = Path(__file__).resolve().parents[2] / "src"


def records_of(frame: pd.DataFrame) -> list[dict]:
    """JSON records as a client would send them: NaN becomes null."""
    return json.loads(frame.to_json(orient="records"))


@pytest.fixture(scope="module")
def mixed_model(mixed_run) -> tc.Predictor:
    return tc.load(mixed_run.bundle_dir)


@pytest.fixture(scope="module")
def client(mixed_model):
    with TestClient(create_app(mixed_model)) as c:
        yield c


# --- predictions -------------------------------------------------------------------------------
def test_one_record_and_a_list_match_the_library(client, mixed_model, mixed_data) -> None:
    rows = mixed_data.drop(columns=["label"]).head(12)
    records = records_of(rows)
    expected = mixed_model.predict(pd.DataFrame(records))
    one = client.post("/predict", json=records[0])
    assert one.status_code == 200, one.text
    assert one.json()["order_id"] == records[0]["order_id"]
    assert one.json()["prediction"] == expected["prediction"].iloc[0]
    many = client.post("/predict", json=records)
    assert many.status_code == 200, many.text
    got = many.json()["predictions"]
    assert [g["order_id"] for g in got] == list(expected["order_id"])
    assert [g["prediction"] for g in got] == list(expected["prediction"])
    probabilities = np.array([[g["probabilities"]["no"], g["probabilities"]["yes"]] for g in got])
    assert np.max(np.abs(probabilities - expected[["proba_no", "proba_yes"]].to_numpy())) < 1e-6


def test_nulls_unseen_categories_and_boolean_spellings_are_accepted(client, mixed_model) -> None:
    record = {"x": None, "colour": "ultraviolet", "flag": "yes", "review": None, "when": None}
    response = client.post("/predict", json=record)
    assert response.status_code == 200, response.text
    expected = mixed_model.predict_proba(record)[0]
    assert abs(response.json()["probabilities"]["yes"] - expected[1]) < 1e-6
    assert "order_id" not in response.json()  # no id sent, none echoed


def test_predictor_is_thread_safe(mixed_model, mixed_data) -> None:
    frame = mixed_data.drop(columns=["label"])
    chunks = [frame.iloc[i::8] for i in range(8)]
    expected = [mixed_model.predict_proba(c) for c in chunks]
    results: dict[int, np.ndarray] = {}

    def work(i: int) -> None:
        for _ in range(3):
            results[i] = mixed_model.predict_proba(chunks[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert all(np.max(np.abs(results[i] - expected[i])) < 1e-6 for i in range(8))


def test_response_text_is_what_json_dumps_writes(mixed_model) -> None:
    from traincraft.serving._records import RecordCodec
    from traincraft.serving.server import _Model

    model = _Model(mixed_model, RecordCodec(mixed_model))
    outputs = np.array([[0.25, 0.75], [1 / 3, 2 / 3], [1.0, 0.0]])
    ids = ["a-1", None, 7]
    expected = [
        {"order_id": "a-1", "prediction": "yes", "probabilities": {"no": 0.25, "yes": 0.75}},
        {"prediction": "yes", "probabilities": {"no": 1 / 3, "yes": 2 / 3}},
        {"order_id": 7, "prediction": "no", "probabilities": {"no": 1.0, "yes": 0.0}},
    ]
    assert model.render(outputs, ids, single=False) == json.dumps({"predictions": expected}, ensure_ascii=False)
    assert model.render(outputs[:1], ids[:1], single=True) == json.dumps(expected[0], ensure_ascii=False)
    model.task = "regression"
    assert json.loads(model.render(np.array([1.5, -2e-9]), [None, "b"], single=False)) == {
        "predictions": [{"prediction": 1.5}, {"order_id": "b", "prediction": -2e-9}]
    }


def test_labels_with_a_percent_sign_render_as_json_dumps_writes(mixed_model) -> None:
    from traincraft.serving._records import RecordCodec
    from traincraft.serving.server import _Model

    model = _Model(mixed_model, RecordCodec(mixed_model))
    model._label_json = model._key_json = ['"10% off"', '"%r"']  # labels "10% off" and "%r"
    model._templates = model._response_templates()
    expected = {"prediction": "%r", "probabilities": {"10% off": 0.25, "%r": 0.75}}
    assert model.render(np.array([[0.25, 0.75]]), [None], single=True) == json.dumps(expected, ensure_ascii=False)


@pytest.mark.parametrize(
    "content",
    [
        b'{"x": 12345678901234567890123, "y": -9223372036854775809}',  # past 64 bits: orjson would give floats
        b'{"x": 1e400}',  # orjson refuses; the standard decoder reads inf (then the record check refuses it)
        b'{"x": "\\ud800 lone surrogate"}',
        b'\xef\xbb\xbf{"x": 1}',  # a UTF-8 byte-order mark
        '{"x": 1}'.encode("utf-16"),
        b'{"x": 0.1, "x": 2, "s": "caf\xc3\xa9 \\u00e9 \\ud83d\\ude00", "n": null, "l": [true, false, -0, 1.5e-7]}',
        b"[" * 600 + b"]" * 600,
        b"[" * 400 + b"]" * 400,
    ],
)
def test_fast_json_reads_what_the_standard_decoder_reads(content) -> None:
    orjson = pytest.importorskip("orjson")
    from traincraft.serving.server import _HTTPProblem, _parse_json

    def read(fast):
        try:
            value = _parse_json(content, fast)
        except _HTTPProblem as exc:
            return "problem", exc.status, exc.message
        return "value", repr(value), type(value).__name__

    assert read(orjson.loads) == read(None)


def test_the_asgi_fast_path_reads_chunked_bodies_and_counts_a_client_that_left(mixed_model, mixed_data) -> None:
    app = create_app(mixed_model, micro_batching=False)
    body = json.dumps(records_of(mixed_data.drop(columns=["label"]).head(2))).encode()
    scope = {"type": "http", "method": "POST", "path": "/predict", "root_path": "", "headers": [(b"content-type", b"application/json")]}

    async def call(messages: list[dict]) -> list[dict]:
        sent: list[dict] = []

        async def receive() -> dict:
            return messages.pop(0)

        async def send(message: dict) -> None:
            sent.append(message)

        await app(dict(scope), receive, send)
        return sent

    half = len(body) // 2
    chunks = [{"type": "http.request", "body": body[:half], "more_body": True}, {"type": "http.request", "body": body[half:]}]
    sent = asyncio.run(call(chunks))
    assert sent[0]["status"] == 200 and (b"content-length", str(len(sent[1]["body"])).encode()) in sent[0]["headers"]
    assert len(json.loads(sent[1]["body"])["predictions"]) == 2
    gone = [{"type": "http.request", "body": body[:half], "more_body": True}, {"type": "http.disconnect"}]
    assert asyncio.run(call(gone)) == []  # nobody to answer
    assert 'traincraft_http_requests_total{method="POST",path="/predict",status="499"} 1' in app.state.metrics.render({}, 0)


def test_regression_predictions_are_values_in_label_units(tmp_path_factory) -> None:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"area": rng.uniform(20, 200, 200), "rooms": rng.integers(1, 6, 200)})
    frame["price"] = 1000 * frame["area"] + 5000 * frame["rooms"] + rng.normal(0, 100, 200)
    run = tc.train(frame, label="price", recipe={"train": {"epochs": 2}, "model": {"hidden": [8]}}, runs_dir=tmp_path_factory.mktemp("runs"))
    model = tc.load(run.bundle_dir)
    records = records_of(frame.drop(columns=["price"]).head(4))
    with TestClient(create_app(model)) as regression:
        got = regression.post("/predict", json=records).json()["predictions"]
        assert regression.get("/schema").json()["classes"] is None
    assert [set(g) for g in got] == [{"prediction"}] * 4
    assert np.allclose([g["prediction"] for g in got], model.predict(pd.DataFrame(records))["prediction"], rtol=1e-6)


# --- validation and limits ----------------------------------------------------------------------
def test_field_errors_name_every_field(client) -> None:
    bad = {"order_id": "a", "x": "seven", "colour": ["red"], "flag": "perhaps", "when": "not a date", "reveiw": "typo"}
    response = client.post("/predict", json=bad)
    assert response.status_code == 422
    body = response.json()
    by_field = {tuple(d["loc"]): d for d in body["detail"]}
    assert by_field[("body", "x")]["msg"] == "expected a number or null, got string 'seven'"
    assert by_field[("body", "colour")]["type"] == "type_error.scalar"
    assert "should hold true/false" in by_field[("body", "flag")]["msg"]
    assert "dates or timestamps" in by_field[("body", "when")]["msg"]
    assert by_field[("body", "review")]["type"] == "missing"
    assert "Did you mean 'review'?" in by_field[("body", "reveiw")]["msg"]
    assert body["message"].startswith("6 invalid fields: body.x: expected a number")


def test_errors_in_a_list_carry_the_record_index(client, mixed_data) -> None:
    records = records_of(mixed_data.drop(columns=["label"]).head(3))
    records[2]["x"] = True
    response = client.post("/predict", json=records)
    assert response.status_code == 422
    assert response.json()["detail"] == [{"loc": ["body", 2, "x"], "msg": "expected a number or null, got boolean True", "type": "type_error.number"}]


@pytest.mark.parametrize(
    ("content", "status", "message"),
    [
        (b"{not json", 400, "Malformed JSON"),
        (b"", 400, "The request body is empty"),
        (b'{"x": NaN}', 400, "NaN is not valid JSON; send null"),
        (b"[" * 50_000 + b"]" * 50_000, 400, "nested too deeply"),
        (b"\xff\xfe\x00", 400, "Malformed JSON"),
        (b"42", 422, "expected a JSON object (one record) or a list of them, got number 42"),
        (b"[]", 422, "the list of records is empty"),
        (b"[1, 2]", 422, "expected a JSON object with the model's columns, got number 1"),
    ],
)
def test_malformed_bodies_get_a_4xx_with_a_message(client, content, status, message) -> None:
    response = client.post("/predict", content=content, headers={"content-type": "application/json"})
    assert response.status_code == status
    assert message in response.json()["message"]


def test_body_size_and_batch_length_limits(mixed_model, mixed_data) -> None:
    records = records_of(mixed_data.drop(columns=["label"]).head(5))
    with TestClient(create_app(mixed_model, max_body_bytes=600, max_batch=3)) as small:
        too_big = small.post("/predict", json=records * 4)
        assert too_big.status_code == 413
        assert "larger than the server's limit of 600 bytes" in too_big.json()["message"]
        streamed = small.post("/predict", content=iter([json.dumps(records * 4).encode()]))  # no Content-Length
        assert streamed.status_code == 413
        too_long = small.post("/predict", json=[{"x": 1}] * 4)
        assert too_long.status_code == 422
        assert "4 records in one request; the limit is 3. Split the list." in too_long.json()["message"]
        assert small.post("/predict", json=records[:2]).status_code == 200


def test_extra_fields_can_be_ignored(mixed_model, mixed_data) -> None:
    record = {**records_of(mixed_data.drop(columns=["label"]).head(1))[0], "source": "web"}
    with TestClient(create_app(mixed_model, extra_fields="ignore")) as lenient:
        assert lenient.post("/predict", json=record).status_code == 200
    with TestClient(create_app(mixed_model)) as strict:
        assert strict.post("/predict", json=record).status_code == 422
        label_too = {**record, "label": "yes"}
        label_too.pop("source")
        assert strict.post("/predict", json=label_too).status_code == 200  # schema columns are known


def test_a_non_finite_output_is_a_422_not_nan(mixed_run, mixed_data) -> None:
    import torch

    broken = tc.load(mixed_run.bundle_dir)
    broken.model = lambda x: torch.full((len(x["dense"]), 2), float("nan"))  # as if the inputs overflowed the network
    records = records_of(mixed_data.drop(columns=["label"]).head(2))
    with TestClient(create_app(broken)) as c:
        response = c.post("/predict", json=records)
    assert response.status_code == 422
    assert response.json()["message"] == "2 record(s) gave a non-finite prediction; their values are far outside the training data."
    assert [d["loc"] for d in response.json()["detail"]] == [["body", 0], ["body", 1]]


def test_bad_options_are_refused(mixed_model, mixed_run) -> None:
    with pytest.raises(RecipeError, match="max_batch must be a whole number of at least 1, got 0"):
        create_app(mixed_model, max_batch=0)
    with pytest.raises(RecipeError, match="batch_wait_ms must be 0 or more"):
        create_app(mixed_model, batch_wait_ms=-1)
    with pytest.raises(RecipeError, match="runtime applies when create_app loads a bundle path"):
        create_app(mixed_model, runtime="onnx")
    with pytest.raises(tc.SchemaError, match="extra_fields must be 'forbid' or 'ignore'"):
        create_app(mixed_run.bundle_dir, extra_fields="allow")


def test_missing_fastapi_names_the_extra(mixed_model, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "fastapi", None)
    with pytest.raises(MissingDependencyError, match=r"Serving a model over HTTP needs the package 'fastapi'.*traincraft\[serve\]"):
        create_app(mixed_model)


def test_missing_orjson_names_the_extra(mixed_model, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "orjson", None)
    with pytest.raises(MissingDependencyError, match=r"Serving a model over HTTP needs the package 'orjson'.*traincraft\[serve\]"):
        create_app(mixed_model)


# --- description endpoints --------------------------------------------------------------------------
def test_health_schema_docs_and_openapi(client) -> None:
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["task"] == "binary" and health["runtime"] == "torch"
    schema = client.get("/schema").json()
    assert [(i["name"], i["type"]) for i in schema["inputs"]] == [
        ("x", "numeric"), ("colour", "categorical"), ("flag", "boolean"), ("review", "text"), ("when", "datetime")
    ]
    assert schema["id_column"] == "order_id" and schema["classes"] == ["no", "yes"]
    assert schema["record"]["required"] == ["x", "colour", "flag", "review", "when"]
    assert schema["record"]["additionalProperties"] is False
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/PredictRequest"}
    assert spec["components"]["schemas"]["Record"]["properties"]["x"]["type"] == ["number", "null"]
    assert client.get("/docs").status_code == 200
    missing = client.get("/nowhere")
    assert missing.status_code == 404 and "Endpoints: /predict" in missing.json()["message"]


def test_metrics_count_requests_by_status_and_time_them(mixed_model, mixed_data) -> None:
    record = records_of(mixed_data.drop(columns=["label"]).head(1))[0]
    with TestClient(create_app(mixed_model)) as fresh:
        for _ in range(3):
            assert fresh.post("/predict", json=record).status_code == 200
        assert fresh.post("/predict", json={"x": 1}).status_code == 422
        text = fresh.get("/metrics").text
    lines = dict(line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))
    assert lines['traincraft_http_requests_total{method="POST",path="/predict",status="200"}'] == "3"
    assert lines['traincraft_http_requests_total{method="POST",path="/predict",status="422"}'] == "1"
    assert lines['traincraft_http_request_duration_seconds_count{path="/predict"}'] == "4"
    assert lines['traincraft_http_request_duration_seconds_bucket{path="/predict",le="+Inf"}'] == "4"
    assert lines["traincraft_predicted_records_total"] == "3"
    assert lines["traincraft_batch_rows_count"] == "3"
    assert float(lines['traincraft_http_request_duration_seconds_sum{path="/predict"}']) > 0


# --- micro-batching ---------------------------------------------------------------------------------
def test_concurrent_requests_share_forward_passes(mixed_model, mixed_data) -> None:
    records = records_of(mixed_data.drop(columns=["label"]).head(24))
    expected = mixed_model.predict(pd.DataFrame(records))
    app = create_app(mixed_model, batch_wait_ms=50)

    async def go() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=60) as c:
            responses = await asyncio.gather(*(c.post("/predict", json=r) for r in records))
        await app.state.batcher.close()
        return responses

    responses = asyncio.run(go())
    assert [r.status_code for r in responses] == [200] * 24
    assert [r.json()["prediction"] for r in responses] == list(expected["prediction"])
    stats = app.state.batcher.stats
    assert stats.rows == 24 and stats.items == 24
    assert stats.batches <= 4, stats  # 24 requests, a handful of forward passes


def test_without_micro_batching_each_request_runs_alone(mixed_model, mixed_data) -> None:
    records = records_of(mixed_data.drop(columns=["label"]).head(3))
    with TestClient(create_app(mixed_model, micro_batching=False)) as plain:
        assert [plain.post("/predict", json=r).status_code for r in records] == [200] * 3
        assert plain.app.state.batcher.stats.batches == 0


def _batcher_run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, timeout=60))


def test_batcher_batches_retries_bad_items_alone_and_bounds_its_queue() -> None:
    seen: list[list[int]] = []

    def run(items):
        seen.append(list(items))
        if any(i < 0 for i in items):
            raise DataError("negative")
        return [i * 10 for i in items]

    async def go():
        batcher = MicroBatcher(run, max_rows=8, max_wait_s=0.05, max_queue_rows=8, inline_max_s=0, lone_max_s=0)  # queue, thread
        await batcher.start()
        results = await asyncio.gather(*(batcher.submit(i) for i in [1, 2, -3, 4]), return_exceptions=True)
        futures = [batcher.enqueue(i) for i in range(8)]
        with pytest.raises(QueueFull, match="at capacity"):
            batcher.enqueue(99)
        drained = await asyncio.gather(*futures)
        await batcher.close()
        with pytest.raises(BatcherClosed):
            await batcher.submit(5)
        return results, drained

    results, drained = _batcher_run(go())
    assert results[:2] == [10, 20] and results[3] == 40
    assert isinstance(results[2], DataError)
    assert seen[0] == [1, 2, -3, 4] and [-3] in seen  # one batch, then each item alone
    assert drained == [i * 10 for i in range(8)]


def test_a_lone_request_does_not_wait_for_company() -> None:
    async def go(inline_max_s: float):
        batcher = MicroBatcher(
            lambda items: [(item, threading.current_thread().name) for item in items],
            max_wait_s=30.0,
            inline_max_s=inline_max_s,
            lone_max_s=inline_max_s,
        )
        await batcher.start()
        start = time.perf_counter()
        value = await batcher.submit("alone")
        elapsed = time.perf_counter() - start
        await batcher.close()
        return value, elapsed, batcher.stats.batches

    (value, thread), elapsed, batches = _batcher_run(go(inline_max_s=0.005))
    assert value == "alone" and thread == threading.current_thread().name and batches == 1  # at once, on the loop
    assert elapsed < 5.0  # far below the 30 s wait: nobody else was expected
    (value, thread), elapsed, _ = _batcher_run(go(inline_max_s=0))
    assert thread.startswith("traincraft-batch") and elapsed < 5.0  # slow models: on the worker thread, still no wait


def test_close_finishes_queued_requests() -> None:
    gate = threading.Event()

    def run(items):
        gate.wait(timeout=30)
        return [i + 1 for i in items]

    async def go():
        batcher = MicroBatcher(run, max_rows=2, max_wait_s=0.0, inline_max_s=0, lone_max_s=0)
        await batcher.start()
        futures = [batcher.enqueue(i) for i in range(6)]
        closing = asyncio.create_task(batcher.close(timeout_s=60))
        await asyncio.sleep(0)  # let close() begin: new work is refused from now on
        with pytest.raises(BatcherClosed):
            batcher.enqueue(100)
        gate.set()
        await closing
        return [f.result() for f in futures]

    assert _batcher_run(go()) == [1, 2, 3, 4, 5, 6]


# --- the ONNX runtime and images -----------------------------------------------------------------
def test_serving_the_onnx_runtime(mixed_run, mixed_model, mixed_data, tmp_path) -> None:
    pytest.importorskip("onnxruntime")
    from traincraft.serving.onnx_export import export_onnx

    export_onnx(mixed_run.bundle_dir, tmp_path / "onnx")
    records = records_of(mixed_data.drop(columns=["label"]).head(6))
    with TestClient(create_app(tmp_path / "onnx", runtime="onnx")) as onnx_client:
        assert onnx_client.get("/health").json()["runtime"] == "onnx"
        got = onnx_client.post("/predict", json=records).json()["predictions"]
    expected = mixed_model.predict_proba(pd.DataFrame(records))[:, 1]
    assert np.max(np.abs(np.array([g["probabilities"]["yes"] for g in got]) - expected)) <= 1e-5


def test_images_are_sent_as_base64(image_run, image_data) -> None:
    model = tc.load(image_run.bundle_dir)
    paths = list(image_data["scan"].head(4))
    encoded = [base64.b64encode(Path(p).read_bytes()).decode() for p in paths]
    with TestClient(create_app(model)) as images:
        got = images.post("/predict", json=[{"scan": e} for e in encoded[:3]] + [{"scan": "data:image/png;base64," + encoded[3]}])
        assert got.status_code == 200, got.text
        probabilities = np.array([[p["probabilities"][str(k)] for k in range(10)] for p in got.json()["predictions"]])
        assert np.max(np.abs(probabilities - model.predict_proba(pd.DataFrame({"scan": paths})))) < 1e-6
        as_path = images.post("/predict", json={"scan": paths[0]})
        assert as_path.status_code == 422 and "not valid base64" in as_path.json()["detail"][0]["msg"]
        not_image = images.post("/predict", json={"scan": base64.b64encode(b"plain text").decode()})
        assert not_image.status_code == 422 and "not an image file" in not_image.json()["detail"][0]["msg"]
        buffer = io.BytesIO()
        from PIL import Image

        Image.new("L", (6000, 5000)).save(buffer, format="PNG")
        huge = images.post("/predict", json={"scan": base64.b64encode(buffer.getvalue()).decode()})
        assert huge.status_code == 422 and "6000x5000 pixels is larger than" in huge.json()["detail"][0]["msg"]


# --- commands ---------------------------------------------------------------------------------------
def _cli():
    from traincraft.cli import _app
    from traincraft.cli._serve_commands import register

    if not any(c.name == "export" for c in _app.app.registered_commands):
        register(_app.app)
    return _app.main


def _run(args: list[str], capsys) -> tuple[int, str, str]:
    try:
        _cli()([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_export_command_prints_one_json_object(mixed_run, tmp_path, capsys) -> None:
    pytest.importorskip("onnxruntime")
    code, out, _ = _run(["export", mixed_run.bundle_dir, "--format", "onnx", "-o", tmp_path / "out", "--json"], capsys)
    assert code == 0
    result = json.loads(out)
    assert result["file"] == str(tmp_path / "out" / "model.onnx") and result["parity_max_abs_logit_difference"] < 1e-4
    code, out, err = _run(["export", mixed_run.bundle_dir, "--format", "tflite"], capsys)
    assert code == 2 and out == ""
    assert "Unknown export format 'tflite'; traincraft exports: onnx." in err and "Traceback" not in err


def test_export_merge_hands_over_to_the_finetune_command(mixed_run, tmp_path, capsys, monkeypatch) -> None:
    from traincraft.cli import _finetune_commands

    calls = []
    monkeypatch.setattr(_finetune_commands, "export_merged", lambda *a, **k: calls.append((a, k)))
    code, _, _ = _run(["export", mixed_run.bundle_dir, "--merge", "-o", tmp_path / "merged", "--overwrite"], capsys)
    assert code == 0 and calls == [((mixed_run.bundle_dir, tmp_path / "merged"), {"overwrite": True, "as_json": False})]
    code, _, err = _run(["export", mixed_run.bundle_dir, "--merge", "--format", "onnx"], capsys)
    assert code == 2 and "--merge writes a traincraft bundle, not a --format" in err


def test_serve_command_refuses_a_missing_bundle(tmp_path, capsys) -> None:
    code, out, err = _run(["serve", tmp_path / "nothing", "--json"], capsys)
    assert code == 2 and out == ""
    assert "does not exist" in err and "Traceback" not in err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_serve_as_a_real_process_and_shut_down_gracefully(mixed_run, mixed_data) -> None:
    port = _free_port()
    code = (
        "import sys; from traincraft.cli import _app; from traincraft.cli._serve_commands import register\n"
        "register(_app.app) if not any(c.name == 'serve' for c in _app.app.registered_commands) else None\n"
        "_app.main(sys.argv[1:])"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    process = subprocess.Popen(
        [sys.executable, "-c", code, "serve", str(mixed_run.bundle_dir), "--port", str(port), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
    )
    try:
        started = json.loads(process.stdout.readline())
        assert started["url"] == f"http://127.0.0.1:{port}" and started["workers"] == 1
        record = records_of(mixed_data.drop(columns=["label"]).head(1))[0]
        watchdog = threading.Timer(120, process.kill)  # a server that never starts fails the test, not hangs it
        watchdog.start()
        try:
            for line in iter(process.stderr.readline, ""):
                if "Application startup complete" in line:
                    break
            else:
                pytest.fail("the server exited before it started")
        finally:
            watchdog.cancel()
        with httpx.Client(base_url=started["url"], timeout=10) as http:
            assert http.get("/health").json()["status"] == "ok"
            assert http.post("/predict", json=record).status_code == 200
        process.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status says what stopped it
        assert process.wait(timeout=60) in (0, -signal.SIGTERM)
        assert process.stdout.read() == ""  # exactly one JSON object on stdout
        rest = process.stderr.read()
        assert "server stopped: 1 records predicted" in rest and "Application shutdown complete" in rest
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
