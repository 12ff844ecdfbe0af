"""Class balance: classes too small to learn or to evaluate, and strong imbalance."""

from __future__ import annotations

import numpy as np
import pandas as pd

from traincraft.constants import REGRESSION_MIN_UNIQUE
from traincraft.data.audit._constants import IMBALANCE_RATIO, MIN_CLASS_ROWS
from traincraft.data.audit._context import AuditContext, label_missing
from traincraft.data.audit._finding import Finding

NAME = "class_balance"


def is_classification(ctx: AuditContext) -> bool:
    """Whether the label holds classes (schema task, else: not numeric with many distinct values)."""
    if ctx.label is None:
        return False
    if ctx.task is not None:
        return ctx.task in ("binary", "multiclass")
    labels = ctx.df[ctx.label]
    values = labels[~label_missing(labels)]
    if values.empty:
        return False
    numeric = pd.api.types.is_numeric_dtype(labels.dtype) and not pd.api.types.is_bool_dtype(labels.dtype)
    if not numeric:
        return True
    x = values.to_numpy(dtype=float)
    return bool(np.all(np.mod(x, 1) == 0) and values.nunique() <= REGRESSION_MIN_UNIQUE)


def run(ctx: AuditContext) -> list[Finding]:
    if not is_classification(ctx):
        return []
    labels = ctx.df[ctx.label]
    present = ~label_missing(labels)
    values = labels.astype(str).to_numpy()
    counts = pd.Series(values[present]).value_counts()
    out = []
    if len(counts) < 2:
        only = counts.index[0] if len(counts) else None
        out.append(
            Finding(
                check=NAME,
                severity="error",
                count=int(present.sum()),
                message=f"Label '{ctx.label}' has a single class ({only!r}); a classifier needs at least two.",
                details={"counts": counts.to_dict()},
            )
        )
        return out
    small = counts[counts < MIN_CLASS_ROWS]
    if len(small):
        mask = np.isin(values, small.index.to_numpy()) & present
        listed = ", ".join(f"{c!r} ({n})" for c, n in small.items())
        out.append(
            Finding(
                check=NAME,
                severity="warning",
                count=int(mask.sum()),
                row_ids=ctx.ids[mask].tolist(),
                message=(
                    f"{len(small)} class{'es have' if len(small) > 1 else ' has'} fewer than {MIN_CLASS_ROWS} rows: {listed}. "
                    "Too few to learn, and to appear in every split; collect more, merge, or drop them."
                ),
                fix={"step": "filter", "drop_if": [f"`{ctx.label}` in {[str(c) for c in small.index]}"]},
                details={"counts": counts.to_dict(), "small": small.to_dict()},
            )
        )
    ratio = counts.iloc[0] / counts.iloc[-1]
    if ratio > IMBALANCE_RATIO:
        out.append(
            Finding(
                check=NAME,
                severity="info",
                count=int(counts.iloc[-1]),
                row_ids=ctx.ids[(values == counts.index[-1]) & present].tolist(),
                message=(
                    f"Classes are imbalanced: {counts.index[0]!r} has {ratio:.0f}x the rows of {counts.index[-1]!r}. "
                    "Use train.class_weights: balanced and judge the model by macro-F1, not accuracy."
                ),
                details={"counts": counts.to_dict(), "ratio": float(ratio)},
            )
        )
    return out
