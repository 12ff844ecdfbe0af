"""Exact resume: a run killed (SIGKILL) or interrupted (Ctrl-C) and resumed equals a straight run on CPU."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from resume_child import SEED, child_agent
from rl_helpers import ppo_config, same_tensors, without_perf
from safetensors.torch import load_file

from traincraft.errors import CheckpointError, TrainingInterrupted
from traincraft.rl import PPO
from traincraft.training import Callback, load_checkpoint, read_metrics

HERE = Path(__file__).resolve().parent
POLL_TIMEOUT_S = 300.0


def _child(run_dir: Path, algorithm: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(HERE / "resume_child.py"), str(run_dir), "--algorithm", algorithm, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONHASHSEED="0"),
    )


def _checkpoint_iteration(run_dir: Path) -> int:
    try:
        return int(json.loads((run_dir / "checkpoints" / "last" / "state.json").read_text())["epoch"])
    except (OSError, ValueError, KeyError):
        return 0


def _assert_same_run(straight: Path, resumed: Path) -> None:
    for name in ("model.safetensors", "optimizer.safetensors", "rng.safetensors"):
        a = load_file(straight / "checkpoints" / "last" / name)
        b = load_file(resumed / "checkpoints" / "last" / name)
        assert same_tensors(a, b), f"{name} differs"
    a_state = load_checkpoint(straight / "checkpoints" / "last")
    b_state = load_checkpoint(resumed / "checkpoints" / "last")
    assert a_state.extra["envs"] == b_state.extra["envs"]
    assert a_state.step == b_state.step
    straight_log = without_perf(read_metrics(straight / "metrics.jsonl"))
    assert straight_log and without_perf(read_metrics(resumed / "metrics.jsonl")) == straight_log


@pytest.mark.parametrize("algorithm", ["ppo", pytest.param("dqn", marks=pytest.mark.slow)])
def test_sigkill_between_checkpoints_then_resume_equals_straight(tmp_path, algorithm):
    dirs = {name: tmp_path / name for name in ("straight", "killed")}
    procs = {"straight": _child(dirs["straight"], algorithm), "killed": _child(dirs["killed"], algorithm, "--delay-ms", "300")}
    try:
        deadline = time.monotonic() + POLL_TIMEOUT_S
        while _checkpoint_iteration(dirs["killed"]) < 2:
            if procs["killed"].poll() is not None:
                raise AssertionError(f"the child exited before its second checkpoint: {procs['killed'].stderr.read()}")
            assert time.monotonic() < deadline, "timed out waiting for the killed run's second checkpoint"
            time.sleep(0.01)  # polling interval, not synchronisation: the checkpoint file decides
        procs["killed"].send_signal(signal.SIGKILL)
        codes = {name: proc.wait(timeout=POLL_TIMEOUT_S) for name, proc in procs.items()}
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
    assert codes["straight"] == 0, procs["straight"].stderr.read()
    assert codes["killed"] == -signal.SIGKILL
    killed_at = load_checkpoint(dirs["killed"] / "checkpoints" / "last")
    total = load_checkpoint(dirs["straight"] / "checkpoints" / "last").epoch
    assert 2 <= killed_at.epoch < total
    result = child_agent(algorithm, dirs["killed"]).learn(resume=True)  # in this process, from the checkpoint only
    assert result.resumed_from_iteration == killed_at.epoch and result.iterations == total
    _assert_same_run(dirs["straight"], dirs["killed"])


class SigintAt(Callback):
    """Deliver a real SIGINT (Ctrl-C) in the middle of iteration ``at``'s update."""

    def __init__(self, at_step: int) -> None:
        self.at_step = at_step

    def on_batch_end(self, trainer, step, loss):
        if step == self.at_step:
            signal.raise_signal(signal.SIGINT)


def test_ctrl_c_saves_the_iteration_then_resume_equals_straight(tmp_path):
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    PPO(ppo_config(), seed=SEED, run_dir=straight).learn()
    with pytest.raises(TrainingInterrupted, match="Resume with learn") as info:
        PPO(ppo_config(), seed=SEED, run_dir=stopped, callbacks=[SigintAt(6)]).learn()  # 4 updates per iteration
    assert info.value.checkpoint_dir == str(stopped / "checkpoints" / "last")
    assert load_checkpoint(stopped / "checkpoints" / "last").epoch == 2  # iteration 2 finished, then saved
    PPO(ppo_config(), seed=SEED, run_dir=stopped).learn(resume=True)
    _assert_same_run(straight, stopped)


class StopAfter(Callback):
    def __init__(self, iteration: int) -> None:
        self.iteration = iteration

    def on_epoch_end(self, trainer, epoch, logs):
        if epoch == self.iteration:
            trainer.stop_training = True


def test_dqn_stopped_and_resumed_equals_straight_including_the_replay_buffer(tmp_path):
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    child_agent("dqn", straight).learn()
    child_agent("dqn", stopped, callbacks=[StopAfter(4)]).learn()
    assert load_checkpoint(stopped / "checkpoints" / "last").epoch == 4
    child_agent("dqn", stopped).learn(resume=True)
    _assert_same_run(straight, stopped)
    replay = load_file(stopped / "checkpoints" / "last" / "model.safetensors")
    assert {"replay.obs", "replay.cursor", "target.net.0.weight"} <= set(replay)


def test_resume_with_other_settings_is_refused(tmp_path):
    PPO(ppo_config(total_steps=128), seed=0, run_dir=tmp_path).learn()
    with pytest.raises(CheckpointError, match="rl.lr"):
        PPO(ppo_config(total_steps=256, lr=1e-2), seed=0, run_dir=tmp_path).learn(resume=True)
    with pytest.raises(CheckpointError, match=r"different settings \(seed\)"):
        PPO(ppo_config(total_steps=256), seed=1, run_dir=tmp_path).learn(resume=True)


def test_resume_may_extend_total_steps(tmp_path):
    PPO(ppo_config(total_steps=128), seed=0, run_dir=tmp_path).learn()
    result = PPO(ppo_config(total_steps=256), seed=0, run_dir=tmp_path).learn(resume=True)
    assert result.resumed_from_iteration == 2 and result.iterations == 4
    assert [r["epoch"] for r in read_metrics(tmp_path / "metrics.jsonl")] == [1, 2, 3, 4]


def test_resume_without_a_checkpoint_names_the_path(tmp_path):
    with pytest.raises(CheckpointError, match="No checkpoint at"):
        PPO(ppo_config(), seed=0, run_dir=tmp_path).learn(resume=True)
