"""Numeric columns: median-imputed, standardised with the training mean and std, plus a missing flag.

Standardised values are clipped to ±``NUMERIC_MAX_ABS_Z``: no training value reaches that bound, and
an extreme input (say 3e38) at prediction time gives a finite, saturated feature instead of inf.

The flag column exists only when the training split had missing values; a value missing at
prediction time in a column that never missed in training is still imputed, just not flagged.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from traincraft.constants import NUMERIC_MAX_ABS_Z
from traincraft.features._common import bad_value_error, check_fitted, check_kind, missing_mask, warn_bad_values

__all__ = ["NumericEncoder", "parse_numeric", "to_float"]

_EXPECTED = "numbers"


def to_float(series: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(values float64, missing bool, bad bool)``: bad cells are present but not finite numbers."""
    if pd.api.types.is_bool_dtype(series.dtype) or (
        pd.api.types.is_numeric_dtype(series.dtype) and series.dtype != object
    ):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        missing = np.isnan(values)
    else:
        missing = missing_mask(series)
        coerced = pd.to_numeric(series.where(~missing), errors="coerce")
        values = coerced.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~missing & ~np.isfinite(values)
    return values, missing, bad


def parse_numeric(series: pd.Series, column: str, *, strict: bool, fitting: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``(values float64, missing bool)``; a non-number (or ±inf) is an error, or missing if not strict."""
    values, missing, bad = to_float(series)
    if bad.any():
        if strict:
            raise bad_value_error(series, bad, column, _EXPECTED, fitting=fitting)
        warn_bad_values(series, bad, column, _EXPECTED)
        missing = missing | bad
    return values, missing


class NumericEncoder:
    """``fit`` on the training column; ``transform`` gives float32 ``(N, 1)`` or ``(N, 2)`` with the flag."""

    kind = "numeric"

    def __init__(self, name: str) -> None:
        self.name = name
        self.mean = 0.0
        self.std = 1.0
        self.median = 0.0
        self.has_missing = False
        self.fitted = False

    @property
    def dim(self) -> int:
        return 1 + int(self.has_missing)

    @property
    def feature_names(self) -> list[str]:
        return [self.name] + ([f"{self.name}__missing"] if self.has_missing else [])

    def fit(self, series: pd.Series) -> NumericEncoder:
        values, missing = parse_numeric(series, self.name, strict=True, fitting=True)
        observed = values[~missing]
        self.has_missing = bool(missing.any())
        if len(observed):
            self.mean = float(observed.mean())
            std = float(observed.std())
            self.std = std if std > 0 and np.isfinite(std) else 1.0  # a constant column stays 0 after scaling
            self.median = float(np.median(observed))
        self.fitted = True
        return self

    def transform(self, series: pd.Series, *, strict: bool = True) -> np.ndarray:
        check_fitted(self)
        values, missing = parse_numeric(series, self.name, strict=strict)
        values = np.where(missing, self.median, values)
        out = np.empty((len(values), self.dim), dtype=np.float32)
        out[:, 0] = np.clip((values - self.mean) / self.std, -NUMERIC_MAX_ABS_Z, NUMERIC_MAX_ABS_Z)
        if self.has_missing:
            out[:, 1] = missing
        return out

    def to_json(self) -> dict[str, Any]:
        check_fitted(self)
        return {
            "type": self.kind,
            "name": self.name,
            "mean": self.mean,
            "std": self.std,
            "median": self.median,
            "has_missing": self.has_missing,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> NumericEncoder:
        check_kind(d, cls.kind, cls.__name__)
        enc = cls(d["name"])
        enc.mean = float(d["mean"])
        enc.std = float(d["std"])
        enc.median = float(d["median"])
        enc.has_missing = bool(d["has_missing"])
        enc.fitted = True
        return enc
