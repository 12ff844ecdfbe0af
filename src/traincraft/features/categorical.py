"""Categorical columns: an index per category for an ``nn.Embedding``.

Index 0 is unknown or rare (seen fewer than ``CATEGORICAL_MIN_COUNT`` times in training), 1 is
missing, and 2, 3, ... are the training vocabulary in sorted order. Categories are matched on
:func:`~traincraft.features._common.canonical_key`, so 3, 3.0 and "3" are one category.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from traincraft.constants import CATEGORICAL_MIN_COUNT
from traincraft.features._common import canonical_key, check_fitted, check_kind

__all__ = ["CategoricalEncoder", "UNKNOWN", "MISSING", "RESERVED"]

UNKNOWN = 0
MISSING = 1
RESERVED = 2  # indices before the vocabulary


class CategoricalEncoder:
    """``fit`` on the training column; ``transform`` gives int64 ``(N,)`` indices."""

    kind = "categorical"

    def __init__(self, name: str, *, min_count: int = CATEGORICAL_MIN_COUNT) -> None:
        self.name = name
        self.min_count = min_count
        self.vocabulary: list[str] = []
        self._index: dict[str, int] = {}
        self.fitted = False

    @property
    def cardinality(self) -> int:
        """Rows of the embedding table: the vocabulary plus the unknown and missing indices."""
        return len(self.vocabulary) + RESERVED

    def _codes(self, series: pd.Series) -> tuple[np.ndarray, list[str]]:
        """Per-row position in the sorted list of distinct keys (-1 for missing) and that list.

        One ``factorize``; the Python work is per distinct value, not per row.
        """
        codes, uniques = pd.factorize(series, use_na_sentinel=True)  # NaN / None / NA -> -1
        keys = [None if isinstance(v, str) and not v.strip() else canonical_key(v) for v in uniques]
        distinct = sorted({k for k in keys if k is not None})
        position = {k: i for i, k in enumerate(distinct)}
        to_distinct = np.array([-1 if k is None else position[k] for k in keys] + [-1], dtype=np.int64)
        return to_distinct[codes], distinct  # code -1 picks the trailing -1

    def fit(self, series: pd.Series) -> CategoricalEncoder:
        codes, distinct = self._codes(series)
        counts = np.bincount(codes[codes >= 0], minlength=len(distinct))
        self.vocabulary = [k for k, c in zip(distinct, counts) if c >= self.min_count]
        self._index = {k: i + RESERVED for i, k in enumerate(self.vocabulary)}
        self.fitted = True
        return self

    def transform(self, series: pd.Series, *, strict: bool = True) -> np.ndarray:
        """Indices; any value is a valid category, so ``strict`` has nothing to refuse here."""
        check_fitted(self)
        codes, distinct = self._codes(series)
        lookup = np.array([self._index.get(k, UNKNOWN) for k in distinct] + [MISSING], dtype=np.int64)
        return lookup[codes]  # code -1 (missing) picks MISSING

    def to_json(self) -> dict[str, Any]:
        check_fitted(self)
        return {"type": self.kind, "name": self.name, "min_count": self.min_count, "vocabulary": list(self.vocabulary)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> CategoricalEncoder:
        check_kind(d, cls.kind, cls.__name__)
        enc = cls(d["name"], min_count=int(d["min_count"]))
        enc.vocabulary = [str(k) for k in d["vocabulary"]]
        enc._index = {k: i + RESERVED for i, k in enumerate(enc.vocabulary)}
        enc.fitted = True
        return enc
