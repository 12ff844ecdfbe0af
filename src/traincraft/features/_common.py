"""What every column encoder shares: the missing-value rule, canonical category keys, bad-value errors.

A cell is *missing* when it is NaN / None / NaT / pd.NA or a string of only whitespace. Work on
object columns is done once per distinct value (``pd.factorize``), never once per row.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from traincraft.errors import DataError, SchemaError

__all__ = [
    "missing_mask",
    "map_uniques",
    "canonical_key",
    "bad_value_error",
    "warn_bad_values",
    "format_row",
    "check_fitted",
    "check_kind",
]

log = logging.getLogger(__name__)

_EXAMPLES = 3  # bad values quoted in an error message beyond the first


def _is_textual(series: pd.Series) -> bool:
    return series.dtype == object or isinstance(series.dtype, pd.StringDtype)


def map_uniques(series: pd.Series, fn: Callable[[Any], Any], *, dtype: Any = object) -> np.ndarray:
    """``fn`` applied to each distinct non-missing value, broadcast back to the rows.

    Missing cells (``isna``) get ``None`` (or the zero of ``dtype``). The Python loop runs over the
    distinct values only, so a column of 10^6 rows and 50 categories costs 50 calls.
    """
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    mapped = np.empty(len(uniques) + 1, dtype=dtype)
    if dtype is object:
        mapped[-1] = None
    else:
        mapped[-1] = np.zeros((), dtype=dtype)
    for i, value in enumerate(uniques):
        mapped[i] = fn(value)
    return mapped[codes]  # code -1 (missing) picks the last slot


def missing_mask(series: pd.Series) -> np.ndarray:
    """True where the cell is missing: NaN / None / NaT / NA, or a whitespace-only string."""
    missing = series.isna().to_numpy(dtype=bool, na_value=True)
    if _is_textual(series) and len(series):
        blank = map_uniques(series, lambda v: isinstance(v, str) and not v.strip(), dtype=bool)
        missing = missing | blank
    return missing


def canonical_key(value: Any) -> str:
    """One string per category value, so 3, 3.0, np.int64(3) and "3" are the same category.

    Files and JSON requests spell the same category differently (a CSV integer column with a gap
    is read as floats); matching on this key keeps a served model from calling them unknown.
    """
    if isinstance(value, (bool, np.bool_)):
        return "True" if value else "False"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return str(int(f)) if f.is_integer() else repr(f)
    if isinstance(value, str):
        return value
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return str(value)


def format_row(label: Any) -> str:
    """A row's index label as it reads in a message: ``row 17`` or ``row 'a'``."""
    if isinstance(label, (int, np.integer)):
        return f"row {int(label)}"
    return f"row {label!r}"


def _short(value: Any, limit: int = 80) -> str:
    """``repr(value)``, elided in the middle when long, so a path keeps its file name."""
    text = repr(value.item() if isinstance(value, np.generic) else value)
    if len(text) <= limit:
        return text
    half = (limit - 3) // 2
    return text[:half] + "..." + text[-half:]


def bad_value_error(series: pd.Series, bad: np.ndarray, column: str, expected: str, *, fitting: bool = False) -> SchemaError:
    """A :class:`SchemaError` that names the column, the first bad rows and their values."""
    rows = np.flatnonzero(bad)
    first = rows[0]
    message = (
        f"Column '{column}' should hold {expected}, but {format_row(series.index[first])} holds "
        f"{_short(series.iloc[first])}"
    )
    if len(rows) > 1:
        others = ", ".join(f"{format_row(series.index[r])}: {_short(series.iloc[r])}" for r in rows[1 : 1 + _EXAMPLES])
        more = f" and {len(rows) - 1 - _EXAMPLES} more" if len(rows) > 1 + _EXAMPLES else ""
        message += f" ({len(rows)} such values; also {others}{more})"
    if fitting:
        fix = (
            f"Fix or blank these cells, or set the column's type in the recipe "
            f"(data.columns.{column}.type) if it is not {expected}."
        )
    else:
        fix = "Fix or blank these cells, or transform with strict=False to treat them as missing."
    return SchemaError(f"{message}. {fix}")


def warn_bad_values(series: pd.Series, bad: np.ndarray, column: str, expected: str) -> None:
    """Non-strict mode: bad cells become missing; say so once per column and call."""
    n = int(bad.sum())
    if n:
        first = int(np.flatnonzero(bad)[0])
        log.warning(
            "Column '%s': %d value(s) are not %s (first at %s: %s); treated as missing.",
            column,
            n,
            expected,
            format_row(series.index[first]),
            _short(series.iloc[first]),
        )


def check_fitted(encoder: Any) -> None:
    if not encoder.fitted:
        raise DataError(
            f"{type(encoder).__name__} for column '{encoder.name}' is not fitted; call fit() on the training split first."
        )


def check_kind(d: dict, kind: str, cls_name: str) -> None:
    """The JSON of an encoder names its kind; loading another kind's JSON is an error."""
    if not isinstance(d, dict) or d.get("type") != kind:
        got = d.get("type") if isinstance(d, dict) else type(d).__name__
        raise SchemaError(f"{cls_name}.from_json expects a dict with \"type\": \"{kind}\", got {got!r}.")
