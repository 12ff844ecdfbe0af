"""Calibration: do predicted probabilities mean what they say?

Expected calibration error (ECE) is the top-label version (Guo et al., 2017): rows are binned by
their highest probability (equal-width bins), and ECE is the row-weighted mean |accuracy - mean
confidence| over bins. The reliability diagram of a binary task plots the positive-class
probability against the observed positive frequency (scikit-learn's ``calibration_curve`` with
``strategy="uniform"``); for more classes it plots top-label confidence against accuracy.
"""

from __future__ import annotations

import numpy as np

__all__ = ["expected_calibration_error", "reliability_table", "CALIBRATION_BINS"]

CALIBRATION_BINS = 10  # equal-width bins of 0.1: the common choice, so ECE values compare across papers


def _bin_of(values: np.ndarray, n_bins: int) -> np.ndarray:
    return np.minimum((values * n_bins).astype(np.int64), n_bins - 1)  # a probability of 1.0 joins the top bin


def expected_calibration_error(y_true: np.ndarray, proba: np.ndarray, *, n_bins: int = CALIBRATION_BINS) -> float:
    """Top-label ECE in [0, 1] of class indices ``y_true`` (N,) and probabilities ``proba`` (N, C)."""
    y_true = np.asarray(y_true).astype(np.int64)
    proba = np.asarray(proba, dtype=np.float64)
    if len(y_true) == 0:
        return float("nan")
    confidence = proba.max(axis=1)
    correct = (proba.argmax(axis=1) == y_true).astype(np.float64)
    bins = _bin_of(confidence, n_bins)
    count = np.bincount(bins, minlength=n_bins)
    gap = np.abs(np.bincount(bins, weights=correct, minlength=n_bins) - np.bincount(bins, weights=confidence, minlength=n_bins))
    return float(gap.sum() / count.sum())


def reliability_table(y_true: np.ndarray, proba: np.ndarray, *, positive: int | None = None, n_bins: int = CALIBRATION_BINS) -> dict:
    """The data of a reliability diagram: per non-empty bin, its range, rows, mean predicted
    probability and observed frequency. ``kind`` says what is plotted (``positive`` or ``top_label``)."""
    y_true = np.asarray(y_true).astype(np.int64)
    proba = np.asarray(proba, dtype=np.float64)
    if proba.shape[1] == 2:
        pos = 1 if positive is None else positive
        predicted = proba[:, pos]
        observed = (y_true == pos).astype(np.float64)
        kind = "positive"
    else:
        predicted = proba.max(axis=1)
        observed = (proba.argmax(axis=1) == y_true).astype(np.float64)
        kind = "top_label"
    bins = _bin_of(predicted, n_bins)
    count = np.bincount(bins, minlength=n_bins)
    mean_pred = np.bincount(bins, weights=predicted, minlength=n_bins)
    freq = np.bincount(bins, weights=observed, minlength=n_bins)
    rows = [
        {
            "low": k / n_bins,
            "high": (k + 1) / n_bins,
            "rows": int(count[k]),
            "mean_predicted": float(mean_pred[k] / count[k]),
            "observed": float(freq[k] / count[k]),
        }
        for k in range(n_bins)
        if count[k] > 0
    ]
    return {"kind": kind, "bins": rows, "ece": expected_calibration_error(y_true, proba, n_bins=n_bins)}
