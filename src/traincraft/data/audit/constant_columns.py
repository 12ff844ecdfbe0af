"""Constant columns: one value (or nothing) in every row; they carry no information."""

from __future__ import annotations

from traincraft.data.audit._context import AuditContext
from traincraft.data.audit._finding import Finding

NAME = "constant_columns"


def run(ctx: AuditContext) -> list[Finding]:
    if ctx.n < 2:
        return []
    constant = [c for c in ctx.df.columns if c != ctx.label and ctx.df[c].nunique(dropna=False) <= 1]
    if not constant:
        return []
    return [
        Finding(
            check=NAME,
            severity="warning",
            count=len(constant),
            message=f"{len(constant)} column{'s are' if len(constant) > 1 else ' is'} constant: {', '.join(map(str, constant))}; drop {'them' if len(constant) > 1 else 'it'}.",
            fix={"step": "drop_columns", "columns": constant},
            details={"columns": constant, "values": {c: ctx.df[c].iloc[0] for c in constant}},
        )
    ]
