"""Data-parallel training under torchrun (gloo on the CPU): the same updates as one process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from traincraft.recipe import TrainConfig
from traincraft.training import distributed
from traincraft.training.trainer import Trainer, _steps_per_epoch

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import torch
    from torch import nn
    from traincraft.recipe import TrainConfig
    from traincraft.training import distributed, workers
    from traincraft.training.trainer import Trainer


    class Net(nn.Module):
        def __init__(self, dropout):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Dropout(dropout), nn.Linear(32, 3))

        def forward(self, batch):
            return self.body(batch["dense"])


    def data():
        g = torch.Generator().manual_seed(1)
        x = torch.randn(203, 8, generator=g)
        y = (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()
        return {"dense": x}, y


    def main(out, settings, run_dir):
        group = distributed.init_from_env()
        if group is not None and not group.is_main:
            workers.serve()
            return
        try:
            torch.manual_seed(0)
            model = Net(settings.pop("dropout"))
            config = TrainConfig(**settings)
            x, y = data()
            trainer = Trainer(model, config, task="multiclass", seed=3, run_dir=run_dir or None)
            fit = trainer.fit(x, y, {"dense": x["dense"][:40]}, y[:40])
            torch.save({k: v.detach().clone() for k, v in model.state_dict().items()}, out)
            print(json.dumps({"losses": [h["train/loss"] for h in fit.history], "epochs": fit.epochs_run}))
        finally:
            distributed.finish()


    if __name__ == "__main__":
        main(sys.argv[1], json.loads(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "")
    """
)

SETTINGS = {
    "epochs": 3,
    "batch_size": 32,
    "lr": 0.05,
    "optimizer": "sgd",
    "schedule": "constant",
    "threads": 1,
    "early_stopping": {"enabled": False},
    "dropout": 0.0,
}


def _run(tmp_path: Path, processes: int, settings: dict, name: str, run_dir: str = "") -> tuple[dict, dict]:
    script = tmp_path / "job.py"
    script.write_text(SCRIPT)
    out = tmp_path / f"{name}.pt"
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    prefix = [sys.executable]
    if processes > 1:
        prefix += ["-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}"]
    args = [str(script), str(out), json.dumps(settings)] + ([run_dir] if run_dir else [])
    done = subprocess.run(prefix + args, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    return torch.load(out), summary


@pytest.mark.slow
def test_two_processes_make_the_same_updates_as_one(tmp_path):
    one, fit_one = _run(tmp_path, 1, SETTINGS, "one")
    two, fit_two = _run(tmp_path, 2, SETTINGS, "two")
    for key in one:
        torch.testing.assert_close(two[key], one[key], atol=2e-5, rtol=1e-4)
    np.testing.assert_allclose(fit_two["losses"], fit_one["losses"], rtol=1e-5)


@pytest.mark.slow
def test_two_processes_with_dropout_accumulation_and_checkpoints(tmp_path):
    settings = {**SETTINGS, "dropout": 0.3, "grad_accum": 2, "epochs": 4, "optimizer": "adamw", "lr": 0.01}
    run_dir = tmp_path / "run"
    weights, fit = _run(tmp_path, 2, settings, "acc", str(run_dir))
    assert fit["epochs"] == 4 and fit["losses"][-1] < fit["losses"][0]
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 4  # written once, by rank 0
    assert (run_dir / "checkpoints" / "last").is_dir()
    again, fit_again = _run(tmp_path, 2, settings, "acc2", str(tmp_path / "run2"))
    for key in weights:  # reproducible: the model's randomness is seeded per (seed, rank, step)
        assert torch.equal(again[key], weights[key])


def test_a_last_batch_too_small_to_share_joins_the_one_before():
    assert _steps_per_epoch(203, 32) == 7  # 11 rows in the last batch: they stand alone on one process
    assert _steps_per_epoch(193, 32, world_size=1) == 6  # 1 row joins the one before
    assert _steps_per_epoch(195, 32, world_size=2) == 6  # 3 rows cannot give two to each of two processes
    assert _steps_per_epoch(196, 32, world_size=2) == 7


def test_single_process_runs_have_no_group(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert not distributed.launched_by_torchrun()
    assert distributed.init_from_env() is None
    assert distributed.current() is None
    assert Trainer(torch.nn.Linear(2, 2), TrainConfig(), task="binary")._group is None


def test_a_world_size_without_torchrun_variables_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    for key in ("RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(Exception, match="torchrun --nproc-per-node N -m traincraft train"):
        distributed.init_from_env()


@pytest.mark.slow
def test_cli_train_with_two_processes_writes_one_run(tmp_path, digits_csv=None):
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    data = tmp_path / "cancer.csv"
    frame.to_csv(data, index=False)
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    done = subprocess.run(
        [sys.executable, "-m", "traincraft", "train", str(data), "--label", "target", "--epochs", "3",
         "--processes", "2", "--runs-dir", str(tmp_path / "runs"), "--name", "ddp", "--json"],
        capture_output=True, text=True, env=env, timeout=600, check=False, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["metrics"]["roc_auc"] > 0.95
    runs = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert runs == ["ddp"]  # the workers wrote nothing
    assert (tmp_path / "runs" / "ddp" / "bundle" / "bundle.json").exists()
    assert len((tmp_path / "runs" / "ddp" / "metrics.jsonl").read_text().splitlines()) == 3
