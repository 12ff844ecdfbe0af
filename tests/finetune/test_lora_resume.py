"""Resume restores the adapter: a LoRA run interrupted (Ctrl-C mid-epoch, or SIGKILL) and resumed equals one run straight.

The resumed network is built afresh, so its LoRA matrices start from a new random draw: every
trained number must come from the checkpoint. Comparisons are bitwise (CPU, one thread).
"""

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
from finetune_helpers import RESUME_EPOCHS, lora_resume_recipe
from safetensors.torch import load_file

import traincraft as tc
from traincraft.errors import TrainingInterrupted
from traincraft.training import Callback

HERE = Path(__file__).resolve().parent
POLL_TIMEOUT_S = 300.0


class _InterruptAt(Callback):
    """What Ctrl-C does: KeyboardInterrupt after global step ``at`` (mid-epoch)."""

    def __init__(self, at: int) -> None:
        self.at = at

    def on_batch_end(self, trainer, step, loss):
        if step == self.at:
            raise KeyboardInterrupt


def _tensors(path: Path) -> dict[str, torch.Tensor]:
    return load_file(str(path))


def _assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], what: str) -> None:
    assert a.keys() == b.keys(), what
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, f"{what} differ in {different[:5]}"


def _assert_same_run(straight: Path, resumed: Path) -> None:
    for part in ("model", "optimizer"):
        _assert_same(
            _tensors(straight / "checkpoints" / "last" / f"{part}.safetensors"),
            _tensors(resumed / "checkpoints" / "last" / f"{part}.safetensors"),
            f"checkpoints/last {part}",
        )
    bundle = _tensors(straight / "bundle" / "model.safetensors")
    _assert_same(bundle, _tensors(resumed / "bundle" / "model.safetensors"), "bundle weights")
    assert any(".lora_A." in k for k in bundle) and any(".lora_B." in k for k in bundle)
    assert not any(bool((v == 0).all()) for k, v in bundle.items() if ".lora_B." in k), "the adapters trained"


@pytest.fixture(scope="module")
def straight(tmp_path_factory, tiny_bert, spam_frame) -> Path:
    runs = tmp_path_factory.mktemp("lora-straight")
    return tc.train(spam_frame, label="label", recipe=lora_resume_recipe(tiny_bert), name="straight", runs_dir=runs).run_dir


def test_ctrl_c_mid_epoch_then_resume_equals_straight(tmp_path, tiny_bert, spam_frame, straight) -> None:
    steps_per_epoch = len(json.loads((straight / "data" / "splits.json").read_text())["train"]) // 16
    at = steps_per_epoch + 3  # in the middle of epoch 2
    with pytest.raises(TrainingInterrupted, match="saved"):
        tc.train(spam_frame, label="label", recipe=lora_resume_recipe(tiny_bert), name="cut", runs_dir=tmp_path, callbacks=[_InterruptAt(at)])
    state = json.loads((tmp_path / "cut" / "checkpoints" / "last" / "state.json").read_text())
    assert (state["epoch"], state["step_in_epoch"]) == (1, 3)
    torch.manual_seed(12345)  # the resumed network's fresh adapters differ from the first ones
    resumed = tc.train(spam_frame, label="label", recipe=lora_resume_recipe(tiny_bert), runs_dir=tmp_path, resume=tmp_path / "cut")
    assert resumed.fit.resumed_from_epoch == 1 and resumed.fit.epochs_run == RESUME_EPOCHS
    _assert_same_run(straight, tmp_path / "cut")


def _checkpoint_epoch(run_dir: Path) -> int:
    try:
        return int(json.loads((run_dir / "checkpoints" / "last" / "state.json").read_text())["epoch"])
    except (OSError, ValueError, KeyError):
        return 0


@pytest.mark.slow
def test_sigkill_then_resume_equals_straight(tmp_path, tiny_bert, spam_file, spam_frame, straight) -> None:
    env = dict(os.environ, PYTHONHASHSEED="0", HF_HUB_OFFLINE="1")
    child = subprocess.Popen(
        [sys.executable, str(HERE / "lora_child.py"), str(tiny_bert), str(spam_file), str(tmp_path), "killed", "--delay-ms", "150"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    run_dir = tmp_path / "killed"
    try:
        deadline = time.monotonic() + POLL_TIMEOUT_S
        while _checkpoint_epoch(run_dir) < 1:
            if child.poll() is not None:
                raise AssertionError(f"the child exited ({child.returncode}) before its first checkpoint: {child.stderr.read()}")
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting for the child's first checkpoint")
            time.sleep(0.05)  # polling interval, not synchronisation: the checkpoint file decides
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=60) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
    killed_at = _checkpoint_epoch(run_dir)
    assert 1 <= killed_at < RESUME_EPOCHS, "the kill landed after the run finished; slow the child down"
    resumed = tc.train(spam_frame, label="label", recipe=lora_resume_recipe(tiny_bert), runs_dir=tmp_path, resume=run_dir)
    assert resumed.fit.resumed_from_epoch == killed_at
    _assert_same_run(straight, run_dir)
