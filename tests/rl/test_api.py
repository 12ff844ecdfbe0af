"""train_rl, the policy bundle, play and the play command, end to end on CartPole."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from traincraft.api.rl import play, train_rl
from traincraft.cli._rl_commands import register, render_summary
from traincraft.errors import BundleError, RecipeError
from traincraft.recipe import load_recipe
from traincraft.rl.bundle import load_policy
from traincraft.rl.vec_env import VecEnv
from traincraft.training import read_metrics

RECIPE = {
    "task": "rl",
    "seed": 2,
    "rl": {
        "env": "CartPole-v1", "total_steps": 256, "n_envs": 4, "hidden": [16], "lr": 3e-3, "eval_episodes": 3,
        "checkpoint_every": 128, "ppo": {"rollout_steps": 16, "epochs": 2, "minibatch_size": 32},
    },
}


@pytest.fixture(scope="module")
def rl_run(tmp_path_factory):
    return train_rl(RECIPE, name="cart", runs_dir=tmp_path_factory.mktemp("runs"))


def test_train_rl_writes_the_run_directory(rl_run):
    root = rl_run.run_dir
    for name in ("recipe.yaml", "metrics.jsonl", "episodes.json", "run.json", "checkpoints/last/state.json",
                 "bundle/bundle.json", "bundle/model.safetensors"):
        assert (root / name).exists(), name
    assert not (root / "evaluation.json").exists()  # that name is the supervised test evaluation's
    assert load_recipe(root / "recipe.yaml").rl.total_steps == 256
    assert [r["rl/steps"] for r in read_metrics(root / "metrics.jsonl")] == [64, 128, 192, 256]
    episodes = json.loads((root / "episodes.json").read_text())
    assert episodes["format"] == "traincraft-rl-episodes" and episodes["task"] == "rl"
    assert len(episodes["returns"]) == 3 and episodes["eval_return_mean"] == pytest.approx(np.mean(episodes["returns"]))
    summary = json.loads((root / "run.json").read_text())
    assert summary["status"] == "finished" and summary["env"] == "CartPole-v1" and summary["env_steps"] == 256


def test_the_bundle_acts_like_the_trained_policy_and_play_repeats_the_evaluation(rl_run):
    loaded = load_policy(rl_run.bundle_dir)
    assert loaded.env_id == "CartPole-v1" and loaded.meta["policy"]["algorithm"] == "ppo"
    assert loaded.meta["metrics"]["eval_return_mean"] == rl_run.metrics["eval_return_mean"]
    envs = VecEnv("CartPole-v1", 5, seed=0)
    obs = envs.reset()
    actions = loaded.policy.act(obs)
    assert actions.shape == (5,) and set(actions.tolist()) <= {0, 1}
    result = play(rl_run.bundle_dir, episodes=3, seed=2)  # the run's seed: the same episodes as its evaluation
    assert result["returns"] == pytest.approx(rl_run.result.eval_returns)
    assert play(rl_run.run_dir, episodes=3, seed=2)["returns"] == result["returns"]  # the run directory works too


def test_resume_continues_a_run(rl_run, tmp_path):
    import shutil

    copy = tmp_path / "cart"
    shutil.copytree(rl_run.run_dir, copy)
    resumed = train_rl({**RECIPE, "rl": {**RECIPE["rl"], "total_steps": 384}}, resume=copy)
    assert resumed.result.resumed_from_iteration == 4 and resumed.result.env_steps == 384
    assert [r["epoch"] for r in read_metrics(copy / "metrics.jsonl")] == [1, 2, 3, 4, 5, 6]


def test_train_rl_needs_task_rl(tmp_path):
    with pytest.raises(RecipeError, match="task: rl"):
        train_rl({"task": "cluster"}, runs_dir=tmp_path)
    with pytest.raises(RecipeError, match="recipe file, a dict or a Recipe"):
        train_rl(42, runs_dir=tmp_path)  # type: ignore[arg-type]


def test_dqn_through_the_api(tmp_path):
    recipe = {"task": "rl", "rl": {"algorithm": "dqn", "total_steps": 100, "n_envs": 1, "hidden": [8], "eval_episodes": 1,
                                   "dqn": {"learning_starts": 20, "iteration_steps": 50, "buffer_size": 64, "batch_size": 8}}}
    run = train_rl(recipe, runs_dir=tmp_path)
    assert load_policy(run.bundle_dir).meta["policy"]["algorithm"] == "dqn"
    assert play(run.bundle_dir, episodes=1)["episodes"] == 1


def test_bundle_errors_say_what_is_wrong(rl_run, tmp_path):
    with pytest.raises(BundleError, match="does not exist"):
        load_policy(tmp_path / "nope")
    broken = tmp_path / "broken"
    broken.mkdir()
    with pytest.raises(BundleError, match="incomplete"):
        load_policy(broken)
    (broken / "bundle.json").write_text("{not json")
    (broken / "model.safetensors").write_bytes((rl_run.bundle_dir / "model.safetensors").read_bytes())
    with pytest.raises(BundleError, match="not valid JSON"):
        load_policy(broken)
    meta = json.loads((rl_run.bundle_dir / "bundle.json").read_text())
    (broken / "bundle.json").write_text(json.dumps({**meta, "format": "traincraft-bundle"}))
    with pytest.raises(BundleError, match="not a policy"):
        load_policy(broken)
    (broken / "bundle.json").write_text(json.dumps({**meta, "format_version": 99}))
    with pytest.raises(BundleError, match="format version 99"):
        load_policy(broken)
    (broken / "bundle.json").write_text(json.dumps({**meta, "policy": {"algorithm": "ppo"}}))
    with pytest.raises(BundleError, match="lacks space"):
        load_policy(broken)
    (broken / "bundle.json").write_text(json.dumps({**meta, "weights_sha256": "sha256:0"}))
    with pytest.raises(BundleError, match="checksum"):
        load_policy(broken)
    (broken / "bundle.json").write_text(json.dumps({**meta, "weights_sha256": None, "policy": {**meta["policy"], "hidden": [99]}}))
    with pytest.raises(BundleError, match="do not fit the policy"):
        load_policy(broken)


def test_play_needs_an_episode(rl_run):
    with pytest.raises(RecipeError, match="at least 1"):
        play(rl_run.bundle_dir, episodes=0)


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.callback()
    def _root() -> None:
        """A group, so `play` is a subcommand as in traincraft's app."""

    return app


