"""Bootstrap confidence intervals for the headline metrics.

A resample draws N rows with replacement from the N test rows; the interval is the central
``confidence`` share of the metric over ``n_resamples`` resamples (percentile bootstrap). Resamples
are row weights over the original rows (:mod:`._weighted`), so 1,000 of them on 10,000 rows take
well under a second. The seed makes intervals reproducible.
"""

from __future__ import annotations

import logging

import numpy as np

from traincraft.evaluation._weighted import weighted_classification, weighted_regression

__all__ = ["bootstrap_intervals", "BOOTSTRAP_RESAMPLES", "CONFIDENCE"]

log = logging.getLogger(__name__)

BOOTSTRAP_RESAMPLES = 1000  # percentile intervals settle to ~0.005 of a metric's range by 1,000 resamples
CONFIDENCE = 0.95
CHUNK_CELLS = 4_000_000  # resamples x rows per block of weights: bounds memory at ~32 MB


def bootstrap_intervals(
    y_true: np.ndarray,
    predictions: np.ndarray,
    *,
    task: str,
    positive: int | None = None,
    pred: np.ndarray | None = None,
    n_resamples: int = BOOTSTRAP_RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    """``{metric: {"value", "low", "high"}}`` for classification (``predictions`` = probabilities
    (N, C), ``pred`` optional class decisions) or regression (``predictions`` = values (N,)).

    ``value`` is the metric on all rows; a metric undefined on some resamples (e.g. ROC-AUC when a
    resample holds one class) takes its interval from the others.
    """
    y_true = np.asarray(y_true)
    predictions = np.asarray(predictions, dtype=np.float64)
    n = len(y_true)
    if n == 0:
        return {}
    if task == "regression":
        y = y_true.astype(np.float64)

        def compute(w: np.ndarray) -> dict[str, np.ndarray]:
            return weighted_regression(w, y, predictions)
    else:
        y = y_true.astype(np.int64)
        proba = predictions / predictions.sum(axis=1, keepdims=True)

        def compute(w: np.ndarray) -> dict[str, np.ndarray]:
            return weighted_classification(w, y, proba, positive=positive, pred=pred)

    with np.errstate(invalid="ignore", divide="ignore"):
        full = {k: float(v[0]) for k, v in compute(np.ones((1, n))).items()}
        rng = np.random.default_rng(seed)
        chunk = max(1, CHUNK_CELLS // n)
        draws: dict[str, list[np.ndarray]] = {k: [] for k in full}
        done = 0
        while done < n_resamples:
            size = min(chunk, n_resamples - done)
            picks = rng.integers(0, n, size=(size, n)) + np.arange(size)[:, None] * n
            w = np.bincount(picks.ravel(), minlength=size * n).reshape(size, n).astype(np.float64)  # (B, N) draw counts
            for key, values in compute(w).items():
                draws[key].append(values)
            done += size
    alpha = (1.0 - confidence) / 2.0
    out: dict[str, dict[str, float]] = {}
    for key, value in full.items():
        if not np.isfinite(value):
            continue
        values = np.concatenate(draws[key])
        values = values[np.isfinite(values)]
        if len(values) < 0.5 * n_resamples:
            log.info("No interval for %s: it is undefined on %d of %d resamples.", key, n_resamples - len(values), n_resamples)
            out[key] = {"value": value, "low": float("nan"), "high": float("nan")}
            continue
        low, high = np.quantile(values, [alpha, 1.0 - alpha])
        out[key] = {"value": value, "low": float(low), "high": float(high)}
    return out
