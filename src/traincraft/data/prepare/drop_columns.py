"""``drop_columns``: remove whole columns. No row is dropped or changed; the manifest lists the columns."""

from __future__ import annotations

import pandas as pd

from traincraft.data.prepare._outcome import StepContext, StepOutcome
from traincraft.data.prepare.drop_missing import check_columns
from traincraft.errors import DataError
from traincraft.recipe._prepare import DropColumnsStep

NAME = "drop_columns"


def apply(df: pd.DataFrame, step: DropColumnsStep, sc: StepContext) -> StepOutcome:
    check_columns(df, step.columns, "drop_columns")
    if sc.label in step.columns:
        raise DataError(f"drop_columns: '{sc.label}' is the label column; it cannot be dropped.")
    return StepOutcome(df.drop(columns=step.columns), columns_dropped=list(step.columns))
