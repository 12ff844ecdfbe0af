"""Missing values in disguise: "?", "N/A", "none", "-" in string columns, and sentinel numbers such
as -999 or 9999 that stand apart from a numeric column's other values."""

from __future__ import annotations

import numpy as np
import pandas as pd

from traincraft.data.audit._constants import (
    DISGUISED_MISSING_NUMBERS,
    DISGUISED_MISSING_STRINGS,
    SENTINEL_GAP_FACTOR,
    SENTINEL_MIN_SHARE,
)
from traincraft.data.audit._context import AuditContext, is_missing
from traincraft.data.audit._finding import Finding

NAME = "disguised_missing"


def _string_markers(series: pd.Series) -> tuple[np.ndarray, list[str]]:
    present = ~is_missing(series)
    text = series.astype(object).where(present, None)
    lowered = text.map(lambda v: v.strip().lower() if isinstance(v, str) else None)
    mask = lowered.isin(DISGUISED_MISSING_STRINGS).to_numpy(dtype=bool) & present
    found = sorted({str(v).strip() for v in text[mask]})
    return mask, found


def numeric_sentinels(values: pd.Series) -> list[float]:
    """The sentinel numbers of DISGUISED_MISSING_NUMBERS that this column uses as 'no value'."""
    x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    x = x[np.isfinite(x)]
    if len(x) < 20:
        return []
    out = []
    for s in DISGUISED_MISSING_NUMBERS:
        hit = x == s
        share = hit.mean()
        if share < SENTINEL_MIN_SHARE or share > 0.5:
            continue
        rest = x[~hit]
        if not len(rest):
            continue
        q1, q3 = np.percentile(rest, [25, 75])
        iqr = max(q3 - q1, 1e-12)
        apart = s < q1 - SENTINEL_GAP_FACTOR * iqr or s > q3 + SENTINEL_GAP_FACTOR * iqr
        negative_in_positive = s < 0 and rest.min() >= 0
        if apart or negative_in_positive:
            out.append(s)
    return out


def run(ctx: AuditContext) -> list[Finding]:
    out = []
    for col in ctx.df.columns:
        series = ctx.df[col]
        if ctx.kinds.get(col) == "numeric" and pd.api.types.is_numeric_dtype(series.dtype):
            sentinels = numeric_sentinels(series)
            if not sentinels:
                continue
            mask = series.isin(sentinels).to_numpy(dtype=bool)
            markers = [int(s) if float(s).is_integer() else s for s in sentinels]
        elif series.dtype == object or pd.api.types.is_string_dtype(series.dtype):
            mask, markers = _string_markers(series)
        else:
            continue
        count = int(mask.sum())
        if count == 0:
            continue
        if col == ctx.label:
            fix = {"step": "drop_missing", "columns": [col], "missing_values": markers}
        else:
            strategy = "median" if ctx.kinds.get(col) == "numeric" else "mode"
            fix = {"step": "impute", "columns": [col], "strategy": strategy, "indicator": True, "missing_values": markers}
        shown = ", ".join(repr(m) for m in markers[:8])
        out.append(
            Finding(
                check=NAME,
                severity="warning",
                count=count,
                row_ids=ctx.ids[mask].tolist(),
                message=f"Column '{col}' uses {shown} for 'no value' in {count:,} rows; treat them as missing.",
                fix=fix,
                details={"column": col, "markers": markers},
            )
        )
    return out
