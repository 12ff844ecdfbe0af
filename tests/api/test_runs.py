"""``runs compare`` reads evaluation.json (the supervised test evaluation) only for supervised runs."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from traincraft.api.runs import compare_runs, list_runs


def _run_dir(root: Path, name: str, task: str, metric: float, evaluation: dict | None) -> Path:
    run = root / name
    run.mkdir(parents=True)
    (run / "recipe.yaml").write_text(yaml.safe_dump({"task": task, "seed": 0 if name == "a" else 1}))
    (run / "run.json").write_text(json.dumps({"name": name, "status": "finished", "task": task, "metrics": {"score": metric}}))
    if evaluation is not None:
        (run / "evaluation.json").write_text(json.dumps(evaluation))
    return run


def _intervals(low: float, high: float) -> dict:
    return {"test": {"intervals": {"score": {"low": low, "high": high}}}}


def test_compare_uses_the_intervals_of_supervised_runs(tmp_path):
    a = _run_dir(tmp_path, "a", "binary", 0.8, _intervals(0.75, 0.85))
    b = _run_dir(tmp_path, "b", "binary", 0.95, _intervals(0.9, 0.99))
    row = compare_runs(a, b)["metrics"][0]
    assert row["metric"] == "score" and row["intervals_overlap"] is False


def test_compare_ignores_an_evaluation_json_in_an_rl_run(tmp_path):
    """RL writes episodes.json; an evaluation.json there (an older traincraft's) is not a supervised evaluation."""
    a = _run_dir(tmp_path, "a", "rl", 100.0, _intervals(90.0, 110.0))
    b = _run_dir(tmp_path, "b", "rl", 300.0, _intervals(290.0, 310.0))
    row = compare_runs(a, b)["metrics"][0]
    assert row["change"] == 200.0 and "intervals_overlap" not in row
    assert {r["task"] for r in list_runs(tmp_path)} == {"rl"}
