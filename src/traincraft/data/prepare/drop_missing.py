"""``drop_missing``: drop rows with an empty cell (or a declared 'no value' marker) in given columns."""

from __future__ import annotations

import numpy as np
import pandas as pd

from traincraft.data.audit._context import is_missing
from traincraft.data.prepare._outcome import StepContext, StepOutcome, drop_rows
from traincraft.errors import SchemaError
from traincraft.recipe._prepare import DropMissingStep

NAME = "drop_missing"


def marker_mask(series: pd.Series, markers: list) -> np.ndarray:
    """Where a cell is empty or equals one of ``markers`` (strings compared trimmed and case-folded)."""
    mask = is_missing(series)
    if not markers:
        return mask
    texts = {str(m).strip().casefold() for m in markers if isinstance(m, str)}
    numbers = {float(m) for m in markers if not isinstance(m, str)}
    for m in markers:
        if isinstance(m, str):
            try:
                numbers.add(float(m))
            except ValueError:
                pass
    as_text = series.astype(object).map(lambda v: v.strip().casefold() if isinstance(v, str) else None)
    mask = mask | as_text.isin(texts).to_numpy(dtype=bool)
    if numbers:
        as_number = pd.to_numeric(series, errors="coerce")
        mask = mask | as_number.isin(numbers).to_numpy(dtype=bool)
    return mask


def check_columns(df: pd.DataFrame, columns: list[str], step: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        from traincraft._util.suggest import did_you_mean

        names = [str(c) for c in df.columns]
        raise SchemaError(f"{step}: column '{missing[0]}' is not in the data. Columns: {', '.join(names[:30])}.{did_you_mean(str(missing[0]), names)}")


def apply(df: pd.DataFrame, step: DropMissingStep, sc: StepContext) -> StepOutcome:
    columns = list(df.columns) if step.columns is None else step.columns
    check_columns(df, columns, "drop_missing")
    mask = np.zeros(len(df), dtype=bool)
    which = np.array([""] * len(df), dtype=object)
    for col in columns:
        m = marker_mask(df[col], step.missing_values)
        fresh = m & ~mask
        which[fresh] = f"missing value in '{col}'"
        mask |= m
    return drop_rows(df, mask, which)
