"""ID-like columns: a distinct value in (almost) every row and not a measurement or free text.

A model can memorise such a column but never generalise from it; at best it is noise, at worst
it leaks the row order (a running number that follows the label)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from traincraft.data.audit._constants import ID_LIKE_MIN_ROWS, ID_LIKE_UNIQUE_RATIO
from traincraft.data.audit._context import AuditContext, is_missing
from traincraft.data.audit._finding import Finding

NAME = "id_like_columns"


def _id_like(series: pd.Series, kind: str) -> bool:
    values = series[~is_missing(series)]
    if len(values) < ID_LIKE_MIN_ROWS or values.nunique() / len(values) < ID_LIKE_UNIQUE_RATIO:
        return False
    if kind == "numeric":
        x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        if not np.all(np.isfinite(x)) or not np.all(np.mod(x, 1) == 0):
            return False  # distinct real numbers are measurements
        steps = np.diff(np.sort(x))
        return bool(np.mean(steps == 1) > 0.9)  # a running number
    return kind in ("categorical",)


def run(ctx: AuditContext) -> list[Finding]:
    cols = [c for c in ctx.df.columns if ctx.roles.get(c) == "feature" and _id_like(ctx.df[c], ctx.kinds.get(c, ""))]
    if not cols:
        return []
    return [
        Finding(
            check=NAME,
            severity="warning",
            count=len(cols),
            message=(
                f"Column{'s' if len(cols) > 1 else ''} {', '.join(map(str, cols))} look{'' if len(cols) > 1 else 's'} like "
                "row identifiers (a different value in almost every row); a model can only memorise them. "
                "Drop them, or give them role: id (data.columns) to keep them out of the features."
            ),
            fix={"step": "drop_columns", "columns": cols},
            details={"columns": cols},
        )
    ]
