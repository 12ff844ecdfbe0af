"""What one prepare step did: the rows it kept, dropped and changed, each with a reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["StepContext", "StepOutcome"]


@dataclass
class StepContext:
    """What a step may need besides the table: the label, the schema, where the review file is."""

    label: str | None
    schema: Any = None
    review: Any = None  # a decisions DataFrame, or a path, for relabel
    base_dir: Any = None  # where relative paths of the recipe point
    seed: int = 0
    fit_rows: Any = None  # row ids fitted steps learn from (the training split); None: every row

    def fit_mask(self, df: pd.DataFrame) -> np.ndarray:
        """Which of ``df``'s rows a fitted step (impute, drop_label_issues) may learn from."""
        if self.fit_rows is None:
            return np.ones(len(df), dtype=bool)
        return df.index.isin(self.fit_rows)


@dataclass
class StepOutcome:
    """``frame`` is the table after the step (dropped rows removed, changed rows edited).

    ``dropped`` / ``changed`` map row ids to the reason. ``columns_added`` / ``columns_dropped``
    record changes of the table's shape that are not about rows.
    """

    frame: pd.DataFrame
    dropped: dict[Any, str] = field(default_factory=dict)
    changed: dict[Any, str] = field(default_factory=dict)
    columns_added: list[str] = field(default_factory=list)
    columns_dropped: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


def drop_rows(df: pd.DataFrame, mask: np.ndarray, reasons: Any) -> StepOutcome:
    """An outcome that drops ``df``'s rows where ``mask`` holds; ``reasons`` is one string or one per row."""
    ids = df.index[mask]
    if isinstance(reasons, str):
        dropped = {i: reasons for i in ids}
    else:
        dropped = dict(zip(ids, np.asarray(reasons, dtype=object)[mask]))
    return StepOutcome(df.loc[~mask], dropped=dropped)
