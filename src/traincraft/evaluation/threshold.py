"""The decision threshold of a binary classifier, chosen on the validation split.

The argmax rule predicts the positive class when its probability passes 0.5; with imbalanced
classes that is rarely the best cut. :func:`choose_threshold` picks the probability cut that
maximises the positive class's F1 on validation rows; the test split then reports the metrics at
that cut, so the test split is never used to choose it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["choose_threshold", "apply_threshold", "threshold_metrics"]


def apply_threshold(proba_positive: np.ndarray, threshold: float, *, positive: int) -> np.ndarray:
    """Class indices: ``positive`` where the positive probability is >= ``threshold``, else the other class."""
    proba_positive = np.asarray(proba_positive, dtype=np.float64)
    return np.where(proba_positive >= threshold, positive, 1 - positive).astype(np.int64)


def choose_threshold(y_true: np.ndarray, proba_positive: np.ndarray, *, positive: int) -> dict[str, float]:
    """The cut in (0, 1] maximising positive-class F1 on these (validation) rows.

    Every distinct probability is a candidate; among equal F1 the cut nearest 0.5 wins, so a
    flat optimum does not drift to an extreme. Returns the threshold, its F1, and F1 at 0.5.
    """
    y = np.asarray(y_true).astype(np.int64) == positive
    p = np.asarray(proba_positive, dtype=np.float64)
    if len(y) == 0 or not y.any():
        return {"threshold": 0.5, "f1": float("nan"), "f1_at_0.5": float("nan")}
    order = np.argsort(-p, kind="mergesort")
    p_sorted, y_sorted = p[order], y[order]
    tp = np.cumsum(y_sorted)
    predicted = np.arange(1, len(p) + 1)
    last_of_tie = np.r_[p_sorted[1:] != p_sorted[:-1], True]  # a cut keeps every row of a tied score
    f1 = 2 * tp / (predicted + y.sum())
    candidates = np.flatnonzero(last_of_tie)
    best_f1 = f1[candidates].max()
    best = candidates[np.isclose(f1[candidates], best_f1, rtol=0, atol=1e-12)]
    cut = p_sorted[best[np.argmin(np.abs(p_sorted[best] - 0.5))]]
    at_half = _f1(y, p >= 0.5)
    return {"threshold": float(cut), "f1": float(best_f1), "f1_at_0.5": at_half}


def _f1(y: np.ndarray, predicted: np.ndarray) -> float:
    tp = float(np.sum(y & predicted))
    denom = float(y.sum() + predicted.sum())
    return 2 * tp / denom if denom else 0.0


def threshold_metrics(y_true: np.ndarray, proba_positive: np.ndarray, threshold: float, *, positive: int) -> dict[str, float]:
    """Accuracy, balanced accuracy, positive-class precision, recall and F1 at ``threshold``."""
    y = np.asarray(y_true).astype(np.int64)
    pred = apply_threshold(proba_positive, threshold, positive=positive)
    is_pos, said_pos = y == positive, pred == positive
    tp = float(np.sum(is_pos & said_pos))
    precision = tp / said_pos.sum() if said_pos.any() else 0.0
    recall = tp / is_pos.sum() if is_pos.any() else float("nan")
    recalls = [np.mean(pred[y == c] == c) for c in np.unique(y)]
    return {
        "accuracy": float(np.mean(pred == y)) if len(y) else float("nan"),
        "balanced_accuracy": float(np.mean(recalls)) if len(y) else float("nan"),
        "precision": float(precision),
        "recall": float(recall),
        "positive_f1": _f1(is_pos, said_pos),
    }
