"""Columns of mixed types: mostly numbers with some words in them (a unit, a typo, a note), which
would otherwise turn a numeric column into a categorical one or break its encoder.

The check judges the values, not only the schema's type: the schema types a column with a single
word among its numbers as text (it must be able to encode every cell), and that is exactly the
column this check is for."""

from __future__ import annotations

import pandas as pd

from traincraft.data.audit._constants import DISGUISED_MISSING_STRINGS
from traincraft.data.audit._context import AuditContext, column_kind, is_missing
from traincraft.data.audit._finding import Finding

NAME = "mixed_types"
VALUES_SHOWN = 10


def run(ctx: AuditContext) -> list[Finding]:
    out = []
    for col in ctx.df.columns:
        series = ctx.df[col]
        if pd.api.types.is_numeric_dtype(series.dtype) or col == ctx.label:
            continue
        if ctx.kinds.get(col) != "numeric" and column_kind(series) != "numeric":
            continue
        present = ~is_missing(series)
        text = series.astype(object).map(lambda v: v.strip() if isinstance(v, str) else v)
        numbers = pd.to_numeric(text.where(present, None), errors="coerce")
        disguised = text.map(lambda v: isinstance(v, str) and v.lower() in DISGUISED_MISSING_STRINGS).to_numpy(dtype=bool)
        bad = present & numbers.isna().to_numpy() & ~disguised
        count = int(bad.sum())
        if count == 0:
            continue
        values = sorted({str(v) for v in text[bad]})[:VALUES_SHOWN]
        out.append(
            Finding(
                check=NAME,
                severity="warning",
                count=count,
                row_ids=ctx.ids[bad].tolist(),
                message=(
                    f"Column '{col}' holds numbers, but {count:,} rows hold something else "
                    f"({', '.join(repr(v) for v in values)}); fix them, or treat them as missing."
                ),
                fix={"step": "impute", "columns": [col], "strategy": "median", "indicator": True, "missing_values": values},
                details={"column": col, "values": values},
            )
        )
    return out
