"""``traincraft runs``'s table: each task shows its own headline metrics."""

import json
from pathlib import Path

import typer
import yaml
from typer.testing import CliRunner

from traincraft.cli._eval_commands import _headline, register


def test_headline_picks_each_tasks_metrics_and_falls_back_to_the_first_numbers() -> None:
    assert _headline("cluster", {"inertia": 1.0, "k": 9, "silhouette": 0.19, "adjusted_rand": 0.59}) == [
        ("k", 9), ("silhouette", 0.19), ("adjusted_rand", 0.59)]
    assert _headline("binary", {"log_loss": 0.1, "accuracy": 0.99}) == [("accuracy", 0.99)]
    assert _headline("something_new", {"name": "x", "a": 1, "b": 2.0, "c": 3, "d": 4}) == [("a", 1), ("b", 2.0), ("c", 3)]
    assert _headline(None, {}) == []


def test_runs_table_shows_runs_of_different_tasks_side_by_side(tmp_path: Path) -> None:
    for name, task, metrics in (("clusters", "cluster", {"k": 9, "silhouette": 0.1891}), ("ppo", "rl", {"eval_return_mean": 500.0, "env_steps": 99840})):
        run = tmp_path / name
        run.mkdir()
        (run / "recipe.yaml").write_text(yaml.safe_dump({"name": name, "task": task}))
        (run / "run.json").write_text(json.dumps({"status": "finished", "task": task, "metrics": metrics}))
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """test app"""

    register(app)
    r = CliRunner().invoke(app, ["runs", "--runs-dir", str(tmp_path)], env={"COLUMNS": "120"})
    assert r.exit_code == 0, r.output
    assert "k=9" in r.stdout and "silhouette=0.1891" in r.stdout
    assert "eval_return_mean=500.0000" in r.stdout and "env_steps=99840" in r.stdout
