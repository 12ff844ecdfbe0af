"""Metrics under row weights, for many weightings at once: the engine of the bootstrap.

A bootstrap resample of N rows is the same as the original rows weighted by how often each was
drawn, so every metric here takes a weight matrix ``w`` (B, N) — one row per resample — and
returns (B,) values. Rows are sorted once; a resample never re-sorts or copies the data. With
``w = ones((1, N))`` each function equals its scikit-learn counterpart (tested).
"""

from __future__ import annotations

import numpy as np

__all__ = ["weighted_classification", "weighted_regression", "binary_rank_metrics"]

PROBA_FLOOR = 1e-15  # same clip as sklearn.metrics.log_loss


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def _group_ends(sorted_scores: np.ndarray) -> np.ndarray:
    """Index of the last row of each run of tied scores in a sorted score vector."""
    return np.flatnonzero(np.r_[sorted_scores[1:] != sorted_scores[:-1], True])


def _group_sums(w_sorted: np.ndarray, mask_sorted: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """(B, G): summed weights of the masked rows within each group of tied scores."""
    cum = np.cumsum(w_sorted * mask_sorted, axis=1)[:, ends]
    cum[:, 1:] -= cum[:, :-1].copy()
    return cum


def binary_rank_metrics(w: np.ndarray, positive: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ROC-AUC, average precision), each (B,), from one descending sort of ``scores``.

    ROC-AUC is the weighted share of (positive, negative) pairs ranked right, ties counting half.
    Average precision is scikit-learn's: the sum over thresholds (tied scores form one) of the
    recall step times the precision there.
    """
    order = np.argsort(-scores, kind="mergesort")
    ends = _group_ends(scores[order])
    w_sorted = w[:, order]
    pos_sorted = positive[order].astype(np.float64)
    pos = _group_sums(w_sorted, pos_sorted, ends)  # (B, G), groups from the highest score down
    allw = _group_sums(w_sorted, np.ones_like(pos_sorted), ends)
    neg = allw - pos
    total_pos = pos.sum(axis=1)
    total_neg = neg.sum(axis=1)
    neg_below = total_neg[:, None] - np.cumsum(neg, axis=1)  # negatives scored strictly lower
    with np.errstate(divide="ignore", invalid="ignore"):
        auc = (pos * (neg_below + 0.5 * neg)).sum(axis=1) / (total_pos * total_neg)
        precision = np.cumsum(pos, axis=1) / np.cumsum(allw, axis=1)
        ap = (pos * np.nan_to_num(precision)).sum(axis=1) / total_pos
    auc = np.where((total_pos > 0) & (total_neg > 0), auc, np.nan)
    ap = np.where(total_pos > 0, ap, np.nan)
    return auc, ap


def weighted_classification(
    w: np.ndarray, y: np.ndarray, proba: np.ndarray, *, positive: int | None, pred: np.ndarray | None = None, ece_bins: int = 10
) -> dict[str, np.ndarray]:
    """Headline classification metrics (B,) under weights ``w`` (B, N).

    ``y`` (N,) class indices, ``proba`` (N, C); ``pred`` (N,) defaults to the argmax. Keys follow
    :func:`traincraft.evaluation.metrics.classification_metrics`.
    """
    n_classes = proba.shape[1]
    pred = proba.argmax(axis=1) if pred is None else pred
    total = w.sum(axis=1)
    onehot_y = np.eye(n_classes)[y]  # (N, C)
    onehot_p = np.eye(n_classes)[pred]
    tp = w @ (onehot_y * onehot_p)  # (B, C)
    true_c = w @ onehot_y
    pred_c = w @ onehot_p
    out: dict[str, np.ndarray] = {"accuracy": tp.sum(axis=1) / total}
    recall = _safe_div(tp, true_c)
    out["balanced_accuracy"] = np.nanmean(np.where(true_c > 0, recall, np.nan), axis=1)
    f1 = np.where(true_c + pred_c > 0, _safe_div(2 * tp, true_c + pred_c), 0.0)
    out["macro_f1"] = f1.mean(axis=1)
    p_true = np.clip(proba[np.arange(len(y)), y], PROBA_FLOOR, 1.0)
    out["log_loss"] = (w @ -np.log(p_true)) / total
    if n_classes == 2:
        pos = 1 if positive is None else positive
        is_pos = y == pos
        out["positive_f1"] = f1[:, pos]
        out["roc_auc"], out["pr_auc"] = binary_rank_metrics(w, is_pos, proba[:, pos])
        out["brier"] = (w @ (proba[:, pos] - is_pos) ** 2) / total
    else:
        per_class = [binary_rank_metrics(w, y == c, proba[:, c]) for c in range(n_classes)]
        out["roc_auc"] = np.mean([auc for auc, _ in per_class], axis=0)  # one-vs-rest macro, as sklearn
        out["pr_auc"] = np.mean([ap for _, ap in per_class], axis=0)
        out["brier"] = (w @ ((proba - onehot_y) ** 2).sum(axis=1)) / total
    out["ece"] = _weighted_ece(w, y, proba, ece_bins)
    return out


def _weighted_ece(w: np.ndarray, y: np.ndarray, proba: np.ndarray, n_bins: int) -> np.ndarray:
    confidence = proba.max(axis=1)
    correct = (proba.argmax(axis=1) == y).astype(np.float64)
    bins = np.minimum((confidence * n_bins).astype(np.int64), n_bins - 1)  # equal width; 1.0 in the top bin
    member = np.eye(n_bins)[bins]  # (N, K)
    count = w @ member  # (B, K)
    gap = np.abs(w @ (member * correct[:, None]) - w @ (member * confidence[:, None]))
    return gap.sum(axis=1) / count.sum(axis=1)


def weighted_regression(w: np.ndarray, y: np.ndarray, pred: np.ndarray) -> dict[str, np.ndarray]:
    """MAE, RMSE and R² (B,) under weights ``w`` (B, N)."""
    total = w.sum(axis=1)
    err = pred - y
    mse = (w @ err**2) / total
    mean_y = (w @ y) / total
    ss_tot = (w @ y**2) - total * mean_y**2
    return {
        "mae": (w @ np.abs(err)) / total,
        "rmse": np.sqrt(mse),
        "r2": 1.0 - _safe_div(mse * total, np.where(ss_tot > 1e-12 * np.maximum(1.0, total), ss_tot, 0.0)),
    }
