"""The model card: report.html is self-contained, card.json holds the same content."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from traincraft.errors import RecipeError
from traincraft.report import CARD_FILE, REPORT_FILE, build_card, build_report

SECTIONS = ["intended-use", "data", "splits", "training", "learning-curves", "metrics", "calibration",
            "confusion", "fairness", "slices", "data-curve", "limitations"]


def test_training_writes_the_report_and_card(digits_run) -> None:
    root = digits_run.run_dir
    html = (root / REPORT_FILE).read_text(encoding="utf-8")
    card = json.loads((root / CARD_FILE).read_text(encoding="utf-8"))
    for section in SECTIONS:
        assert f'id="{section}"' in html, section
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    external = re.findall(r'(?:src|href)\s*=\s*"(?!data:|#)([^"]*)"', html)
    assert external == []  # every image inline, every link an anchor
    assert "<script" not in html and "url(" not in html
    assert len(re.findall(r'src="data:image/png;base64,', html)) >= 3  # learning curves, reliability, confusion
    assert card["model"]["task"] == "multiclass" and card["splits"]["sizes"] == digits_run.split_sizes
    accuracy = next(r for r in card["headline"] if r["metric"] == "accuracy")
    assert accuracy["value"] == pytest.approx(digits_run.metrics["test"]["accuracy"])
    assert accuracy["low"] <= accuracy["value"] <= accuracy["high"]
    assert f"{accuracy['value']:.4f}" in html
    assert card["learning_curves"]["verdict"] in ("fitting_well", "underfitting", "overfitting", "undetermined")
    assert card["learning_curves"]["summary"] in html


def test_report_regenerates_from_the_run_directory(digits_run, tmp_path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(digits_run.run_dir, copy)
    (copy / REPORT_FILE).unlink()
    (copy / "curve.json").write_text(json.dumps({
        "metric": "accuracy", "points": [{"fraction": f, "train_rows": r, "metric": m} for f, r, m in
                                         [(0.1, 100, 0.8), (0.2, 200, 0.88), (0.4, 400, 0.92), (0.7, 700, 0.94), (1.0, 1000, 0.95)]],
        "fit": None,
    }))
    paths = build_report(copy)
    assert paths["html"].exists() and paths["card"].exists()
    assert "Not computed for this run" not in paths["html"].read_text()
    assert build_card(copy)["data_curve"]["points"][0]["train_rows"] == 100


def test_report_errors_name_the_folder(tmp_path) -> None:
    with pytest.raises(RecipeError, match="does not exist; pass the runs/<name> folder"):
        build_report(tmp_path / "nope")
    with pytest.raises(RecipeError, match="is not a traincraft run directory"):
        build_report(tmp_path)
