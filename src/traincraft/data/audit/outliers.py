"""Numeric outliers by the robust z-score |x - median| / (1.4826 MAD), one finding per column."""

from __future__ import annotations

import numpy as np
import pandas as pd

from traincraft.data.audit._constants import ROBUST_Z
from traincraft.data.audit._context import AuditContext
from traincraft.data.audit._finding import Finding
from traincraft.data.audit.disguised_missing import numeric_sentinels

NAME = "outliers"


def robust_bounds(x: np.ndarray, z: float, *, min_scale: float = 0.0) -> tuple[float, float] | None:
    """(low, high) outside which values are outliers; None when the spread is zero.

    The scale is 1.4826 MAD, else IQR / 1.349 when half the values are equal, at least ``min_scale``.
    """
    finite = x[np.isfinite(x)]
    if len(finite) < 10:
        return None
    med = float(np.median(finite))
    mad = float(np.median(np.abs(finite - med))) * 1.4826
    if mad == 0:
        q1, q3 = np.percentile(finite, [25, 75])
        mad = float(q3 - q1) / 1.349
    mad = max(mad, min_scale)
    if mad == 0:
        return None
    return med - z * mad, med + z * mad


def run(ctx: AuditContext) -> list[Finding]:
    out = []
    for col in ctx.content_columns:
        series = ctx.df[col]
        if ctx.kinds.get(col) != "numeric" or not pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
            continue
        x = series.to_numpy(dtype=float).copy()
        sentinels = numeric_sentinels(series)  # the disguised_missing check reports those
        if sentinels:
            x[np.isin(x, sentinels)] = np.nan
        bounds = robust_bounds(x, ROBUST_Z)
        if bounds is None:
            continue
        low, high = bounds
        mask = np.isfinite(x) & ((x < low) | (x > high))
        count = int(mask.sum())
        if count == 0:
            continue
        lo_s, hi_s = f"{low:.6g}", f"{high:.6g}"
        out.append(
            Finding(
                check=NAME,
                severity="info",
                count=count,
                row_ids=ctx.ids[mask].tolist(),
                message=(
                    f"Column '{col}' has {count:,} values outside [{lo_s}, {hi_s}] (robust z-score above {ROBUST_Z:g}), "
                    f"from {np.nanmin(x[mask]):.6g} to {np.nanmax(x[mask]):.6g}. Check them; drop them if they are errors."
                ),
                fix={"step": "filter", "drop_if": [f"`{col}` < {lo_s} or `{col}` > {hi_s}"]},
                details={"column": col, "low": low, "high": high},
            )
        )
    return out
