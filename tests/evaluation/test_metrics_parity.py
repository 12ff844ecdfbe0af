"""Property tests: every metric equals scikit-learn's on random inputs, and the bootstrap engine's
weighted metrics equal scikit-learn's with ``sample_weight`` (a resample is a weighting)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from traincraft.evaluation import (
    bootstrap_intervals,
    classification_metrics,
    confusion_matrix,
    expected_calibration_error,
    per_class_metrics,
    regression_metrics,
    reliability_table,
)
from traincraft.evaluation._weighted import weighted_classification, weighted_regression


def _problem(seed: int, n: int, n_classes: int, decimals: int | None):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, size=n)
    y[:n_classes] = np.arange(n_classes)  # every class present
    proba = rng.dirichlet(np.ones(n_classes), size=n)
    if decimals is not None:  # coarse probabilities: many ties, the hard case for rank metrics
        proba = np.round(proba, decimals) + 1e-3
    proba = proba / proba.sum(axis=1, keepdims=True)
    return rng, y, proba


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(20, 200), n_classes=st.integers(2, 6), decimals=st.sampled_from([None, 1, 2]))
def test_classification_metrics_equal_sklearn(seed: int, n: int, n_classes: int, decimals: int | None) -> None:
    _, y, proba = _problem(seed, n, n_classes, decimals)
    m = classification_metrics(y, proba)
    pred = proba.argmax(1)
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert m["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred))
    assert m["macro_f1"] == pytest.approx(skm.f1_score(y, pred, average="macro", labels=range(n_classes), zero_division=0))
    assert m["log_loss"] == pytest.approx(skm.log_loss(y, proba))
    if n_classes == 2:
        assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, proba[:, 1]))
        assert m["pr_auc"] == pytest.approx(skm.average_precision_score(y, proba[:, 1]))
        assert m["brier"] == pytest.approx(skm.brier_score_loss(y, proba[:, 1]))
    else:
        assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, proba, multi_class="ovr"))
        assert m["pr_auc"] == pytest.approx(skm.average_precision_score(np.eye(n_classes)[y], proba, average="macro"))
        assert m["brier"] == pytest.approx(skm.brier_score_loss(y, proba, labels=list(range(n_classes))))
    assert confusion_matrix(y, pred, n_classes) == skm.confusion_matrix(y, pred, labels=range(n_classes)).tolist()
    p, r, f, s = skm.precision_recall_fscore_support(y, pred, labels=range(n_classes), zero_division=0)
    rows = per_class_metrics(y, pred, list(range(n_classes)))
    assert [row["precision"] for row in rows] == pytest.approx(p)
    assert [row["recall"] for row in rows] == pytest.approx(r)
    assert [row["f1"] for row in rows] == pytest.approx(f)
    assert [row["support"] for row in rows] == list(s)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(20, 200), n_classes=st.integers(2, 5), decimals=st.sampled_from([None, 1, 2]))
def test_weighted_engine_equals_sklearn_sample_weight(seed: int, n: int, n_classes: int, decimals: int | None) -> None:
    rng, y, proba = _problem(seed, n, n_classes, decimals)
    w = rng.integers(0, 4, size=n).astype(float)
    w[:n_classes] = 1.0  # keep every class in the weighted data
    got = {k: float(v[0]) for k, v in weighted_classification(w[None, :], y, proba, positive=1 if n_classes == 2 else None).items()}
    pred = proba.argmax(1)
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, pred, sample_weight=w))
    assert got["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred, sample_weight=w))
    assert got["macro_f1"] == pytest.approx(skm.f1_score(y, pred, average="macro", sample_weight=w, labels=range(n_classes), zero_division=0))
    assert got["log_loss"] == pytest.approx(skm.log_loss(y, proba, sample_weight=w))
    if n_classes == 2:
        assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(y, proba[:, 1], sample_weight=w))
        assert got["pr_auc"] == pytest.approx(skm.average_precision_score(y, proba[:, 1], sample_weight=w))
        assert got["brier"] == pytest.approx(skm.brier_score_loss(y, proba[:, 1], sample_weight=w))
    else:
        aucs = [skm.roc_auc_score(y == c, proba[:, c], sample_weight=w) for c in range(n_classes)]
        assert got["roc_auc"] == pytest.approx(np.mean(aucs))
        aps = [skm.average_precision_score(y == c, proba[:, c], sample_weight=w) for c in range(n_classes)]
        assert got["pr_auc"] == pytest.approx(np.mean(aps))
    unweighted = {k: float(v[0]) for k, v in weighted_classification(np.ones((1, n)), y, proba, positive=None).items()}
    for key, value in classification_metrics(y, proba).items():
        assert unweighted[key] == pytest.approx(value), key


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(5, 300))
def test_regression_metrics_and_weighted_equal_sklearn(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    y, p = rng.normal(size=n) * 10, rng.normal(size=n) * 10
    w = rng.integers(1, 4, size=n).astype(float)
    m = regression_metrics(y, p)
    assert m["mae"] == pytest.approx(skm.mean_absolute_error(y, p))
    assert m["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(y, p)))
    assert m["r2"] == pytest.approx(skm.r2_score(y, p))
    got = {k: float(v[0]) for k, v in weighted_regression(w[None, :], y, p).items()}
    assert got["mae"] == pytest.approx(skm.mean_absolute_error(y, p, sample_weight=w))
    assert got["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(y, p, sample_weight=w)))
    assert got["r2"] == pytest.approx(skm.r2_score(y, p, sample_weight=w))


def test_ece_and_reliability_match_definitions() -> None:
    rng = np.random.default_rng(3)
    n = 5000
    p = rng.uniform(0.01, 0.99, size=n)
    y = (rng.uniform(size=n) < p).astype(int)  # calibrated by construction
    proba = np.column_stack([1 - p, p])
    table = reliability_table(y, proba)
    frac_pos, mean_pred = calibration_curve(y, p, n_bins=10, strategy="uniform")
    assert [b["observed"] for b in table["bins"]] == pytest.approx(frac_pos)
    assert [b["mean_predicted"] for b in table["bins"]] == pytest.approx(mean_pred)
    assert table["ece"] < 0.03
    overconfident = np.column_stack([1 - np.where(p > 0.5, 0.99, 0.01), np.where(p > 0.5, 0.99, 0.01)])
    assert expected_calibration_error(y, overconfident) > 0.15
    conf = proba.max(1)
    correct = proba.argmax(1) == y
    bins = np.minimum((conf * 10).astype(int), 9)
    by_hand = sum(abs(correct[bins == k].mean() - conf[bins == k].mean()) * (bins == k).sum() for k in np.unique(bins)) / n
    assert expected_calibration_error(y, proba) == pytest.approx(by_hand)


def test_bootstrap_intervals_are_reproducible_and_cover_the_value() -> None:
    _, y, proba = _problem(0, 600, 2, None)
    proba[:, 1] = np.clip(proba[:, 1] + 0.3 * (y == 1), 0, 1)
    proba[:, 0] = 1 - proba[:, 1]
    a = bootstrap_intervals(y, proba, task="binary", n_resamples=300, seed=1)
    b = bootstrap_intervals(y, proba, task="binary", n_resamples=300, seed=1)
    assert a == b
    for key, iv in a.items():
        assert iv["low"] <= iv["value"] <= iv["high"], key
    width = a["accuracy"]["high"] - a["accuracy"]["low"]
    se = np.sqrt(a["accuracy"]["value"] * (1 - a["accuracy"]["value"]) / len(y))
    assert width == pytest.approx(2 * 1.96 * se, rel=0.25)  # the normal approximation of a proportion


def test_bootstrap_regression_and_empty() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(size=200)
    out = bootstrap_intervals(y, y + rng.normal(scale=0.5, size=200), task="regression", n_resamples=200)
    assert set(out) == {"mae", "rmse", "r2"} and out["mae"]["low"] < 0.4 < out["mae"]["high"]
    assert bootstrap_intervals(np.array([]), np.zeros((0, 2)), task="binary") == {}
