"""``filter``: drop rows by rules (see :mod:`traincraft.data.audit._expr` for the safe grammar)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from traincraft.data.audit._expr import evaluate_rule
from traincraft.data.prepare._outcome import StepContext, StepOutcome, drop_rows
from traincraft.recipe._prepare import FilterStep

NAME = "filter"


def apply(df: pd.DataFrame, step: FilterStep, sc: StepContext) -> StepOutcome:
    mask = np.zeros(len(df), dtype=bool)
    reasons = np.array([""] * len(df), dtype=object)
    for rule in step.drop_if:
        hit = evaluate_rule(df, rule) & ~mask
        reasons[hit] = f"matches drop_if rule {rule!r}"
        mask |= hit
    for rule in step.keep_if:
        hit = ~evaluate_rule(df, rule) & ~mask
        reasons[hit] = f"fails keep_if rule {rule!r}"
        mask |= hit
    return drop_rows(df, mask, reasons)
