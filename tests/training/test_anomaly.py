"""Anomaly detection with the autoencoder: fitting through the trainer, scoring, the contamination threshold."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from traincraft.errors import DataError, RecipeError
from traincraft.models.autoencoder import AutoEncoder
from traincraft.recipe import TrainConfig
from traincraft.training import read_metrics
from traincraft.training.anomaly import anomaly_scores, contamination_threshold, fit_autoencoder

SPEC = {"dense_dim": 6, "categorical": [{"name": "c", "cardinality": 3, "dim": 2}], "text": [], "image": []}


def correlated_rows(n: int, seed: int, outliers: int = 0) -> tuple[dict[str, torch.Tensor], np.ndarray]:
    """Rows on a 2-D subspace of 6 dense columns with a categorical that follows the first factor."""
    gen = torch.Generator().manual_seed(seed)
    factors = torch.randn(n, 2, generator=gen)
    mixing = torch.tensor([[1.0, 0.5, -1.0, 0.0, 0.7, 0.3], [0.0, 1.0, 0.4, -1.0, 0.2, 0.9]])
    dense = factors @ mixing + 0.05 * torch.randn(n, 6, generator=gen)
    cat = (factors[:, :1] > 0).long() + (factors[:, :1] > 1).long()
    planted = np.zeros(n, dtype=bool)
    if outliers:
        rows = torch.randperm(n, generator=gen)[:outliers]
        dense[rows, 2] += 4.0  # off the subspace
        planted[rows.numpy()] = True
    return {"dense": dense, "categorical": cat}, planted


def config(**kw) -> TrainConfig:
    return TrainConfig(**{"epochs": 30, "batch_size": 32, "lr": 0.005, "threads": 1, "device": "cpu", **kw})


def test_autoencoder_trains_in_the_trainer_and_ranks_planted_rows_first(tmp_path):
    torch.manual_seed(0)
    x_train, _ = correlated_rows(400, seed=0)
    x_val, _ = correlated_rows(100, seed=1)
    x_test, planted = correlated_rows(300, seed=2, outliers=15)
    model = AutoEncoder(SPEC, hidden=[16], bottleneck=2)
    before = anomaly_scores(model, x_val).mean().item()
    fit = fit_autoencoder(model, x_train, x_val, config(), seed=0, run_dir=tmp_path)
    after = anomaly_scores(model, x_val).mean().item()
    assert after < before / 3
    records = read_metrics(tmp_path / "metrics.jsonl")
    assert len(records) == fit.epochs_run and "val/loss" in records[0]
    assert (tmp_path / "checkpoints" / "best" / "model.safetensors").exists()
    scores = anomaly_scores(model, x_test).numpy()
    assert roc_auc_score(planted, scores) > 0.95


def test_scores_are_deterministic_and_leave_the_model_mode_alone():
    model = AutoEncoder(SPEC, hidden=[16], dropout=0.5)
    x, _ = correlated_rows(50, seed=0)
    model.train()
    a = anomaly_scores(model, x, batch_size=7)
    b = anomaly_scores(model, x)
    assert torch.equal(a, b) and a.shape == (50,)
    assert model.training


def test_threshold_flags_the_contamination_share():
    scores = np.arange(1, 101, dtype=float)
    t = contamination_threshold(scores, 0.05)
    assert 95.0 <= t < 96.0 and int((scores > t).sum()) == 5
    assert int((scores > contamination_threshold(torch.tensor(scores), 0.1)).sum()) == 10


def test_threshold_errors():
    with pytest.raises(RecipeError, match="between 0 and 0.5"):
        contamination_threshold(np.ones(5), 0.6)
    with pytest.raises(DataError, match="no scores"):
        contamination_threshold(np.array([]), 0.1)
    with pytest.raises(DataError, match="diverged"):
        contamination_threshold(np.array([1.0, np.nan]), 0.1)


def test_fit_needs_an_encoded_table():
    with pytest.raises(DataError, match="encoded table"):
        fit_autoencoder(AutoEncoder(SPEC, hidden=[4]), {}, None, config())
