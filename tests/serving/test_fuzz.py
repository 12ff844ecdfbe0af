"""Fuzzing the server from its own OpenAPI schema (hypothesis, in-process): no input gets a 5xx,
every 4xx carries a message, and the server's fast encoding equals the bundle's encoder."""

from __future__ import annotations

import json
import math
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

hypothesis = pytest.importorskip("hypothesis")
pytest.importorskip("fastapi")

from fastapi.testclient import TestClient  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import traincraft as tc  # noqa: E402
from traincraft.serving._records import RecordCodec  # noqa: E402
from traincraft.serving.server import create_app  # noqa: E402

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
MAX_BATCH = 5
MAX_BODY = 64 * 1024
FIRST_DAY, LAST_DAY = date(1700, 1, 1), date(2200, 12, 31)  # inside pandas' nanosecond timestamps (1677-2262)


@pytest.fixture(scope="module")
def model(mixed_run) -> tc.Predictor:
    return tc.load(mixed_run.bundle_dir)


@pytest.fixture(scope="module")
def client(model):
    app = create_app(model, max_batch=MAX_BATCH, max_body_bytes=MAX_BODY)
    with TestClient(app, raise_server_exceptions=False) as c:  # a server error shows as a 500, not an exception
        yield c


@pytest.fixture(scope="module")
def openapi(client) -> dict[str, Any]:
    return client.get("/openapi.json").json()


# --- strategies from JSON Schema (the subset the server's OpenAPI document uses) -------------------------
def from_schema(schema: dict[str, Any], components: dict[str, Any]) -> st.SearchStrategy:
    if "$ref" in schema:
        return from_schema(components[schema["$ref"].rsplit("/", 1)[1]], components)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return st.one_of(*(from_schema(s, components) for s in schema[key]))
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kinds = schema.get("type")
    if isinstance(kinds, list):
        return st.one_of(*(from_schema({**schema, "type": k}, components) for k in kinds))
    if kinds == "null":
        return st.none()
    if kinds == "boolean":
        return st.booleans()
    if kinds == "integer":
        return st.integers(min_value=-(2**63), max_value=2**63)
    if kinds == "number":
        return st.one_of(st.integers(min_value=-(10**20), max_value=10**20), st.floats(allow_nan=False, allow_infinity=False))
    if kinds == "string":
        return st.text(max_size=40)
    if kinds == "array":
        items = from_schema(schema["items"], components)
        return st.lists(items, min_size=schema.get("minItems", 0), max_size=min(schema.get("maxItems", 4), 4))
    if kinds == "object":
        properties = schema.get("properties", {})
        required = {k: from_schema(properties[k], components) for k in schema.get("required", [])}
        optional = {k: from_schema(v, components) for k, v in properties.items() if k not in required}
        return st.fixed_dictionaries(required, optional=optional)
    raise AssertionError(f"the server's schema uses something this fuzzer does not know: {schema}")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
wrong_values = st.one_of(
    st.lists(json_values, max_size=3),
    st.dictionaries(st.text(max_size=5), json_values, max_size=3),
    st.integers(min_value=10**309, max_value=10**320),  # too large for a float64
    st.just("not a number or date"),
    st.just({"nested": {"deeper": [1, 2, 3]}}),
)


def assert_answer(response, *, allowed: set[int]) -> None:
    assert response.status_code < 500, response.text
    assert response.status_code in allowed, (response.status_code, response.text)
    body = response.json()
    if response.status_code >= 400:
        assert isinstance(body["message"], str) and body["message"], body
    else:
        predictions = body["predictions"] if "predictions" in body else [body]
        for p in predictions:
            assert p["prediction"] in ("no", "yes")
            assert math.isclose(sum(p["probabilities"].values()), 1.0, abs_tol=1e-6)


# --- the fuzz tests ---------------------------------------------------------------------------------------
def test_valid_bodies_from_the_openapi_schema(client, openapi) -> None:
    components = openapi["components"]["schemas"]

    @FUZZ
    @given(body=from_schema(components["PredictRequest"], components))
    def check(body: Any) -> None:
        # schema-valid bodies may still hold a string that is no date, or no boolean spelling: 422, never 5xx
        assert_answer(client.post("/predict", json=body), allowed={200, 413, 422})

    check()


