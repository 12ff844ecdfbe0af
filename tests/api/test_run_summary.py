"""run.json records the same run metadata (device, threads, time, versions) for every task kind."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import traincraft as tc
from traincraft.api._run_summary import RUN_METADATA_KEYS
from traincraft.api.unsupervised import cluster, detect_anomalies
from traincraft.serving import library_versions


def _table(n: int = 80, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=n), rng.normal(size=n)
    return pd.DataFrame({"x": x, "y": y, "z": x + y, "label": np.where(x > 0, "pos", "neg")})


def _supervised(runs: Path) -> Path:
    return tc.train(_table(), label="label", recipe={"train": {"epochs": 1, "threads": 1}, "evaluate": {"bootstrap": 0}}, runs_dir=runs).run_dir


def _cluster(runs: Path) -> Path:
    return cluster(_table().drop(columns="label"), recipe={"cluster": {"k": 2}, "train": {"threads": 1}}, runs_dir=runs).run_dir


def _anomaly(runs: Path) -> Path:
    recipe = {"anomaly": {"contamination": 0.05, "hidden": [4], "bottleneck": 2}, "train": {"epochs": 2, "threads": 1}}
    return detect_anomalies(_table().drop(columns="label"), recipe=recipe, runs_dir=runs).run_dir


def _rl(runs: Path) -> Path:
    pytest.importorskip("gymnasium")
    from traincraft.api.rl import train_rl

    recipe = {"task": "rl", "seed": 0, "rl": {"env": "CartPole-v1", "total_steps": 64, "n_envs": 2, "hidden": [8],
                                               "eval_episodes": 1, "ppo": {"rollout_steps": 32, "epochs": 1, "minibatch_size": 32}}}
    return train_rl(recipe, runs_dir=runs).run_dir


@pytest.mark.parametrize("make_run", [_supervised, _cluster, _anomaly, _rl], ids=["supervised", "cluster", "anomaly", "rl"])
def test_every_task_kind_records_the_same_run_metadata(make_run, tmp_path):
    summary = json.loads((make_run(tmp_path) / "run.json").read_text())
    assert summary["status"] == "finished"
    missing = [k for k in RUN_METADATA_KEYS if k not in summary]
    assert not missing, f"run.json lacks {missing}"
    assert summary["device"] == "cpu"
    assert isinstance(summary["threads"], int) and summary["threads"] >= 1
    assert datetime.fromisoformat(summary["finished"]).tzinfo is not None
    assert isinstance(summary["seconds"], float) and summary["seconds"] > 0
    assert summary["versions"] == library_versions()
