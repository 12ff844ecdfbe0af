"""Boolean columns: 0/1, with a missing flag when the training split had missing values.

Accepted spellings (case and surrounding spaces ignored): true/false, yes/no, y/n, t/f, 1/0, and
the numbers 1 and 0. A missing cell takes the value seen most often in training.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from traincraft.features._common import (
    bad_value_error,
    check_fitted,
    check_kind,
    map_uniques,
    missing_mask,
    warn_bad_values,
)

__all__ = ["BooleanEncoder", "parse_boolean"]

_EXPECTED = "true/false values (true/false, yes/no, 1/0)"
_TRUE = frozenset({"true", "yes", "y", "t", "1", "1.0"})
_FALSE = frozenset({"false", "no", "n", "f", "0", "0.0"})
_BAD = -1.0


def _as_bool(value: Any) -> float:
    if isinstance(value, (bool, np.bool_)):
        return float(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value) if value in (0, 1) else _BAD
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return 1.0
        if text in _FALSE:
            return 0.0
    return _BAD


def parse_boolean(series: pd.Series, column: str, *, strict: bool, fitting: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``(values float64 in {0, 1}, missing bool)``; other values are an error, or missing if not strict."""
    missing = missing_mask(series)
    if pd.api.types.is_bool_dtype(series.dtype) and series.dtype != object:
        values = series.to_numpy(dtype=np.float64, na_value=0.0)
    else:
        values = map_uniques(series, _as_bool, dtype=np.float64)
    values = np.where(missing, 0.0, values)
    bad = values == _BAD
    if bad.any():
        if strict:
            raise bad_value_error(series, bad, column, _EXPECTED, fitting=fitting)
        warn_bad_values(series, bad, column, _EXPECTED)
        missing = missing | bad
        values = np.where(bad, 0.0, values)
    return values, missing


class BooleanEncoder:
    """``fit`` on the training column; ``transform`` gives float32 ``(N, 1)`` or ``(N, 2)`` with the flag."""

    kind = "boolean"

    def __init__(self, name: str) -> None:
        self.name = name
        self.fill = 0.0
        self.has_missing = False
        self.fitted = False

    @property
    def dim(self) -> int:
        return 1 + int(self.has_missing)

    @property
    def feature_names(self) -> list[str]:
        return [self.name] + ([f"{self.name}__missing"] if self.has_missing else [])

    def fit(self, series: pd.Series) -> BooleanEncoder:
        values, missing = parse_boolean(series, self.name, strict=True, fitting=True)
        observed = values[~missing]
        self.has_missing = bool(missing.any())
        self.fill = 1.0 if len(observed) and observed.mean() > 0.5 else 0.0
        self.fitted = True
        return self

    def transform(self, series: pd.Series, *, strict: bool = True) -> np.ndarray:
        check_fitted(self)
        values, missing = parse_boolean(series, self.name, strict=strict)
        out = np.empty((len(values), self.dim), dtype=np.float32)
        out[:, 0] = np.where(missing, self.fill, values)
        if self.has_missing:
            out[:, 1] = missing
        return out

    def to_json(self) -> dict[str, Any]:
        check_fitted(self)
        return {"type": self.kind, "name": self.name, "fill": self.fill, "has_missing": self.has_missing}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> BooleanEncoder:
        check_kind(d, cls.kind, cls.__name__)
        enc = cls(d["name"])
        enc.fill = float(d["fill"])
        enc.has_missing = bool(d["has_missing"])
        enc.fitted = True
        return enc
