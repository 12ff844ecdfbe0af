"""Irrelevant rows by the user's rules: each rule is an expression (see :mod:`._expr`) that is
true for rows that do not belong in the data, e.g. ``len(text) < 3`` or ``country != 'UK'``."""

from __future__ import annotations

from traincraft.data.audit._context import AuditContext
from traincraft.data.audit._expr import evaluate_rule
from traincraft.data.audit._finding import Finding

NAME = "rules"


def run(ctx: AuditContext) -> list[Finding]:
    out = []
    for rule in ctx.rules:
        mask = evaluate_rule(ctx.df, rule)
        count = int(mask.sum())
        if count == 0:
            continue
        out.append(
            Finding(
                check=NAME,
                severity="warning",
                count=count,
                row_ids=ctx.ids[mask].tolist(),
                message=f"{count:,} rows match the rule {rule!r} (rows that do not belong in the data).",
                fix={"step": "filter", "drop_if": [rule]},
                details={"rule": rule},
            )
        )
    return out
