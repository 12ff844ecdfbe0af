"""The label column to and from what the loss sees.

Classification: the classes seen in training, sorted, kept as the Python values the user gave
(an int stays an int, a str a str) so predictions read like the data; ``encode`` gives class
indices and refuses a label it never saw. Regression: the target standardised with the
training mean and std (a network fits a unit-scale target far better than raw prices), and
``decode`` maps predictions back to the label's units.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
import torch

from traincraft.errors import DataError
from traincraft.features._common import canonical_key, check_kind, format_row, map_uniques, missing_mask
from traincraft.features.numeric import to_float

__all__ = ["LabelCodec"]

Task = Literal["binary", "multiclass", "regression"]
_TASKS = ("binary", "multiclass", "regression")
_SHOWN_CLASSES = 20  # classes listed in an "unknown label" message


def _plain(value: Any) -> Any:
    """A JSON-able Python value: numpy scalars unwrapped; anything else that is not one becomes str."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _sort_key(value: Any) -> tuple[int, Any]:
    """Numbers before strings, each in natural order; bools count as numbers."""
    if isinstance(value, (bool, int, float)):
        return (0, float(value))
    return (1, str(value))


class LabelCodec:
    """Build with :meth:`fit` on the training labels; ``encode`` / ``decode`` both ways."""

    def __init__(self, task: Task, *, name: str | None = None) -> None:
        if task not in _TASKS:
            raise DataError(f"LabelCodec needs a task in {', '.join(_TASKS)}; got {task!r}.")
        self.task: Task = task
        self.name = name
        self.classes: list[Any] = []
        self.mean = 0.0
        self.std = 1.0
        self._index: dict[str, int] = {}

    @property
    def is_classification(self) -> bool:
        return self.task != "regression"

    @property
    def out_dim(self) -> int:
        """Outputs of the network: one logit per class, or one value for regression."""
        return len(self.classes) if self.is_classification else 1

    def _column(self) -> str:
        return f"label column '{self.name}'" if self.name else "the label column"

    def _check_no_missing(self, series: pd.Series) -> None:
        missing = missing_mask(series)
        if missing.any():
            rows = np.flatnonzero(missing)
            raise DataError(
                f"{self._column().capitalize()} has {len(rows)} missing value(s), first at "
                f"{format_row(series.index[rows[0]])}. Drop these rows (rows without a label cannot be learned from) "
                "or fill in their labels."
            )

    @classmethod
    def fit(cls, series: pd.Series, task: Task, *, name: str | None = None) -> LabelCodec:
        codec = cls(task, name=name if name is not None else (str(series.name) if series.name is not None else None))
        codec._check_no_missing(series)
        if codec.is_classification:
            keys = map_uniques(series, canonical_key)
            _, first_rows = np.unique(keys.astype(str), return_index=True)
            values = [_plain(series.iloc[i]) for i in first_rows]
            codec.classes = sorted(values, key=_sort_key)
            if len(codec.classes) < 2:
                raise DataError(
                    f"{codec._column().capitalize()} has a single class ({codec.classes[0]!r}) in the training split; "
                    "a classifier needs at least two. Check the label column and the split."
                )
            if task == "binary" and len(codec.classes) != 2:
                raise DataError(
                    f"The task is binary but {codec._column()} has {len(codec.classes)} classes in the training split; "
                    "set task: multiclass in the recipe."
                )
            codec._index = {canonical_key(c): i for i, c in enumerate(codec.classes)}
        else:
            values = codec._numbers(series)
            codec.mean = float(values.mean())
            std = float(values.std())
            codec.std = std if std > 0 else 1.0
        return codec

    def _numbers(self, series: pd.Series) -> np.ndarray:
        values, _, bad = to_float(series)  # missing labels were refused already
        if bad.any():
            rows = np.flatnonzero(bad)
            raise DataError(
                f"Regression needs numbers in {self._column()}, but {format_row(series.index[rows[0]])} holds "
                f"{series.iloc[rows[0]]!r} ({len(rows)} such values). Fix these labels, or set task: binary/multiclass "
                "if the label names classes."
            )
        return values

    def encode(self, series: pd.Series) -> torch.Tensor:
        """Class indices int64 ``(N,)``, or the standardised target float32 ``(N,)``."""
        self._check_no_missing(series)
        if not self.is_classification:
            values = (self._numbers(series) - self.mean) / self.std
            return torch.from_numpy(values.astype(np.float32))
        index = self._index
        codes = map_uniques(series, lambda v: index.get(canonical_key(v), -1), dtype=np.int64)
        unknown = codes < 0
        if unknown.any():
            rows = np.flatnonzero(unknown)
            values = list(dict.fromkeys(_plain(series.iloc[r]) for r in rows))
            shown = ", ".join(repr(c) for c in self.classes[:_SHOWN_CLASSES])
            more = " ..." if len(self.classes) > _SHOWN_CLASSES else ""
            raise DataError(
                f"{self._column().capitalize()} holds {', '.join(repr(v) for v in values[:5])} "
                f"(first at {format_row(series.index[rows[0]])}), not seen in training. "
                f"Known classes: {shown}{more}. Drop these rows, or retrain on data that has this class."
            )
        return torch.from_numpy(np.ascontiguousarray(codes))

    def decode(self, values: np.ndarray | torch.Tensor | list) -> np.ndarray:
        """Class indices to labels (the values given in training), or predictions to label units."""
        if isinstance(values, torch.Tensor):
            values = values.detach().cpu().numpy()
        values = np.asarray(values)
        if not self.is_classification:
            return values.astype(np.float64) * self.std + self.mean
        labels = pd.Index(self.classes).to_numpy()
        if values.size and (values.min() < 0 or values.max() >= len(labels)):
            raise DataError(f"Class index out of range: indices must be in 0..{len(labels) - 1} for {len(labels)} classes.")
        return labels[values.astype(np.int64)]

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"type": "labels", "task": self.task, "name": self.name}
        if self.is_classification:
            d["classes"] = list(self.classes)
        else:
            d["mean"] = self.mean
            d["std"] = self.std
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> LabelCodec:
        check_kind(d, "labels", cls.__name__)
        codec = cls(d["task"], name=d.get("name"))
        if codec.is_classification:
            codec.classes = list(d["classes"])
            codec._index = {canonical_key(c): i for i, c in enumerate(codec.classes)}
        else:
            codec.mean = float(d["mean"])
            codec.std = float(d["std"])
        return codec
