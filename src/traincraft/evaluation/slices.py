"""Where does the model do worst? Slices of the test split with enough rows to matter.

A slice is the rows with one value of a categorical (or boolean, or few-valued numeric) column,
or one quantile bin of a numeric column. Each slice gets its rows, its metric (accuracy for
classification, mean absolute error for regression) with a 95% interval, and its gap to the
whole split; slices under ``min_support`` rows are not ranked. The worst come first.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import pandas as pd

__all__ = ["worst_slices", "slice_candidates", "MAX_CATEGORIES", "FEW_VALUES"]

MAX_CATEGORIES = 50  # a column with more distinct values is an identifier or free text, not a slice
FEW_VALUES = 10  # a numeric column with at most this many values is sliced by value, not binned
Z95 = 1.959963984540054


def _wilson(successes: float, n: int) -> tuple[float, float]:
    """95% Wilson score interval of a proportion (sound for small n and rates near 0 or 1)."""
    if n == 0:
        return float("nan"), float("nan")
    p = successes / n
    denom = 1 + Z95**2 / n
    centre = (p + Z95**2 / (2 * n)) / denom
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / denom
    return centre - half, centre + half


def slice_candidates(frame: pd.DataFrame, columns: Sequence[str], *, bins: int = 4) -> list[tuple[str, str, np.ndarray]]:
    """``(column, description, row mask)`` for every slice of ``columns``."""
    out = []
    for col in columns:
        values = frame[col]
        numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        distinct = values.nunique(dropna=True)
        if numeric and distinct > FEW_VALUES:
            try:
                binned = pd.qcut(values, q=bins, duplicates="drop")
            except ValueError:
                continue
            for interval in binned.cat.categories:
                mask = (binned == interval).to_numpy()
                out.append((col, f"{col} in ({interval.left:.4g}, {interval.right:.4g}]", mask))
        elif distinct <= MAX_CATEGORIES:
            for value in pd.unique(values.dropna()):
                out.append((col, f"{col} = {value}", (values == value).to_numpy()))
        if values.isna().any():
            out.append((col, f"{col} is missing", values.isna().to_numpy()))
    return out


def worst_slices(
    frame: pd.DataFrame,
    *,
    correct: np.ndarray | None = None,
    abs_error: np.ndarray | None = None,
    columns: Sequence[str],
    bins: int = 4,
    min_support: int = 30,
    top: int = 10,
) -> dict[str, Any]:
    """The ``top`` worst slices by accuracy (pass ``correct``, (N,) booleans) or by mean absolute
    error (pass ``abs_error``), among slices with at least ``min_support`` rows."""
    if (correct is None) == (abs_error is None):
        raise ValueError("pass exactly one of correct (classification) or abs_error (regression)")
    classification = correct is not None
    score = np.asarray(correct if classification else abs_error, dtype=np.float64)
    overall = float(score.mean()) if len(score) else float("nan")
    ranked, too_small = [], 0
    for col, description, mask in slice_candidates(frame, columns, bins=bins):
        n = int(mask.sum())
        if n < min_support:
            too_small += n > 0
            continue
        value = float(score[mask].mean())
        if classification:
            low, high = _wilson(score[mask].sum(), n)
        else:
            spread = float(score[mask].std(ddof=1)) if n > 1 else float("nan")
            low, high = value - Z95 * spread / math.sqrt(n), value + Z95 * spread / math.sqrt(n)
        gap = value - overall if classification else overall - value  # negative: worse than overall
        ranked.append({"column": col, "slice": description, "rows": n, "metric": value, "low": low, "high": high, "gap": gap})
    ranked.sort(key=lambda r: (r["gap"], -r["rows"]))
    return {
        "metric": "accuracy" if classification else "mae",
        "overall": overall,
        "min_support": min_support,
        "columns": list(columns),
        "slices_ranked": len(ranked),
        "slices_too_small": int(too_small),
        "worst": ranked[:top],
    }
