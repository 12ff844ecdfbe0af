"""Headline metrics for classification and regression, computed from labels and probabilities.

Names are the ones the CLI reports under ``"metrics"``: accuracy, balanced_accuracy, macro_f1,
roc_auc, pr_auc, log_loss, brier, ece, positive_f1 (binary); mae, rmse, r2 (regression).
The detailed views (confusion matrix, per-class precision / recall / F1, residuals) live here too;
calibration in :mod:`.calibration`, intervals in :mod:`.bootstrap`, thresholds in :mod:`.threshold`.
"""

from __future__ import annotations

import logging
import math
import warnings

import numpy as np
from sklearn import metrics as skm

__all__ = [
    "classification_metrics",
    "regression_metrics",
    "metric_mode",
    "confusion_matrix",
    "per_class_metrics",
    "regression_residuals",
    "brier_score",
    "LOWER_IS_BETTER",
]

log = logging.getLogger(__name__)

LOWER_IS_BETTER = frozenset({"loss", "log_loss", "mae", "rmse", "mse", "brier", "ece"})


def metric_mode(name: str) -> str:
    """'min' for metrics where lower is better (loss, mae, rmse, ...), else 'max'."""
    return "min" if name.rsplit("/", 1)[-1] in LOWER_IS_BETTER else "max"


def classification_metrics(
    y_true: np.ndarray,
    proba: np.ndarray,
    *,
    n_classes: int | None = None,
    positive: int | None = None,
) -> dict[str, float]:
    """Metrics from class indices ``y_true`` (N,) and class probabilities ``proba`` (N, C).

    For two classes, ``positive`` is the index of the class whose F1 is reported (default 1).
    ROC-AUC and PR-AUC are left out (with a log line) when the true labels do not hold every
    class they need (both classes for binary, all classes for the one-vs-rest macro average).
    Brier score: mean squared error of the positive-class probability (binary) or the sum over
    classes (multiclass), as scikit-learn's ``brier_score_loss``. ECE: top-label expected
    calibration error over equal-width bins (:func:`.calibration.expected_calibration_error`).
    """
    from traincraft.evaluation.calibration import expected_calibration_error

    y_true = np.asarray(y_true).astype(np.int64)
    proba = np.asarray(proba, dtype=np.float64)
    n_classes = n_classes or proba.shape[1]
    if len(y_true) == 0:
        return {}
    y_pred = proba.argmax(axis=1)
    labels = np.arange(n_classes)
    out = {
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "balanced_accuracy": float(_balanced_accuracy(y_true, y_pred)),
        "macro_f1": float(skm.f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "log_loss": _log_loss(y_true, proba, labels),
    }
    present = np.unique(y_true)
    if n_classes == 2:
        pos = 1 if positive is None else positive
        out["positive_f1"] = float(skm.f1_score(y_true, y_pred, pos_label=pos, average="binary", zero_division=0))
        if len(present) == 2:
            scores = proba[:, pos]
            out["roc_auc"] = float(skm.roc_auc_score(y_true == pos, scores))
            out["pr_auc"] = float(skm.average_precision_score(y_true == pos, scores))
    elif len(present) == n_classes:
        out["roc_auc"] = float(skm.roc_auc_score(y_true, proba, multi_class="ovr", average="macro", labels=labels))
        out["pr_auc"] = float(skm.average_precision_score(np.eye(n_classes)[y_true], proba, average="macro"))
    out["brier"] = brier_score(y_true, proba, positive=positive)
    out["ece"] = expected_calibration_error(y_true, proba)
    if "roc_auc" not in out:
        log.info("roc_auc and pr_auc left out: the true labels hold only %d of %d classes", len(present), n_classes)
    return out


def _log_loss(y_true: np.ndarray, proba: np.ndarray, labels: np.ndarray) -> float:
    # A float32 softmax sums to 1 only within ~1e-7, which scikit-learn warns about. Renormalising
    # is not the cure: dividing rows by sums that differ in the last bit breaks exact ties and moves
    # rank metrics, so the probabilities stay as given and only that warning is silenced.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The y_prob values do not sum to one", category=UserWarning)
        return float(skm.log_loss(y_true, np.clip(proba, 1e-15, 1.0), labels=labels))


def brier_score(y_true: np.ndarray, proba: np.ndarray, *, positive: int | None = None) -> float:
    """Brier score: (p_positive - [y = positive])² averaged (binary), or the sum over classes of
    (p_c - [y = c])² averaged (multiclass). Lower is better; 0 is perfect."""
    y_true = np.asarray(y_true).astype(np.int64)
    proba = np.asarray(proba, dtype=np.float64)
    if proba.shape[1] == 2:
        pos = 1 if positive is None else positive
        return float(np.mean((proba[:, pos] - (y_true == pos)) ** 2))
    onehot = np.eye(proba.shape[1])[y_true]
    return float(np.mean(((proba - onehot) ** 2).sum(axis=1)))


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> list[list[int]]:
    """Counts (C, C) as nested lists: row = true class, column = predicted class."""
    y_true = np.asarray(y_true).astype(np.int64)
    y_pred = np.asarray(y_pred).astype(np.int64)
    counts = np.bincount(y_true * n_classes + y_pred, minlength=n_classes * n_classes)
    return counts.reshape(n_classes, n_classes).tolist()


def per_class_metrics(y_true: np.ndarray, y_pred: np.ndarray, classes: list) -> list[dict]:
    """Precision, recall, F1 and support of each class (one dict per class, in ``classes`` order).
    A class never predicted has precision 0 (scikit-learn's ``zero_division=0``)."""
    y_true = np.asarray(y_true).astype(np.int64)
    y_pred = np.asarray(y_pred).astype(np.int64)
    labels = np.arange(len(classes))
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    return [
        {"class": c, "precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
        for c, p, r, f, s in zip(classes, precision, recall, f1, support)
    ]


def regression_residuals(y_true: np.ndarray, y_pred: np.ndarray, *, max_points: int = 2000, seed: int = 0) -> dict:
    """What a residual plot needs: residual = true - predicted, its summary, and at most
    ``max_points`` (predicted, residual) pairs sampled without replacement."""
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    residual = y_true - y_pred
    keep = np.arange(len(residual))
    if len(keep) > max_points:
        keep = np.sort(np.random.default_rng(seed).choice(len(residual), size=max_points, replace=False))
    quantiles = np.quantile(residual, [0.05, 0.25, 0.5, 0.75, 0.95]) if len(residual) else [math.nan] * 5
    return {
        "mean": float(residual.mean()) if len(residual) else math.nan,
        "std": float(residual.std()) if len(residual) else math.nan,
        "quantiles": {q: float(v) for q, v in zip(("p05", "p25", "p50", "p75", "p95"), quantiles)},
        "predicted": y_pred[keep].tolist(),
        "residual": residual[keep].tolist(),
    }


def _balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    recalls = [np.mean(y_pred[y_true == c] == c) for c in np.unique(y_true)]
    return float(np.mean(recalls))


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """MAE, RMSE and R² of predictions in the label's own units."""
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if len(y_true) == 0:
        return {}
    out = {
        "mae": float(skm.mean_absolute_error(y_true, y_pred)),
        "rmse": float(math.sqrt(skm.mean_squared_error(y_true, y_pred))),
    }
    if len(y_true) > 1:
        out["r2"] = float(skm.r2_score(y_true, y_pred))
    return out
