"""The bundle: loads without unpickling, validates its input, and refuses a corrupt or foreign one."""

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import traincraft as tc
from traincraft.errors import BundleError, SchemaError


def test_bundle_loads_and_predicts_without_unpickling(digits_run, digits_frame, monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("something tried to unpickle while loading a bundle")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    monkeypatch.setattr(torch, "load", refuse)
    model = tc.load(digits_run.bundle_dir)
    out = model.predict(digits_frame.head(20))
    assert list(out.columns[:2]) == ["prediction", "proba_0"]
    assert np.allclose(out[[f"proba_{i}" for i in range(10)]].sum(axis=1), 1.0, atol=1e-5)
    files = sorted(p.name for p in Path(digits_run.bundle_dir).iterdir())
    assert files == ["bundle.json", "model.safetensors"]


def test_bundle_json_describes_the_model(digits_run) -> None:
    meta = json.loads((Path(digits_run.bundle_dir) / "bundle.json").read_text())
    assert meta["task"] == "multiclass" and meta["label"] == "digit"
    assert meta["data"]["fingerprint"].startswith("sha256:")
    assert {"traincraft", "torch", "numpy", "pandas", "python"} <= set(meta["versions"])
    assert meta["recipe"]["train"]["epochs"] == 3
    assert set(meta["metrics"]) == {"validation", "test"}


def test_predict_accepts_dicts_and_ignores_extra_columns(digits_run, digits_frame) -> None:
    model = tc.load(digits_run.bundle_dir)
    row = digits_frame.drop(columns=["digit"]).iloc[0].to_dict()
    one = model.predict({**row, "unrelated": "x"})
    many = model.predict([row, row])
    assert len(one) == 1 and len(many) == 2
    assert one["prediction"].iloc[0] == many["prediction"].iloc[0]
    assert model.predict_proba(digits_frame.head(3)).shape == (3, 10)


def test_missing_columns_are_named(digits_run, digits_frame) -> None:
    model = tc.load(digits_run.bundle_dir)
    with pytest.raises(SchemaError, match=r"lacks 2 columns the model needs: pixel_3, pixel_9"):
        model.predict(digits_frame.drop(columns=["pixel_3", "pixel_9"]))


def test_wrong_type_names_row_and_column(digits_run, digits_frame) -> None:
    model = tc.load(digits_run.bundle_dir)
    bad = digits_frame.head(5).astype({"pixel_10": object})
    bad.loc[3, "pixel_10"] = "dark"
    with pytest.raises(SchemaError, match=r"(?s)pixel_10.*row 3|row 3.*pixel_10"):
        model.predict(bad)


def _copy(bundle: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "bundle"
    shutil.copytree(bundle, dest)
    return dest


def test_corrupt_or_foreign_bundles_are_refused(digits_run, tmp_path) -> None:
    with pytest.raises(BundleError, match="does not exist"):
        tc.load(tmp_path / "nowhere")
    b = _copy(Path(digits_run.bundle_dir), tmp_path)
    weights = b / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-8:] = b"\x00" * 8
    weights.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="does not match the checksum"):
        tc.load(b)
    meta = json.loads((b / "bundle.json").read_text())
    meta["format_version"] = 99
    (b / "bundle.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match="format version 99"):
        tc.load(b)
    (b / "bundle.json").write_text("{not json")
    with pytest.raises(BundleError, match="not valid JSON"):
        tc.load(b)
    (b / "bundle.json").unlink()
    with pytest.raises(BundleError, match=r"incomplete: bundle.json missing"):
        tc.load(b)


def test_run_directory_is_accepted_for_the_bundle(digits_run) -> None:
    assert tc.load(digits_run.run_dir).path == Path(digits_run.bundle_dir)
