"""Rows with no label: they cannot be trained or scored on."""

from __future__ import annotations

from traincraft.data.audit._context import AuditContext, label_missing
from traincraft.data.audit._finding import Finding

NAME = "missing_labels"


def run(ctx: AuditContext) -> list[Finding]:
    if ctx.label is None:
        return []
    mask = label_missing(ctx.df[ctx.label])
    count = int(mask.sum())
    if count == 0:
        return []
    everywhere = count == ctx.n
    return [
        Finding(
            check=NAME,
            severity="error" if everywhere else "warning",
            count=count,
            row_ids=ctx.ids[mask].tolist(),
            message=(
                f"Label column '{ctx.label}' is empty in {'every row' if everywhere else f'{count:,} of {ctx.n:,} rows'}"
                + ("; check that it is the right column." if everywhere else "; these rows are left out of training and kept in the quarantine.")
            ),
            fix={"step": "drop_missing", "columns": [ctx.label]},
            details={"column": ctx.label, "share": count / max(ctx.n, 1)},
        )
    ]
