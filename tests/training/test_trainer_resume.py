"""Invariant 3: N epochs straight == k epochs + kill (or Ctrl-C) + resume to N, bitwise, on CPU."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from training_helpers import TinyNet, accuracy, classification_data, config, make_net, same_weights, split, without_perf

from traincraft.errors import CheckpointError, TrainingInterrupted
from traincraft.recipe import EarlyStoppingConfig
from traincraft.training import Callback, Trainer, load_checkpoint, read_metrics

HERE = Path(__file__).resolve().parent
CHILD = HERE / "trainer_resume_child.py"
EPOCHS = 4
POLL_TIMEOUT_S = 120.0


def _child(run_dir: Path, *extra: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONHASHSEED="0")
    return subprocess.Popen(
        [sys.executable, str(CHILD), str(run_dir), "--epochs", str(EPOCHS), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _wait_for(predicate, proc: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + POLL_TIMEOUT_S
    while not predicate():
        if proc.poll() is not None:
            raise AssertionError(f"the child exited ({proc.returncode}) before {what}: {proc.stderr.read()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)  # polling interval, not synchronisation: the predicate decides


def _checkpoint_epoch(run_dir: Path) -> int:
    state = run_dir / "checkpoints" / "last" / "state.json"
    try:
        return int(json.loads(state.read_text())["epoch"])
    except (OSError, ValueError, KeyError):
        return 0


def _resume_in_process(run_dir: Path) -> Trainer:
    """Resume the child's run here (another process than the one that wrote the checkpoint)."""
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    from trainer_resume_child import ROWS, TRAIN_ROWS, child_config

    x, y = classification_data(ROWS)
    x_train, y_train, x_val, y_val = split(x, y, TRAIN_ROWS)
    trainer = Trainer(
        make_net(seed=123),  # different initial weights: everything must come from the checkpoint
        child_config(EPOCHS),
        task="multiclass",
        seed=7,
        metrics_fn=accuracy,
        run_dir=run_dir,
    )
    result = trainer.fit(x_train, y_train, x_val, y_val, resume=True)
    assert result.resumed_from_epoch is not None
    assert result.epochs_run == EPOCHS
    return trainer


def _assert_same_run(straight: Path, resumed: Path) -> None:
    for name in ("last", "best"):
        a = load_file(straight / "checkpoints" / name / "model.safetensors")
        b = load_file(resumed / "checkpoints" / name / "model.safetensors")
        assert same_weights(a, b), f"checkpoints/{name} weights differ"
    a_opt = load_file(straight / "checkpoints" / "last" / "optimizer.safetensors")
    b_opt = load_file(resumed / "checkpoints" / "last" / "optimizer.safetensors")
    assert same_weights(a_opt, b_opt), "optimizer state differs"
    straight_log = without_perf(read_metrics(straight / "metrics.jsonl"))
    assert len(straight_log) == EPOCHS
    assert without_perf(read_metrics(resumed / "metrics.jsonl")) == straight_log


@pytest.fixture(scope="module")
def children(tmp_path_factory):
    """Start the straight run and the run to SIGKILL at once (their imports overlap on 2 cores)."""
    root = tmp_path_factory.mktemp("resume")
    dirs = {name: root / name for name in ("straight", "killed")}
    procs = {"straight": _child(dirs["straight"]), "killed": _child(dirs["killed"], "--delay-ms", "25")}
    try:
        _wait_for(lambda: _checkpoint_epoch(dirs["killed"]) >= 1, procs["killed"], "the killed run's first checkpoint")
        procs["killed"].send_signal(signal.SIGKILL)
        codes = {name: proc.wait(timeout=POLL_TIMEOUT_S) for name, proc in procs.items()}
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
    errors = {name: proc.stderr.read() for name, proc in procs.items()}
    assert codes["straight"] == 0, errors["straight"]
    assert codes["killed"] == -signal.SIGKILL
    return dirs


def test_sigkill_mid_run_then_resume_gives_identical_weights(children):
    killed_at = load_checkpoint(children["killed"] / "checkpoints" / "last")
    assert 1 <= killed_at.epoch < EPOCHS
    assert len(read_metrics(children["killed"] / "metrics.jsonl")) >= killed_at.epoch
    _resume_in_process(children["killed"])
    _assert_same_run(children["straight"], children["killed"])


