"""``predict_file`` streams: chunk by chunk in bounded memory, every format, the id kept, atomic output."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import traincraft as tc
from traincraft.api import predict as predict_module
from traincraft.errors import DataError, SchemaError


@pytest.fixture(scope="module")
def model(digits_run) -> tc.Predictor:
    return tc.load(digits_run.bundle_dir)


@pytest.fixture()
def digits_with_ids(digits_frame) -> pd.DataFrame:
    frame = digits_frame.drop(columns=["digit"]).head(230).copy()
    frame.insert(0, "scan_id", [f"s{i:04d}" for i in range(len(frame))])
    return frame


def _write(frame: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    elif path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in frame.to_dict(orient="records")))
    else:
        frame.to_csv(path, index=False)
    return path


def _read(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    if path.suffix == ".jsonl":
        return pd.read_json(path, lines=True)
    return pd.read_csv(path)


@pytest.mark.parametrize(("source", "target"), [(".csv", ".csv"), (".parquet", ".parquet"), (".jsonl", ".jsonl"), (".csv", ".parquet")])
def test_streamed_predictions_equal_in_memory_ones(model, digits_with_ids, tmp_path, monkeypatch, source, target) -> None:
    data = _write(digits_with_ids, tmp_path / f"scans{source}")
    sizes: list[int] = []
    predict = tc.Predictor.predict

    def spy(self, frame, **kwargs):
        sizes.append(len(frame))
        return predict(self, frame, **kwargs)

    monkeypatch.setattr(tc.Predictor, "predict", spy)
    progress: list[int] = []
    result = tc.predict_file(model, data, tmp_path / f"out{target}", chunksize=50, on_chunk=progress.append, id_column="scan_id")
    assert result["rows"] == 230
    assert sizes == [50, 50, 50, 50, 30]  # never more than a chunk in memory
    assert progress == [50, 100, 150, 200, 230]
    out = _read(tmp_path / f"out{target}")
    expected = predict(model, digits_with_ids)
    assert list(out.columns[:2]) == ["scan_id", "prediction"]
    assert list(out["scan_id"]) == list(digits_with_ids["scan_id"])
    assert (out["prediction"].to_numpy() == expected["prediction"].to_numpy()).all()
    probabilities = [f"proba_{i}" for i in range(10)]
    assert np.max(np.abs(out[probabilities].to_numpy() - expected[probabilities].to_numpy())) < 1e-6


def test_the_reader_is_streamed_not_loaded_whole(model, digits_with_ids, tmp_path, monkeypatch) -> None:
    data = _write(digits_with_ids, tmp_path / "scans.csv")
    calls: list[dict] = []
    real = predict_module.read_chunks

    def spy(path, **options):
        calls.append(options)
        return real(path, **options)

    monkeypatch.setattr(predict_module, "read_chunks", spy)
    tc.predict_file(model, data, tmp_path / "out.csv", chunksize=64)
    assert len(calls) == 1 and calls[0]["chunksize"] == 64


def test_a_bad_row_names_its_row_and_leaves_no_output(model, digits_with_ids, tmp_path) -> None:
    frame = digits_with_ids.astype({"pixel_5": object})
    frame.loc[173, "pixel_5"] = "smudge"
    data = _write(frame, tmp_path / "scans.csv")
    with pytest.raises(SchemaError, match=r"Column 'pixel_5' should hold numbers, but row 173 holds 'smudge'"):
        tc.predict_file(model, data, tmp_path / "out.csv", chunksize=50)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scans.csv"]  # no partial file, no temporary left


def test_outputs_are_never_overwritten_by_accident(model, digits_with_ids, tmp_path) -> None:
    data = _write(digits_with_ids, tmp_path / "scans.csv")
    with pytest.raises(DataError, match="is the input file"):
        tc.predict_file(model, data, data, overwrite=True)
    out = tmp_path / "out.csv"
    out.write_text("keep me")
    with pytest.raises(DataError, match="already exists; choose another file name or pass --overwrite"):
        tc.predict_file(model, data, out)
    assert out.read_text() == "keep me"
    with pytest.raises(DataError, match="The id column 'scan' is not in scans.csv.*Did you mean 'scan_id'"):
        tc.predict_file(model, data, tmp_path / "ids.csv", id_column="scan")
    assert not (tmp_path / "ids.csv").exists()
    with pytest.raises(DataError, match="use a .csv, .tsv, .parquet or .jsonl file name"):
        tc.predict_file(model, data, tmp_path / "out.xlsx")
    assert tc.predict_file(model, data, out, overwrite=True)["rows"] == 230
