"""``impute``: fill empty cells with the median / most common value / a constant, and add a
``<column>_missing`` indicator. Filled rows are 'changed': the quarantine keeps their originals.

The median and the mode are computed from the training split's rows only (``StepContext.fit_rows``,
set by ``train``) and then filled into every row, like a fitted imputer: validation and test values
never shape what is filled."""

from __future__ import annotations

import numpy as np
import pandas as pd

from traincraft.data.prepare._outcome import StepContext, StepOutcome
from traincraft.data.prepare.drop_missing import check_columns, marker_mask
from traincraft.errors import DataError
from traincraft.recipe._prepare import ImputeStep

NAME = "impute"


def _fill_value(series: pd.Series, present: np.ndarray, strategy: str, value) -> object:
    values = series[present]
    if strategy == "constant":
        return value
    if strategy == "median":
        numbers = pd.to_numeric(values, errors="coerce")
        if pd.api.types.is_numeric_dtype(series.dtype) or numbers.notna().all():
            return float(np.median(numbers.to_numpy(dtype=float)))
    mode = values.mode(dropna=True)
    return mode.iloc[0]


def apply(df: pd.DataFrame, step: ImputeStep, sc: StepContext) -> StepOutcome:
    masks = {}
    if step.columns is None:
        for col in df.columns:
            if col == sc.label:
                continue
            m = marker_mask(df[col], step.missing_values)
            if m.any():
                masks[col] = m
    else:
        check_columns(df, step.columns, "impute")
        if sc.label in step.columns:
            raise DataError(f"impute: '{sc.label}' is the label; a made-up label is worse than none. Use drop_missing for rows without a label.")
        masks = {c: marker_mask(df[c], step.missing_values) for c in step.columns}
    fit = sc.fit_mask(df)
    out = df.copy()
    changed: dict = {}
    added = []
    filled = {}
    for col, mask in masks.items():
        if not mask.any():
            continue
        present = ~mask
        if not present.any() and step.strategy != "constant":
            raise DataError(f"impute: column '{col}' is empty in every row, so it has no {step.strategy} to fill with; drop it (drop_columns) or use strategy: constant.")
        if not (present & fit).any() and step.strategy != "constant":
            raise DataError(
                f"impute: column '{col}' is empty in every row of the training split, so it has no {step.strategy} to "
                "fill with; drop it (drop_columns) or use strategy: constant."
            )
        fill = _fill_value(df[col], present & fit, step.strategy, step.value)
        column = out[col]
        if pd.api.types.is_numeric_dtype(column.dtype) and not isinstance(fill, (int, float, np.number)):
            column = column.astype(object)
        elif not pd.api.types.is_numeric_dtype(column.dtype) and isinstance(fill, (int, float, np.number)) and not isinstance(fill, bool):
            numbers = pd.to_numeric(column.where(present), errors="coerce")
            if numbers[present].notna().all():
                column = numbers  # a numeric column with text markers ("?") becomes numeric
        column = column.copy()
        column[mask] = fill
        out[col] = column
        filled[col] = fill
        for rid in df.index[mask]:
            changed[rid] = (changed[rid] + f", '{col}'") if rid in changed else f"filled {step.strategy} into '{col}'"
        if step.indicator:
            name = f"{col}_missing"
            if name in out.columns and name not in added:
                raise DataError(f"impute: the indicator column '{name}' already exists; rename it or set indicator: false.")
            out[name] = mask
            added.append(name)
    return StepOutcome(out, changed=changed, columns_added=added, details={"filled": {k: str(v) for k, v in filled.items()}, "fitted_on_rows": int(fit.sum())})