def test_mutated_records_get_a_4xx_with_a_message(client, openapi, model, mixed_data) -> None:
    components = openapi["components"]["schemas"]
    columns = model.input_columns
    valid = json.loads(mixed_data.drop(columns=["label"]).head(1).to_json(orient="records"))[0]

    @FUZZ
    @given(
        mutation=st.sampled_from(["drop", "wrong", "extra", "replace"]),
        column=st.sampled_from(columns),
        value=wrong_values,
        extra=st.text(min_size=1, max_size=10).filter(lambda k: k not in components["Record"]["properties"]),
        body=json_values,
    )
    def check(mutation: str, column: str, value: Any, extra: str, body: Any) -> None:
        record = dict(valid)
        if mutation == "drop":
            record.pop(column)
        elif mutation == "wrong":
            record[column] = value
        elif mutation == "extra":
            record[extra] = value
        if mutation == "replace":
            response = client.post("/predict", json=body)
            assert_answer(response, allowed={400, 413, 422})
            return
        response = client.post("/predict", json=record)
        if mutation == "wrong" and column == "colour" and not isinstance(value, (list, dict)):
            assert_answer(response, allowed={200, 422})  # any scalar is a category; a huge int is one too
            return
        if mutation == "wrong" and column == "review" and isinstance(value, str):
            assert_answer(response, allowed={200})  # any string is text
            return
        assert_answer(response, allowed={422})
        assert any(column in d["loc"] or extra in d["loc"] for d in response.json()["detail"])

    check()