class _InterruptAt(Callback):
    """Raise KeyboardInterrupt (what Ctrl-C does without traincraft's handler) after global step ``at``."""

    def __init__(self, at: int) -> None:
        self.at = at

    def on_batch_end(self, trainer, step, loss):
        if step == self.at:
            raise KeyboardInterrupt


class _SignalAt(Callback):
    """Deliver a real SIGINT to this process after global step ``at``."""

    def __init__(self, at: int) -> None:
        self.at = at

    def on_batch_end(self, trainer, step, loss):
        if step == self.at:
            signal.raise_signal(signal.SIGINT)


def _in_process_setup():
    x, y = classification_data(300)
    x_train, y_train, x_val, y_val = split(x, y, 240)  # 240 rows / batch 32 = 8 steps per epoch
    cfg = config(epochs=3, early_stopping=EarlyStoppingConfig(enabled=True, patience=10))
    return cfg, (x_train, y_train, x_val, y_val)


@pytest.mark.parametrize("interrupter", [_InterruptAt, _SignalAt], ids=["KeyboardInterrupt", "SIGINT"])
def test_ctrl_c_saves_mid_epoch_and_resume_is_exact(tmp_path, interrupter):
    cfg, data = _in_process_setup()
    straight = Trainer(make_net(), cfg, task="multiclass", metrics_fn=accuracy, run_dir=tmp_path / "straight")
    straight_result = straight.fit(*data)

    run_dir = tmp_path / "interrupted"
    first = Trainer(
        make_net(), cfg, task="multiclass", metrics_fn=accuracy, run_dir=run_dir, callbacks=[interrupter(11)]
    )
    with pytest.raises(TrainingInterrupted, match="epoch 2, step 3/8") as info:
        first.fit(*data)
    assert info.value.checkpoint_dir == str(run_dir / "checkpoints" / "last")
    saved = load_checkpoint(info.value.checkpoint_dir)
    assert (saved.epoch, saved.step, saved.step_in_epoch) == (1, 11, 3)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler, "the handler is restored"

    second = Trainer(make_net(seed=99), cfg, task="multiclass", metrics_fn=accuracy, run_dir=run_dir)
    result = second.fit(*data, resume=True)
    assert result.resumed_from_epoch == 1
    assert same_weights(second.model, straight.model)
    assert without_perf(result.history) == without_perf(straight_result.history)
    assert without_perf(read_metrics(run_dir / "metrics.jsonl")) == without_perf(
        read_metrics(tmp_path / "straight" / "metrics.jsonl")
    )
    assert result.best_epoch == straight_result.best_epoch


def test_interrupt_without_run_dir_says_nothing_was_saved():
    cfg, data = _in_process_setup()
    trainer = Trainer(make_net(), cfg, task="multiclass", callbacks=[_InterruptAt(2)])
    with pytest.raises(TrainingInterrupted, match="no run directory, so nothing was saved") as info:
        trainer.fit(*data)
    assert info.value.checkpoint_dir is None
    assert info.value.exit_code == 130


def test_interrupt_during_validation_resumes_exactly(tmp_path):
    cfg, data = _in_process_setup()
    straight = Trainer(make_net(), cfg, task="multiclass", metrics_fn=accuracy)
    straight.fit(*data)

    calls = {"n": 0}

    def metrics_interrupting_in_epoch_2(out, y):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return accuracy(out, y)

    run_dir = tmp_path / "run"
    first = Trainer(make_net(), cfg, task="multiclass", metrics_fn=metrics_interrupting_in_epoch_2, run_dir=run_dir)
    with pytest.raises(TrainingInterrupted, match="end of epoch 2"):
        first.fit(*data)
    saved = load_checkpoint(run_dir / "checkpoints" / "last")
    assert (saved.epoch, saved.step_in_epoch) == (1, 8)
    assert len(read_metrics(run_dir / "metrics.jsonl")) == 1

    second = Trainer(make_net(), cfg, task="multiclass", metrics_fn=accuracy, run_dir=run_dir)
    second.fit(*data, resume=True)
    assert same_weights(second.model, straight.model)
    assert [r["epoch"] for r in read_metrics(run_dir / "metrics.jsonl")] == [1, 2, 3]


