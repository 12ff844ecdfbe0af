"""Missing values per column: empty cells (NaN, None, blank strings), one finding per column."""

from __future__ import annotations

import numpy as np

from traincraft.data.audit._context import AuditContext, is_missing
from traincraft.data.audit._finding import Finding

NAME = "missing_values"
ERROR_SHARE = 0.5  # a feature column missing in more than half its rows carries little information


def missing_masks(ctx: AuditContext) -> dict[str, np.ndarray]:
    return ctx.cached("missing", lambda: {c: is_missing(ctx.df[c]) for c in ctx.df.columns})


def run(ctx: AuditContext) -> list[Finding]:
    out = []
    masks = missing_masks(ctx)
    for col in ctx.df.columns:
        if col == ctx.label:
            continue  # rows without a label are the missing_labels check
        mask = masks[col]
        count = int(mask.sum())
        if count == 0:
            continue
        share = count / ctx.n
        kind = ctx.kinds.get(col)
        if share == 1.0:
            fix, how = {"step": "drop_columns", "columns": [col]}, "it is empty in every row; drop it"
        elif kind == "numeric":
            fix, how = {"step": "impute", "columns": [col], "strategy": "median", "indicator": True}, "impute the median (with an indicator column)"
        elif kind in ("categorical", "boolean"):
            fix, how = {"step": "impute", "columns": [col], "strategy": "mode", "indicator": True}, "impute the most common value (with an indicator column)"
        else:
            fix, how = {"step": "drop_missing", "columns": [col]}, "drop these rows, or impute a constant"
        out.append(
            Finding(
                check=NAME,
                severity="error" if share == 1.0 else ("warning" if share > ERROR_SHARE or kind not in ("numeric", "categorical", "boolean") else "info"),
                count=count,
                row_ids=ctx.ids[mask].tolist(),
                message=f"Column '{col}' is missing in {count:,} of {ctx.n:,} rows ({share:.1%}); {how}.",
                fix=fix,
                details={"column": col, "share": share, "kind": kind},
            )
        )
    return out
