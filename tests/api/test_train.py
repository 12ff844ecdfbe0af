"""End to end on real data: the numbers the foundation issue promises."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import traincraft as tc

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_run_directory_spine(digits_run) -> None:
    root = Path(digits_run.run_dir)
    for rel in ["recipe.yaml", "data/splits.json", "data/manifest.json", "metrics.jsonl", "bundle/bundle.json", "bundle/model.safetensors", "checkpoints/last", "run.json"]:
        assert (root / rel).exists(), rel
    resolved = yaml.safe_load((root / "recipe.yaml").read_text())
    assert resolved["train"]["epochs"] == 3 and resolved["train"]["optimizer"] == "adamw"  # defaults filled in
    splits = json.loads((root / "data/splits.json").read_text())
    ids = [set(splits[k]) for k in ("train", "validation", "test")]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    assert sum(len(s) for s in ids) == 1797
    lines = [json.loads(l) for l in (root / "metrics.jsonl").read_text().splitlines()]
    assert len(lines) == 3 and {"train/loss", "val/loss", "val/accuracy"} <= set(lines[0])


@pytest.mark.slow
def test_digits_default_recipe_reaches_097(digits_frame, tmp_path) -> None:
    run = tc.train(digits_frame, label="digit", runs_dir=tmp_path)
    assert run.task == "multiclass"
    assert run.metrics["test"]["accuracy"] >= 0.97, run.metrics


@pytest.mark.slow
def test_spam_default_recipe(tmp_path, spam_file) -> None:
    run = tc.train(EXAMPLES / "spam" / "recipe.yaml", runs_dir=tmp_path)
    m = run.metrics["test"]
    assert run.task == "binary" and run.split_sizes["test"] >= 0.19 * 4862
    assert m["accuracy"] >= 0.985 and m["positive_f1"] >= 0.95, m


@pytest.mark.slow
def test_breast_cancer_roc_auc(tmp_path) -> None:
    run = tc.train(EXAMPLES / "tabular" / "recipe.yaml", runs_dir=tmp_path)
    assert run.task == "binary"
    assert run.metrics["test"]["roc_auc"] >= 0.98, run.metrics


def test_sources_from_installed_packages(tmp_path) -> None:
    from traincraft.api._inputs import read_source
    from traincraft.recipe import recipe_from_dict

    frame = read_source(recipe_from_dict({"data": {"source": "sklearn:wine"}}))
    assert frame.shape == (178, 14) and set(frame["target"]) == {"class_0", "class_1", "class_2"}
    with pytest.raises(tc.RecipeError, match="Did you mean 'digits'"):
        read_source(recipe_from_dict({"data": {"source": "sklearn:digts"}}))
    with pytest.raises(tc.RecipeError, match="not installed"):
        read_source(recipe_from_dict({"data": {"source": "package:no_such_pkg_xyz/a.csv"}}))


def test_same_seed_same_metrics(digits_frame, tmp_path) -> None:
    cfg = {"train": {"epochs": 2}, "model": {"hidden": [16]}}
    a = tc.train(digits_frame, label="digit", recipe=cfg, runs_dir=tmp_path / "a")
    b = tc.train(digits_frame, label="digit", recipe=cfg, runs_dir=tmp_path / "b")
    assert a.metrics == b.metrics
    assert [h["train/loss"] for h in a.fit.history] == [h["train/loss"] for h in b.fit.history]
    c = tc.train(digits_frame, label="digit", recipe={**cfg, "seed": 1}, runs_dir=tmp_path / "c")
    assert c.metrics != a.metrics


def test_regression_and_mixed_columns(small_table, tmp_path) -> None:
    frame = small_table.copy()
    frame["target"] = frame["x"] * 3 + (frame["colour"] == "red") * 2.5 + np.random.default_rng(0).normal(0, 0.1, len(frame))
    frame = frame.drop(columns=["label"])
    run = tc.train(frame, label="target", recipe={"train": {"epochs": 60}}, runs_dir=tmp_path)
    assert run.task == "regression"
    assert run.metrics["test"]["r2"] > 0.8, run.metrics
    pred = tc.load(run.bundle_dir).predict(frame.head(4))
    assert list(pred.columns) == ["prediction"] and pred["prediction"].dtype == np.float64


def test_unlabelled_rows_are_quarantined_not_lost(digits_frame, tmp_path) -> None:
    frame = digits_frame.astype({"digit": "float64"})
    frame.loc[[5, 17], "digit"] = np.nan
    run = tc.train(frame, label="digit", recipe={"train": {"epochs": 1}, "task": "multiclass"}, runs_dir=tmp_path)
    q = pd.read_parquet(Path(run.run_dir) / "data" / "quarantine.parquet")
    assert sorted(q["_row_id"]) == [5, 17] and set(q["_reason"]) == {"no label"}
    manifest = json.loads((Path(run.run_dir) / "data" / "manifest.json").read_text())
    step = manifest["steps"][0]
    assert step["rows_in"] == step["rows_out"] + step["rows_quarantined"] == 1797


def test_resume_with_a_changed_recipe_is_refused(digits_run, digits_frame) -> None:
    with pytest.raises(tc.RecipeError, match=r"differs from the one run .* in: model.hidden"):
        tc.train(digits_frame, label="digit", recipe={"train": {"epochs": 3}, "model": {"hidden": [64]}}, resume=digits_run.run_dir)