def test_arbitrary_bytes_never_get_a_5xx(client) -> None:
    @FUZZ
    @given(raw=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
    def check(raw: bytes) -> None:
        assert_answer(client.post("/predict", content=raw, headers={"content-type": "application/json"}), allowed={400, 413, 422})

    check()


def test_oversized_bodies_get_a_413(client) -> None:
    @FUZZ
    @given(size=st.integers(min_value=MAX_BODY + 1, max_value=4 * MAX_BODY))
    def check(size: int) -> None:
        body = b'{"x": "' + b"a" * (size - 9) + b'"}'
        assert len(body) == size
        assert_answer(client.post("/predict", content=body), allowed={413})

    check()


# --- the fast encoding is the encoder's -----------------------------------------------------------------
def plausible_records(model: tc.Predictor) -> st.SearchStrategy:
    """Records a real client sends: numbers, known and unseen categories, boolean spellings, dates, text."""
    encoders = {e.name: e for e in model.encoder.encoders}
    vocabulary = list(encoders["colour"].vocabulary)
    return st.fixed_dictionaries(
        {
            "x": st.none() | st.integers(-1000, 1000) | st.floats(min_value=-1e6, max_value=1e6),
            "colour": st.none() | st.sampled_from(vocabulary) | st.text(max_size=6) | st.integers(0, 3),
            "flag": st.none() | st.booleans() | st.sampled_from([0, 1, "yes", "NO", " t ", "False", "1", "  "]),
            "review": st.none() | st.text(max_size=60) | st.sampled_from(["good great fine", "awful poor bad bad"]),
            "when": st.none() | st.dates(FIRST_DAY, LAST_DAY).map(str) | st.datetimes(datetime(1700, 1, 1), datetime(2200, 1, 1)).map(datetime.isoformat),
        }
    )


def test_fast_encoding_equals_the_bundle_encoder(model) -> None:
    codec = RecordCodec(model)
    assert codec.fallbacks == []

    @FUZZ
    @given(record=plausible_records(model))
    def check(record: dict[str, Any]) -> None:
        rows, _, _ = codec.parse(record, max_records=1)
        got = codec.encode(rows)
        expected = model.encoder.transform(pd.DataFrame([record]))
        assert set(got) == set(expected)
        for key in expected:
            assert got[key].dtype == expected[key].dtype and got[key].shape == expected[key].shape, key
            assert np.allclose(got[key].numpy(), expected[key].numpy(), rtol=0, atol=1e-6), key

    check()


def test_the_quick_check_agrees_with_the_field_by_field_one(model, mixed_data) -> None:
    codec = RecordCodec(model)
    columns = model.input_columns
    valid = json.loads(mixed_data.drop(columns=["label"]).head(1).to_json(orient="records"))[0]

    @FUZZ
    @given(
        record=plausible_records(model) | st.builds(dict, st.just(valid)),
        column=st.sampled_from(columns),
        value=wrong_values | json_values | st.just(None),
        mutate=st.booleans(),
    )
    def check(record: dict[str, Any], column: str, value: Any, mutate: bool) -> None:
        if mutate:
            record = {**record, column: value}
        quick = codec._prepare_quick(record)
        errors: list = []
        full = codec._prepare(record, ("body",), errors)
        if quick is not None:  # it may only pass what the full check passes, with the same values
            assert not errors and full is not None
            assert len(quick) == len(full)
            for a, b in zip(quick, full):
                if isinstance(a, np.ndarray):
                    assert np.array_equal(a, b, equal_nan=True)
                else:
                    assert a == b or (a != a and b != b), (a, b)
        elif mutate is False and not errors:
            raise AssertionError(f"a valid record took the slow path: {record}")

    check()


def test_a_record_predicts_the_same_alone_or_in_a_batch(model) -> None:
    codec = RecordCodec(model)

    @FUZZ
    @given(records=st.lists(plausible_records(model), min_size=2, max_size=6))
    def check(records: list[dict[str, Any]]) -> None:
        rows, _, _ = codec.parse(records, max_records=10)
        with torch.inference_mode():
            together = model.model(codec.encode(rows))  # (N, 2) logits
            alone = torch.cat([model.model(codec.encode([row])) for row in rows])
        assert torch.allclose(together, alone, rtol=1e-4, atol=1e-5)
        library = model.predict_proba(pd.DataFrame([records[0]]))
        assert np.allclose(torch.softmax(alone[:1], dim=1).numpy(), library, atol=1e-6)

    check()


def test_a_fast_path_that_disagrees_falls_back_to_the_encoder(model, mixed_data, caplog) -> None:
    codec = RecordCodec(model)
    numeric = next(c for c in codec.columns if c.kind == "numeric")
    numeric.mean += 1.0  # as if the encoder's formula had changed under the server
    codec.fallbacks = codec._check_fast_paths()
    assert codec.fallbacks == ["x"] and not numeric.fast
    assert "fast numeric encoding differs from the bundle's encoder" in caplog.text
    record = json.loads(mixed_data.drop(columns=["label"]).head(1).to_json(orient="records"))[0]
    rows, _, _ = codec.parse(record, max_records=1)
    assert np.allclose(codec.encode(rows)["dense"].numpy(), model.encoder.transform(pd.DataFrame([record]))["dense"].numpy(), atol=1e-6)


def test_columns_without_a_fast_path_are_encoded_by_the_table_encoder(model, mixed_data) -> None:
    class Mystery:
        """An encoder kind the server does not know (as a future one would be)."""

        kind = "mystery"
        name = "x"

    class Table:
        encoders = [Mystery()]
        columns = ["x"]
        dense_names = ["x"]
        calls: list[pd.DataFrame] = []

        def transform(self, df: pd.DataFrame, *, strict: bool = True) -> dict:
            self.calls.append(df)
            return {"dense": torch.tensor(df[["x"]].to_numpy(dtype="float32"))}

    class Fake:
        encoder = Table()
        id_column = None
        meta = {"schema": {"columns": [{"name": "x", "role": "feature"}]}}

    codec = RecordCodec(Fake())
    assert codec.whole_table and codec.columns[0].kind == "mystery"
    rows, _, _ = codec.parse([{"x": 1.5}, {"x": None}], max_records=2)
    encoded = codec.encode(rows)
    assert list(Table.calls[-1]["x"].isna()) == [False, True] and encoded["dense"].shape == (2, 1)
    with pytest.raises(tc.SchemaError, match=r"body.0.x: expected a string, number, boolean or null, got array"):
        codec.parse([{"x": [1]}], max_records=1)
