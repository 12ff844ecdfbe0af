"""`traincraft train` on the cluster, anomaly and cartpole examples: exit 0, a summary, a bundle and report.html."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import yaml

from traincraft.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _run(args: list, capsys) -> tuple[int, str, str]:
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _example(tmp_path: Path, name: str, edit: dict) -> Path:
    """The example's recipe in ``tmp_path`` with ``edit`` merged into its sections (smaller, faster runs)."""
    recipe = yaml.safe_load((EXAMPLES / name).read_text())
    for section, values in edit.items():
        recipe[section] = {**recipe.get(section, {}), **values}
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def test_train_clusters_the_digits_example_and_writes_the_report(tmp_path, capsys):
    code, out, err = _run(["train", EXAMPLES / "clustering" / "recipe.yaml", "--runs-dir", tmp_path], capsys)
    assert code == 0, err
    text = " ".join(out.split())
    assert "k = " in text and "adjusted_rand" in text and "report:" in text
    root = tmp_path / "digits-clusters"
    html = (root / "report.html").read_text(encoding="utf-8")
    assert '<section id="clusters">' in html and (root / "bundle" / "bundle.json").exists()
    code, _, err = _run(["serve", root / "bundle", "--port", "0"], capsys)  # refused before a server starts: no traceback
    text = " ".join(err.split())
    assert code == 2 and "Traceback" not in err, err
    assert "traincraft serve needs the bundle of a supervised model" in text and "task: cluster bundle" in text, err


def test_train_detects_the_planted_outliers_and_writes_the_report(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("plant_outliers", EXAMPLES / "anomaly" / "plant_outliers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(tmp_path / "breast_cancer_planted.csv")
    capsys.readouterr()  # the planting script's own message
    recipe = _example(tmp_path, "anomaly/recipe.yaml", {"train": {"epochs": 30}})
    code, out, err = _run(["train", recipe, "--runs-dir", tmp_path / "runs", "--json"], capsys)
    assert code == 0, err
    result = json.loads(out)
    assert result["task"] == "anomaly" and result["epochs"] == 30 and result["metrics"]["roc_auc"] > 0.8
    html = (Path(result["run_dir"]) / "report.html").read_text(encoding="utf-8")
    assert '<section id="anomalies">' in html and f"{result['top_rows'][0]}</td>" in html


def test_train_runs_the_cartpole_example_and_writes_the_reward_curves(tmp_path, capsys):
    pytest.importorskip("gymnasium")
    recipe = _example(tmp_path, "cartpole/recipe.yaml", {"rl": {"total_steps": 512, "eval_every": 256, "eval_episodes": 2}})
    code, out, err = _run(["train", recipe, "--runs-dir", tmp_path / "runs"], capsys)
    assert code == 0, err
    text = " ".join(out.split())
    assert "PPO on CartPole-v1, 512 steps" in text and "report:" in text
    html = (tmp_path / "runs" / "cartpole-ppo" / "report.html").read_text(encoding="utf-8")
    assert '<img alt="reward curves"' in html
