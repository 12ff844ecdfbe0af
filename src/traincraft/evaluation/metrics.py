"""Headline metrics for classification and regression, computed from labels and probabilities.

Names are the ones the CLI reports under ``"metrics"``: accuracy, balanced_accuracy, macro_f1,
roc_auc, log_loss, positive_f1 (binary); mae, rmse, r2 (regression).
"""

from __future__ import annotations

import logging
import math

import numpy as np
from sklearn import metrics as skm

__all__ = ["classification_metrics", "regression_metrics", "metric_mode", "LOWER_IS_BETTER"]

log = logging.getLogger(__name__)

LOWER_IS_BETTER = frozenset({"loss", "log_loss", "mae", "rmse", "mse", "brier"})


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
    ROC-AUC is left out (with a log line) when the true labels hold a single class.
    """
    y_true = np.asarray(y_true).astype(np.int64)
    proba = np.asarray(proba, dtype=np.float64)
    proba = proba / proba.sum(axis=1, keepdims=True)  # float32 softmax sums to 1 only within ~1e-7
    n_classes = n_classes or proba.shape[1]
    if len(y_true) == 0:
        return {}
    y_pred = proba.argmax(axis=1)
    labels = np.arange(n_classes)
    out = {
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "balanced_accuracy": float(_balanced_accuracy(y_true, y_pred)),
        "macro_f1": float(skm.f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "log_loss": float(skm.log_loss(y_true, np.clip(proba, 1e-15, 1.0), labels=labels)),
    }
    present = np.unique(y_true)
    if n_classes == 2:
        pos = 1 if positive is None else positive
        out["positive_f1"] = float(skm.f1_score(y_true, y_pred, pos_label=pos, average="binary", zero_division=0))
        if len(present) == 2:
            scores = proba[:, pos]
            out["roc_auc"] = float(skm.roc_auc_score(y_true == pos, scores))
    elif len(present) == n_classes:
        out["roc_auc"] = float(skm.roc_auc_score(y_true, proba, multi_class="ovr", average="macro", labels=labels))
    if "roc_auc" not in out:
        log.info("roc_auc left out: the true labels hold only %d of %d classes", len(present), n_classes)
    return out


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
