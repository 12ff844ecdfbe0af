"""`traincraft report`, `runs` and `runs compare` through the CLI (CliRunner), including --strict."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from traincraft.cli._app import app
from traincraft.cli._eval_commands import register
from traincraft.evaluation import EvaluationOptions, evaluate_run
from traincraft.recipe._evaluate import FairnessConfig, FairnessLimits

if not any(getattr(c, "name", None) == "report" for c in app.registered_commands):
    register(app)  # the lead's cli wiring does this once; here the test makes sure it is there

runner = CliRunner()


def _json(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_report_and_runs_commands(digits_run, tmp_path) -> None:
    runs = tmp_path / "runs"
    shutil.copytree(digits_run.run_dir, runs / "a")
    shutil.copytree(digits_run.run_dir, runs / "b")
    recipe = yaml.safe_load((runs / "b" / "recipe.yaml").read_text())
    recipe["model"]["dropout"] = 0.3
    (runs / "b" / "recipe.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False))
    out = _json(runner.invoke(app, ["report", str(runs / "a"), "--json"]))
    assert out["report"].endswith("report.html") and out["failed_checks"] == []
    assert out["verdict"] in ("fitting_well", "underfitting", "overfitting", "undetermined")
    listed = _json(runner.invoke(app, ["runs", "--runs-dir", str(runs), "--json"]))
    assert sorted(r["name"] for r in listed["runs"]) == ["a", "b"]
    assert listed["runs"][0]["metrics"]["accuracy"] == pytest.approx(digits_run.metrics["test"]["accuracy"])
    diff = _json(runner.invoke(app, ["runs", "compare", str(runs / "a"), str(runs / "b"), "--json"]))
    assert diff["recipe_differences"] == [{"key": "model.dropout", "a": 0.1, "b": 0.3}]
    assert all(m["change"] == 0 and m["intervals_overlap"] for m in diff["metrics"] if "intervals_overlap" in m)
    table = runner.invoke(app, ["runs", "compare", str(runs / "a"), str(runs / "b")])
    assert table.exit_code == 0 and "model.dropout" in table.stdout


def test_report_strict_exits_1_on_a_failed_fairness_check(tmp_path) -> None:
    import traincraft as tc

    rng = np.random.default_rng(0)
    n = 600
    group = rng.choice(["a", "b"], size=n)
    x = rng.normal(size=n) + (group == "a")
    frame = pd.DataFrame({"x": x, "noise": rng.normal(size=n), "group": group, "y": np.where(x > 0.5, "yes", "no")})
    run = tc.train(frame, recipe={"data": {"label": "y", "sensitive": ["group"]}, "model": {"hidden": [16]}, "train": {"epochs": 15, "lr": 0.01}},
                   name="strict", runs_dir=tmp_path)
    assert _json(runner.invoke(app, ["report", str(run.run_dir), "--strict", "--json"]))["failed_checks"] == []
    # stricter limits than the recipe had: re-evaluate the saved test predictions and rebuild the report
    preds = pd.read_parquet(run.run_dir / "data" / "test_predictions.parquet")
    rows = frame.loc[preds["_row_id"]]
    proba = preds[["proba_no", "proba_yes"]].to_numpy()
    options = EvaluationOptions(fairness=FairnessConfig(limits=FairnessLimits(dp_difference=0.01)))
    evaluate_run(task="binary", label="y", test=(rows, proba), classes=["no", "yes"], positive=1, raw=False,
                 recipe=run.recipe, options=options).write(run.run_dir)
    result = runner.invoke(app, ["report", str(run.run_dir), "--strict"])
    assert result.exit_code == 1, result.output
    assert "check failed" in result.stdout and "dp_difference" in result.stdout


def test_runs_errors(tmp_path) -> None:
    from traincraft.errors import RecipeError
    from traincraft.api.runs import compare_runs, list_runs

    with pytest.raises(RecipeError, match="Runs folder .* does not exist"):
        list_runs(tmp_path / "none")
    with pytest.raises(RecipeError, match="is not a traincraft run directory"):
        compare_runs(tmp_path, tmp_path)
