"""Exact duplicates: rows whose content (every column but the label and ids) is equal after
normalisation (Unicode NFKC, case folded, whitespace collapsed; numbers as numbers)."""

from __future__ import annotations

import numpy as np

from traincraft.data.audit._context import AuditContext
from traincraft.data.audit._finding import Finding

NAME = "exact_duplicates"
GROUPS_SHOWN = 100  # largest duplicate groups listed in the finding's details


def duplicate_groups(ctx: AuditContext) -> tuple[np.ndarray, np.ndarray]:
    """(group, first): ``group[i]`` numbers row i's content (0..G-1, first-seen order) and
    ``first[g]`` is the position of group g's first row."""

    def compute() -> tuple[np.ndarray, np.ndarray]:
        key = ctx.content_key()
        _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        # renumber groups in order of first appearance so that results are stable and readable
        order = np.argsort(first, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        return rank[inverse.ravel()], first[order]

    return ctx.cached("exact_groups", compute)


def run(ctx: AuditContext) -> list[Finding]:
    if ctx.n < 2 or not ctx.content_columns:
        return []
    group, first = duplicate_groups(ctx)
    is_first = np.zeros(ctx.n, dtype=bool)
    is_first[first] = True
    dup = ~is_first
    count = int(dup.sum())
    if count == 0:
        return []
    sizes = np.bincount(group)
    multi = np.flatnonzero(sizes > 1)
    largest = multi[np.argsort(-sizes[multi], kind="stable")][:GROUPS_SHOWN]
    ids = ctx.ids
    members = {int(g): [] for g in largest}
    for pos in np.flatnonzero(np.isin(group, largest)):
        members[int(group[pos])].append(ids[pos])
    share = count / ctx.n
    return [
        Finding(
            check=NAME,
            severity="warning",
            count=count,
            row_ids=ids[dup].tolist(),
            message=(
                f"{count:,} rows ({share:.1%}) repeat an earlier row exactly (after Unicode NFKC, case and "
                f"whitespace normalisation), in {len(multi):,} groups; the largest has {int(sizes.max()):,} rows. "
                "Duplicates weigh some examples more than others and leak across splits."
            ),
            fix={"step": "dedupe", "mode": "exact", "keep": "majority" if ctx.label else "first"},
            details={
                "groups": len(multi),
                "columns": ctx.content_columns,
                "largest_groups": [members[int(g)] for g in largest],
            },
        )
    ]