def test_play_command_prints_json_and_text(rl_run):
    runner = CliRunner()
    result = runner.invoke(_app(), ["play", str(rl_run.bundle_dir), "--episodes", "2", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["episodes"] == 2 and len(data["returns"]) == 2 and data["env"] == "CartPole-v1"
    text = runner.invoke(_app(), ["play", str(rl_run.bundle_dir), "--episodes", "2"])
    assert text.exit_code == 0 and "PPO policy on CartPole-v1" in text.stdout


PLAY_MAIN = (
    "import sys\n"
    "from traincraft.cli import app, main\n"
    "from traincraft.cli._rl_commands import register, render_summary\n"
    "if 'play' not in {c.name for c in app.registered_commands}:\n"
    "    register(app)\n"
    "main(sys.argv[1:])\n"
)


def test_play_as_a_real_process(rl_run, tmp_path):
    ok = subprocess.run([sys.executable, "-c", PLAY_MAIN, "play", str(rl_run.bundle_dir), "--episodes", "1", "--json"],
                        capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["episodes"] == 1
    bad = subprocess.run([sys.executable, "-c", PLAY_MAIN, "play", str(tmp_path / "missing")], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "does not exist" in bad.stderr and "Traceback" not in bad.stderr


def test_render_summary_shows_the_evaluation(rl_run, capsys):
    render_summary(rl_run.summary())
    text = capsys.readouterr().out
    assert "PPO on CartPole-v1" in text and "over 3 episodes" in text and "traincraft play" in text
