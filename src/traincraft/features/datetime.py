"""Datetime columns: the year standardised, the calendar as points on circles, a missing flag.

Features, in order: year (training mean/std), month, weekday, hour and day of year each as
(sin, cos), so December sits next to January; hour only when some training value has a time of
day. Time-zone-aware values are converted to UTC. A missing date gets the mean year and (0, 0)
on every circle, plus the flag when the training split had missing values.
"""

from __future__ import annotations

import warnings
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

__all__ = ["DatetimeEncoder", "parse_datetime"]

_EXPECTED = "dates or timestamps"


def _integer_text(value: Any) -> str:
    """A number written as a date string: 2024 -> "2024", 2024.0 -> "2024" (a year, not nanoseconds)."""
    f = float(value)
    return str(int(f)) if f.is_integer() else str(value)


def parse_datetime(series: pd.Series, column: str, *, strict: bool, fitting: bool = False) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """``(UTC-naive timestamps, missing bool)``; an unparsable value is an error, or missing if not strict."""
    missing = missing_mask(series)
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        stamps = pd.DatetimeIndex(series)
        if stamps.tz is not None:
            stamps = stamps.tz_convert("UTC").tz_localize(None)
        return stamps, missing
    source = series.astype(object).where(~missing)
    if pd.api.types.is_numeric_dtype(series.dtype):
        source = pd.Series(map_uniques(series, _integer_text), index=series.index).where(~missing)
    with warnings.catch_warnings():
        # pandas warns when it falls back to parsing value by value; that is the intended fallback
        warnings.filterwarnings("ignore", message="Could not infer format", category=UserWarning)
        parsed = pd.to_datetime(source, errors="coerce", utc=True)
        retry = parsed.isna().to_numpy() & ~missing
        if retry.any():  # values in other formats than the first one pandas inferred
            parsed[retry] = pd.to_datetime(source[retry], errors="coerce", utc=True, format="mixed")
    bad = parsed.isna().to_numpy() & ~missing
    if bad.any():
        if strict:
            raise bad_value_error(series, bad, column, _EXPECTED, fitting=fitting)
        warn_bad_values(series, bad, column, _EXPECTED)
        missing = missing | bad
    return pd.DatetimeIndex(parsed).tz_convert("UTC").tz_localize(None), missing


def _circle(values: np.ndarray, period: float) -> tuple[np.ndarray, np.ndarray]:
    angle = 2.0 * np.pi * values / period
    return np.sin(angle), np.cos(angle)


class DatetimeEncoder:
    """``fit`` on the training column; ``transform`` gives float32 ``(N, dim)``."""

    kind = "datetime"

    def __init__(self, name: str) -> None:
        self.name = name
        self.year_mean = 0.0
        self.year_std = 1.0
        self.has_time = False
        self.has_missing = False
        self.fitted = False

    @property
    def dim(self) -> int:
        return len(self.feature_names)

    @property
    def feature_names(self) -> list[str]:
        circles = ["month", "weekday"] + (["hour"] if self.has_time else []) + ["dayofyear"]
        names = [f"{self.name}__year"]
        for circle in circles:
            names += [f"{self.name}__{circle}_sin", f"{self.name}__{circle}_cos"]
        if self.has_missing:
            names.append(f"{self.name}__missing")
        return names

    def fit(self, series: pd.Series) -> DatetimeEncoder:
        stamps, missing = parse_datetime(series, self.name, strict=True, fitting=True)
        observed = stamps[~missing]
        self.has_missing = bool(missing.any())
        if len(observed):
            years = observed.year.to_numpy(dtype=np.float64)
            self.year_mean = float(years.mean())
            std = float(years.std())
            self.year_std = std if std > 0 else 1.0
            self.has_time = bool((observed != observed.normalize()).any())
        self.fitted = True
        return self

    def transform(self, series: pd.Series, *, strict: bool = True) -> np.ndarray:
        check_fitted(self)
        stamps, missing = parse_datetime(series, self.name, strict=strict)
        present = ~missing
        columns = [np.where(present, (stamps.year.to_numpy(dtype=np.float64, na_value=0.0) - self.year_mean) / self.year_std, 0.0)]
        parts = [(stamps.month, 12.0, 1), (stamps.day_of_week, 7.0, 0)]
        if self.has_time:
            parts.append((stamps.hour + stamps.minute / 60.0, 24.0, 0))
        parts.append((stamps.day_of_year, 366.0, 1))
        for values, period, first in parts:
            sin, cos = _circle(np.asarray(values, dtype=np.float64) - first, period)
            columns += [np.where(present, sin, 0.0), np.where(present, cos, 0.0)]
        if self.has_missing:
            columns.append(missing.astype(np.float64))
        return np.stack(columns, axis=1).astype(np.float32)

    def to_json(self) -> dict[str, Any]:
        check_fitted(self)
        return {
            "type": self.kind,
            "name": self.name,
            "year_mean": self.year_mean,
            "year_std": self.year_std,
            "has_time": self.has_time,
            "has_missing": self.has_missing,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> DatetimeEncoder:
        check_kind(d, cls.kind, cls.__name__)
        enc = cls(d["name"])
        enc.year_mean = float(d["year_mean"])
        enc.year_std = float(d["year_std"])
        enc.has_time = bool(d["has_time"])
        enc.has_missing = bool(d["has_missing"])
        enc.fitted = True
        return enc
