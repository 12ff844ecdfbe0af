"""What every check needs, computed once per audit: column kinds, normalised text, content keys.

The audit never refuses a table it can read: column kinds are inferred leniently here (an
all-empty column, a one-class label or a single row are findings, not errors), and a schema,
when given, overrides them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from traincraft.constants import IMAGE_EXTENSIONS, SCHEMA_SAMPLE_ROWS, TEXT_MIN_MEAN_WORDS
from traincraft.data.audit._text import mix64, normalise

__all__ = ["AuditContext", "column_kind", "is_missing", "label_missing"]

log = logging.getLogger(__name__)

KINDS = ("numeric", "categorical", "boolean", "text", "image", "datetime")
_NUMERIC_SHARE = 0.9  # a string column whose non-empty values parse as numbers this often is numeric (with bad cells)


def is_missing(series: pd.Series) -> np.ndarray:
    """True where a cell is NaN/None/NaT or a blank string."""
    missing = series.isna().to_numpy(dtype=bool)
    if series.dtype == object or pd.api.types.is_string_dtype(series.dtype):
        text = series.astype("str") if series.dtype != object else series.map(lambda v: v if isinstance(v, str) else None)
        blank = text.str.strip().eq("").fillna(False).to_numpy(dtype=bool)
        missing = missing | blank
    return missing


def label_missing(series: pd.Series) -> np.ndarray:
    return is_missing(series)


def column_kind(series: pd.Series) -> str:
    """A lenient guess of a column's kind from its dtype and (a sample of) its values."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_numeric_dtype(dtype) and not isinstance(dtype, pd.CategoricalDtype):
        return "numeric"
    sample = series.iloc[:: max(1, len(series) // SCHEMA_SAMPLE_ROWS)]
    values = sample[~is_missing(sample)]
    if values.empty:
        return "categorical"
    objects = values.astype(object)
    if objects.map(lambda v: isinstance(v, (bool, np.bool_))).all():
        return "boolean"
    text = objects.astype(str).str.strip()
    if pd.to_numeric(text, errors="coerce").notna().mean() >= _NUMERIC_SHARE:
        return "numeric"
    lowered = text.str.lower()
    if lowered.str.endswith(IMAGE_EXTENSIONS).mean() >= 0.9:
        return "image"
    if text.str.split().str.len().mean() >= TEXT_MIN_MEAN_WORDS:
        return "text"
    return "categorical"


@dataclass
class AuditContext:
    """The table under audit and everything derived from it that more than one check uses."""

    df: pd.DataFrame
    label: str | None
    kinds: dict[str, str]
    roles: dict[str, str]
    sensitive: list[str]
    rules: list[str]
    splits: Any = None
    task: str | None = None
    _cache: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        df: pd.DataFrame,
        *,
        label: str | None,
        schema: Any = None,
        sensitive: Sequence[str] = (),
        rules: Sequence[str] = (),
        splits: Any = None,
    ) -> "AuditContext":
        kinds: dict[str, str] = {}
        roles: dict[str, str] = {}
        declared = {c.name: c for c in schema.columns} if schema is not None else {}
        for name in df.columns:
            col = declared.get(name)
            kinds[name] = col.type if col is not None else column_kind(df[name])
            roles[name] = col.role if col is not None else "feature"
        if label is not None:
            roles[label] = "label"
        sens = list(sensitive)
        if schema is not None:
            sens += [c.name for c in schema.columns if c.role == "sensitive" and c.name not in sens]
        for name in sens:
            if name in roles and roles[name] == "feature":
                roles[name] = "sensitive"
        task = getattr(schema, "task", None)
        return cls(df, label, kinds, roles, sens, list(rules), splits, task)

    # --- columns ---------------------------------------------------------------------------
    @property
    def n(self) -> int:
        return len(self.df)

    @property
    def content_columns(self) -> list[str]:
        """Columns whose values make a row what it is: all but the label, ids, groups and times."""
        return [c for c in self.df.columns if self.roles.get(c) not in ("label", "id", "ignore", "group", "time")]

    def of_kind(self, kind: str, columns: Sequence[str] | None = None) -> list[str]:
        cols = self.content_columns if columns is None else columns
        return [c for c in cols if self.kinds.get(c) == kind]

    @property
    def text_columns(self) -> list[str]:
        return self.of_kind("text")

    @property
    def ids(self) -> np.ndarray:
        return self.df.index.to_numpy()

    # --- cached derived data -----------------------------------------------------------------
    def normalised(self, column: str) -> pa.LargeStringArray:
        key = f"norm:{column}"
        if key not in self._cache:
            self._cache[key] = normalise(self.df[column])
        return self._cache[key]

    def content_key(self) -> np.ndarray:
        """(n,) uint64: equal for rows whose content columns are equal after normalisation.

        Text and string cells are normalised (NFKC, case, whitespace); numbers compare as
        numbers; a missing cell equals only another missing cell.
        """
        if "content_key" not in self._cache:
            cols = self.content_columns
            key = np.zeros(self.n, dtype=np.uint64)
            for i, col in enumerate(cols):
                key = key * np.uint64(0x100000001B3) + self._cell_hashes(col) + np.uint64(i)
            self._cache["content_key"] = key
        return self._cache["content_key"]

    def _cell_hashes(self, column: str) -> np.ndarray:
        series = self.df[column]
        if self.kinds.get(column) in ("text", "categorical", "image") or series.dtype == object or pd.api.types.is_string_dtype(series.dtype):
            norm = pc.fill_null(self.normalised(column), "\x00<missing>")
            codes = pc.dictionary_encode(norm).indices.to_numpy(zero_copy_only=False)  # equal texts, equal codes
            return mix64(codes.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15))
        return pd.util.hash_pandas_object(series, index=False).to_numpy()

    def labels(self) -> pd.Series | None:
        return self.df[self.label] if self.label is not None else None

    def cached(self, key: str, compute):
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]
