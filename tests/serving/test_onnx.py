"""ONNX export: onnxruntime reproduces the torch model on the test split, for tabular, text and image models."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import traincraft as tc
from traincraft.errors import BundleError, MissingDependencyError, RecipeError
from traincraft.serving.onnx_export import OnnxPredictor, _WeightedBagSum, export_onnx

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

PARITY = 1e-5  # the bound on |torch - onnx| for each probability


def _parity(split_rows, run, frame, out_dir: Path) -> tuple[tc.Predictor, OnnxPredictor, object]:
    export_onnx(run.bundle_dir, out_dir)
    torch_model = tc.load(run.bundle_dir)
    onnx_model = tc.load(out_dir, runtime="onnx")
    rows = split_rows(run, frame)
    assert len(rows) >= 10
    expected = torch_model.predict_proba(rows)
    got = onnx_model.predict_proba(rows)
    assert got.shape == expected.shape
    assert np.max(np.abs(got - expected)) <= PARITY
    return torch_model, onnx_model, rows


def test_tabular_parity_on_the_test_split(mixed_run, mixed_data, split_rows, tmp_path) -> None:
    torch_model, onnx_model, rows = _parity(split_rows, mixed_run, mixed_data, tmp_path / "onnx")
    a, b = torch_model.predict(rows), onnx_model.predict(rows)
    assert list(a.columns) == list(b.columns) == ["order_id", "prediction", "proba_no", "proba_yes"]
    assert (a["prediction"] == b["prediction"]).all() and (a["order_id"] == b["order_id"]).all()
    assert onnx_model.model is None  # no torch network: the forward pass is onnxruntime's
    assert sorted(p.name for p in (tmp_path / "onnx").iterdir()) == ["bundle.json", "model.onnx", "onnx.json"]
    description = json.loads((tmp_path / "onnx" / "onnx.json").read_text())
    assert description["inputs"] == ["dense", "categorical", "text:review", "text_w:review"]
    assert description["parity_max_abs_logit_difference"] < 1e-4


def test_text_parity_on_the_test_split(spam_run, spam_data, split_rows, tmp_path) -> None:
    torch_model, onnx_model, rows = _parity(split_rows, spam_run, spam_data, tmp_path / "onnx")
    assert (torch_model.predict(rows)["prediction"] == onnx_model.predict(rows)["prediction"]).all()


def test_text_batches_are_padded_to_their_own_longest_text_as_in_torch(spam_run, spam_data, tmp_path) -> None:
    """The ONNX predictor batches like the torch one: rows by text length, each batch padded to its own longest text."""
    export_onnx(spam_run.bundle_dir, tmp_path / "onnx")
    torch_model, onnx_model = tc.load(spam_run.bundle_dir), tc.load(tmp_path / "onnx", runtime="onnx")
    session, widths = onnx_model.session, []

    class Recording:
        def run(self, names, feeds):
            widths.append(feeds["text:text"].shape)  # (B, L)
            return session.run(names, feeds)

    onnx_model.session = Recording()
    frame = spam_data.drop(columns="label")
    got = onnx_model.predict_proba(frame, batch_size=64)
    assert np.max(np.abs(got - torch_model.predict_proba(frame, batch_size=64))) <= PARITY  # rows back in their places
    table_width = torch_model.encoder.transform(frame)["text:text"].shape[1]  # the longest text in the table
    assert [b for b, _ in widths] == [64] * 9 + [24]
    lengths = [w for _, w in widths]
    assert lengths == sorted(lengths) and lengths[-1] == table_width and lengths[0] < table_width // 2


def test_image_parity_on_the_test_split(image_run, image_data, split_rows, tmp_path) -> None:
    _, onnx_model, rows = _parity(split_rows, image_run, image_data, tmp_path / "onnx")
    assert onnx_model.predict_proba(rows).shape == (len(rows), 10)


def test_weighted_bag_equals_embedding_bag() -> None:
    torch.manual_seed(0)
    bag = torch.nn.EmbeddingBag(50, 6, mode="sum", padding_idx=0)
    with torch.no_grad():
        bag.weight[0] = 3.0  # a non-zero padding row must still be left out, as padding_idx does
    ids = torch.randint(0, 50, (7, 9))
    ids[:, -2:] = 0
    weights = torch.rand(7, 9)
    expected = bag(ids, per_sample_weights=weights)
    assert torch.allclose(_WeightedBagSum(bag)(ids, weights), expected, atol=1e-6)


def test_default_export_goes_into_the_bundle_and_batches_vary(digits_run, digits_frame, tmp_path) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(digits_run.bundle_dir, bundle)
    assert export_onnx(bundle) == bundle
    model = tc.load(bundle, runtime="onnx")
    expected = tc.load(bundle).predict_proba(digits_frame.head(9))
    for batch_size in (1, 4, 9):
        assert np.max(np.abs(model.predict_proba(digits_frame.head(9), batch_size=batch_size) - expected)) <= PARITY
    assert model.predict(digits_frame.iloc[0].to_dict())["prediction"].iloc[0] == tc.load(bundle).predict(digits_frame.head(1))["prediction"].iloc[0]


def test_missing_or_stale_onnx_is_refused(digits_run, tmp_path) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(digits_run.bundle_dir, bundle)
    with pytest.raises(BundleError, match=r"has no ONNX model \(model.onnx, onnx.json missing\)\. Export it first"):
        tc.load(bundle, runtime="onnx")
    with pytest.raises(RecipeError, match="runtime must be one of torch, onnx; got 'tensorflow'"):
        tc.load(bundle, runtime="tensorflow")
    export_onnx(bundle)
    onnx_file = bundle / "model.onnx"
    original = onnx_file.read_bytes()
    onnx_file.write_bytes(original[:-16] + b"\x00" * 16)
    with pytest.raises(BundleError, match="does not match the checksum in onnx.json"):
        tc.load(bundle, runtime="onnx")
    onnx_file.write_bytes(original)
    meta = json.loads((bundle / "bundle.json").read_text())
    meta["weights_sha256"] = "sha256:" + "0" * 64
    (bundle / "bundle.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match="exported from other weights"):
        tc.load(bundle, runtime="onnx")
    with pytest.raises(BundleError, match="is a file"):
        export_onnx(digits_run.bundle_dir, onnx_file)


def test_other_bundles_are_not_overwritten_and_other_networks_refused(digits_run, mixed_run, tmp_path) -> None:
    from traincraft.serving.bundle import read_bundle

    target = tmp_path / "onnx"
    export_onnx(digits_run.bundle_dir, target)
    export_onnx(digits_run.bundle_dir, target)  # the same bundle again: replaced
    with pytest.raises(BundleError, match="already holds another bundle's bundle.json; choose another folder or pass --overwrite"):
        export_onnx(mixed_run.bundle_dir, target)
    export_onnx(mixed_run.bundle_dir, target, overwrite=True)
    assert tc.load(target, runtime="onnx").label == "label"
    contents = read_bundle(digits_run.bundle_dir)
    contents.meta = {**contents.meta, "model": {**contents.meta["model"], "spec": {**contents.meta["model"]["spec"], "kind": "autoencoder"}}}
    with pytest.raises(BundleError, match="ONNX export covers traincraft's tabular network.*and pretrained text and image encoders; .*is a 'autoencoder' network"):
        export_onnx(contents, tmp_path / "other")


def test_missing_onnxruntime_names_the_extra(digits_run, tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime now raises ImportError
    with pytest.raises(MissingDependencyError, match=r"needs the package 'onnxruntime'.*pip install 'traincraft\[onnx\]'"):
        export_onnx(digits_run.bundle_dir, tmp_path / "onnx")
    with pytest.raises(MissingDependencyError, match="Predicting with the ONNX runtime"):
        tc.load(tmp_path, runtime="onnx")
