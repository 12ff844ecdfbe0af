"""Serving a fine-tuned pretrained model: ``tc.load().predict``, the HTTP server and the ONNX export,
for head-only and LoRA bundles (the tiny BERT; MiniLM's numbers are in benchmarks/RESULTS.md)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from finetune_helpers import tiny_recipe

import traincraft as tc

LONG = "free cash prize call now txt win " * 6  # longer than every other text here: trims and sorts differ per chunk


@pytest.fixture(scope="module")
def bundles(tmp_path_factory, tiny_bert, spam_frame):
    root = tmp_path_factory.mktemp("served")
    made = {}
    for tune in ("head", "lora"):
        recipe = tiny_recipe(tiny_bert, tune)
        made[tune] = tc.train(spam_frame, label="label", recipe=recipe, name=tune, runs_dir=root).bundle_dir
    return made


def _rows(spam_frame: pd.DataFrame, n: int) -> pd.DataFrame:
    """``n`` messages of mixed lengths (one very long, one empty), without the label."""
    rows = spam_frame.drop(columns=["label"]).head(n).copy()
    rows.iloc[3, rows.columns.get_loc("text")] = LONG
    rows.iloc[5, rows.columns.get_loc("text")] = ""
    return rows.reset_index(drop=True)


@pytest.mark.parametrize("tune", ["head", "lora"])
def test_the_server_answers_as_the_library_does(bundles, spam_frame, tune) -> None:
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from traincraft.serving.server import create_app

    model = tc.load(bundles[tune])
    rows = _rows(spam_frame, 12)
    expected = model.predict(rows)
    with TestClient(create_app(model)) as client:
        many = client.post("/predict", json=json.loads(rows.to_json(orient="records")))
        one = client.post("/predict", json={"text": LONG})
        bad = client.post("/predict", json={"txet": "hello"})
    assert many.status_code == 200, many.text
    got = many.json()["predictions"]
    assert [p["prediction"] for p in got] == expected["prediction"].tolist()
    proba = np.array([[p["probabilities"]["ham"], p["probabilities"]["spam"]] for p in got])
    np.testing.assert_allclose(proba, expected[["proba_ham", "proba_spam"]].to_numpy(), atol=1e-6)
    assert one.status_code == 200 and one.json()["prediction"] == expected["prediction"][3]
    assert bad.status_code == 422 and "text" in bad.text


@pytest.mark.slow  # torch's ONNX exporter takes 30-60 s per network on two busy cores
@pytest.mark.parametrize("tune", ["head", "lora"])
def test_onnx_export_of_a_pretrained_bundle_matches_torch(bundles, spam_frame, tmp_path, tune) -> None:
    pytest.importorskip("onnxruntime")
    from traincraft.models.pretrained import INFERENCE_CHUNK
    from traincraft.serving.onnx_export import export_onnx

    out = export_onnx(bundles[tune], tmp_path / "onnx")
    described = json.loads((out / "onnx.json").read_text())
    assert described["inputs"] == ["input_ids:text", "attention_mask:text"]
    assert described["parity_max_abs_logit_difference"] <= 1e-5
    rows = _rows(spam_frame, INFERENCE_CHUNK + 20)  # two chunks of different widths
    torch_model, onnx_model = tc.load(bundles[tune]), tc.load(out, runtime="onnx")
    expected, got = torch_model.predict(rows), onnx_model.predict(rows)
    assert got["prediction"].tolist() == expected["prediction"].tolist()
    difference = np.abs(got[["proba_ham", "proba_spam"]].to_numpy() - expected[["proba_ham", "proba_spam"]].to_numpy()).max()
    assert difference <= 1e-5, difference
    x = torch_model.encoder.transform(rows.head(8))
    with torch.no_grad():  # the exported graph's padded pass is the network's forward
        torch.testing.assert_close(torch_model.model.forward_padded(x), torch_model.model(x), rtol=1e-5, atol=1e-6)
