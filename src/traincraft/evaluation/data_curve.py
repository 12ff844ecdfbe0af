"""Would more data help? The more-data (data-scaling) curve and its power-law fit.

Models are trained on growing, nested shares of the training split with the same validation and
test rows (:func:`subsample_train`). The validation error ``e`` (1 - metric for higher-is-better
metrics in [0, 1], the metric itself for losses) is fitted as a power law in the number of
training rows, ``e(n) = a * n**(-b)``, a straight line in log-log space. From the fit: the gain
expected from twice the full training split, with a 95% interval drawn from the fit's parameter
uncertainty, and whether the curve has flattened (twice the data is expected to add less than
``FLAT_GAIN``).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import pandas as pd

from traincraft.data import Splits

__all__ = ["subsample_train", "fit_power_law", "FLAT_GAIN", "ERROR_FLOOR"]

FLAT_GAIN = 0.005  # half a point of accuracy from twice the data: below what a test split of ~2,000 rows resolves
ERROR_FLOOR = 1e-4  # a perfect score has error 0, which has no logarithm
PARAMETER_DRAWS = 4000  # draws from the fit's parameter distribution for the gain interval


def subsample_train(splits: Splits, labels: pd.Series | None, fraction: float, *, seed: int) -> Splits:
    """The same splits with ``fraction`` of the training rows, stratified by ``labels`` (when
    given) and nested: for one seed, the rows kept at 10% are among those kept at 20%.

    Each class keeps at least one row. Validation and test are untouched.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    train = np.asarray(splits.train)
    if fraction == 1.0:
        return splits
    rng = np.random.default_rng(seed)
    if labels is None:
        groups = [train]
    else:
        values = labels.loc[train].to_numpy()
        groups = [train[values == v] for v in pd.unique(values)]
    kept = []
    for ids in groups:
        order = rng.permutation(len(ids))  # one permutation per class: every share is a prefix of it
        kept.append(ids[order[: max(1, int(round(fraction * len(ids))))]])
    return Splits(np.sort(np.concatenate(kept)), splits.validation, splits.test, method=splits.method, seed=splits.seed)


def _to_error(metric: np.ndarray, higher_is_better: bool) -> np.ndarray:
    err = 1.0 - metric if higher_is_better else metric
    return np.maximum(err, ERROR_FLOOR)


def fit_power_law(
    rows: Sequence[int],
    metric: Sequence[float],
    *,
    higher_is_better: bool = True,
    seed: int = 0,
) -> dict[str, Any]:
    """Fit ``error = a * rows**(-b)`` to the points and extrapolate to twice the largest ``rows``.

    Returns the parameters, the fitted metric at each point, ``gain_2x`` (metric at 2N minus the
    fitted metric at N; positive means better), its 95% interval, and ``flattened``.
    """
    n = np.asarray(rows, dtype=np.float64)
    m = np.asarray(metric, dtype=np.float64)
    keep = np.isfinite(m) & (n > 0)
    n, m = n[keep], m[keep]
    if len(n) < 3 or len(np.unique(n)) < 3:
        return {"ok": False, "reason": f"a power law needs at least 3 points with different sizes; got {len(np.unique(n))}"}
    x = np.log(n)
    y = np.log(_to_error(m, higher_is_better))
    design = np.column_stack([np.ones_like(x), x])  # (P, 2): log a, -b
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    resid = y - design @ coef
    dof = len(x) - 2
    sigma2 = float(resid @ resid / dof) if dof > 0 else 0.0
    cov = sigma2 * np.linalg.inv(design.T @ design)
    n_full = float(n.max())

    def metric_at(log_a: np.ndarray, slope: np.ndarray, rows_: float) -> np.ndarray:
        err = np.exp(log_a + slope * math.log(rows_))
        return 1.0 - err if higher_is_better else err

    def gain(log_a: np.ndarray, slope: np.ndarray) -> np.ndarray:
        diff = metric_at(log_a, slope, 2 * n_full) - metric_at(log_a, slope, n_full)
        return diff if higher_is_better else -diff  # positive: better with twice the data

    point = float(gain(np.array(coef[0]), np.array(coef[1])))
    rng = np.random.default_rng(seed)
    from scipy import stats

    # parameter uncertainty: Student-t with the fit's residual degrees of freedom (few points, wide tails)
    z = rng.standard_normal((PARAMETER_DRAWS, 2)) @ np.linalg.cholesky(cov + 1e-18 * np.eye(2)).T
    scale = np.sqrt(dof / rng.chisquare(dof, size=(PARAMETER_DRAWS, 1))) if dof > 0 else 1.0
    draws = coef + z * scale
    gains = gain(draws[:, 0], draws[:, 1])
    low, high = np.quantile(gains, [0.025, 0.975])
    fitted = [float(metric_at(coef[0], coef[1], float(r))) for r in n]
    r2 = 1.0 - float(resid @ resid) / float(((y - y.mean()) ** 2).sum()) if len(y) > 2 and np.ptp(y) > 0 else float("nan")
    predicted_2x = float(metric_at(coef[0], coef[1], 2 * n_full))
    flattened = point < FLAT_GAIN
    t95 = float(stats.t.ppf(0.975, dof)) if dof > 0 else float("nan")
    slope_se = math.sqrt(cov[1, 1]) if dof > 0 else float("nan")
    if flattened:
        verdict = (
            f"Flattened: twice the training rows ({int(2 * n_full):,}) is expected to change the metric by "
            f"{point:+.4f} (95% interval {low:+.4f} to {high:+.4f}), less than {FLAT_GAIN}."
        )
    else:
        verdict = (
            f"Still rising: twice the training rows ({int(2 * n_full):,}) is expected to add {point:+.4f} "
            f"(95% interval {low:+.4f} to {high:+.4f}), to about {predicted_2x:.4f}."
        )
    return {
        "ok": True,
        "form": "error = a * rows^(-b)",
        "error": "1 - metric" if higher_is_better else "metric",
        "a": float(math.exp(coef[0])),
        "b": float(-coef[1]),
        "b_interval": [float(-coef[1] - t95 * slope_se), float(-coef[1] + t95 * slope_se)] if dof > 0 else [float("nan")] * 2,
        "fit_r2_log": r2,
        "rows": [int(r) for r in n],
        "metric": [float(v) for v in m],
        "fitted": fitted,
        "rows_2x": int(2 * n_full),
        "predicted_2x": predicted_2x,
        "gain_2x": point,
        "gain_2x_interval": [float(low), float(high)],
        "flattened": bool(flattened),
        "flat_gain": FLAT_GAIN,
        "verdict": verdict,
    }