def test_resume_checks_the_run_matches(tmp_path):
    cfg, (x_train, y_train, x_val, y_val) = _in_process_setup()
    Trainer(make_net(), cfg, task="multiclass", run_dir=tmp_path).fit(x_train, y_train, x_val, y_val)
    other_batch = cfg.model_copy(update={"batch_size": 16})
    with pytest.raises(CheckpointError, match="batch_size=32, but this run has batch_size=16"):
        Trainer(make_net(), other_batch, task="multiclass", run_dir=tmp_path).fit(x_train, y_train, resume=True)
    with pytest.raises(CheckpointError, match="labels_sha256"):
        flipped = torch.flip(y_train, dims=[0])
        Trainer(make_net(), cfg, task="multiclass", run_dir=tmp_path).fit(x_train, flipped, resume=True)
    with pytest.raises(CheckpointError, match="seed=0, but this run has seed=1"):
        Trainer(make_net(), cfg, task="multiclass", seed=1, run_dir=tmp_path).fit(x_train, y_train, resume=True)


def test_resume_needs_a_checkpoint(tmp_path):
    cfg, (x_train, y_train, _, _) = _in_process_setup()
    with pytest.raises(CheckpointError, match="No checkpoint at .*checkpoints/last"):
        Trainer(make_net(), cfg, task="multiclass", run_dir=tmp_path).fit(x_train, y_train, resume=True)
    from traincraft.errors import RecipeError

    with pytest.raises(RecipeError, match="resume=True needs a run_dir"):
        Trainer(make_net(), cfg, task="multiclass").fit(x_train, y_train, resume=True)


def test_resume_of_a_finished_run_trains_nothing(tmp_path):
    cfg, data = _in_process_setup()
    trainer = Trainer(make_net(), cfg, task="multiclass", run_dir=tmp_path)
    done = trainer.fit(*data)
    again = Trainer(make_net(seed=5), cfg, task="multiclass", run_dir=tmp_path)
    result = again.fit(*data, resume=True)
    assert result.epochs_run == done.epochs_run == 3
    assert result.resumed_from_epoch == 3
    assert without_perf(result.history) == without_perf(done.history)
    assert same_weights(again.model, trainer.model)


class _FailsOnTrainingCall(TinyNet):
    """Raises KeyboardInterrupt at the start of its ``at``-th forward pass in training mode (mid-step)."""

    def __init__(self, at: int) -> None:
        torch.manual_seed(0)
        super().__init__()
        self.at = at
        self.calls = 0

    def forward(self, batch):
        if self.training:
            self.calls += 1
            if self.calls == self.at:
                raise KeyboardInterrupt
        return super().forward(batch)


def test_a_hard_interrupt_mid_step_keeps_the_last_consistent_checkpoint(tmp_path):
    cfg, data = _in_process_setup()
    straight = Trainer(make_net(), cfg, task="multiclass", metrics_fn=accuracy)
    straight.fit(*data)

    run_dir = tmp_path / "run"
    with pytest.raises(TrainingInterrupted, match="in the middle of a step .* the last consistent checkpoint") as info:
        Trainer(_FailsOnTrainingCall(at=12), cfg, task="multiclass", metrics_fn=accuracy, run_dir=run_dir).fit(*data)
    saved = load_checkpoint(info.value.checkpoint_dir)
    assert (saved.epoch, saved.step_in_epoch) == (1, 0), "the end of epoch 1, not the half-done step"
    resumed = Trainer(make_net(seed=4), cfg, task="multiclass", metrics_fn=accuracy, run_dir=run_dir)
    resumed.fit(*data, resume=True)
    assert same_weights(resumed.model, straight.model)


@pytest.mark.parametrize(
    ("lr", "message"),
    [
        ("auto", "before its first step; nothing was saved"),  # in the range test, during set-up
        (0.01, "epoch 1, step 0/8, before any checkpoint was written"),  # in the first step
    ],
)
def test_an_interrupt_before_any_checkpoint_saves_nothing(tmp_path, lr, message):
    cfg, data = _in_process_setup()
    cfg = cfg.model_copy(update={"lr": lr})
    with pytest.raises(TrainingInterrupted, match=message) as info:
        Trainer(_FailsOnTrainingCall(at=1), cfg, task="multiclass", run_dir=tmp_path).fit(*data)
    assert info.value.checkpoint_dir is None
    assert not (tmp_path / "checkpoints").exists()
