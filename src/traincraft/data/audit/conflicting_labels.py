"""Conflicting labels: exact or near duplicates that were given different labels. At least one of
them is wrong, or the features cannot tell the classes apart."""

from __future__ import annotations

import numpy as np
import pandas as pd

from traincraft.data.audit._context import AuditContext, label_missing
from traincraft.data.audit._finding import Finding
from traincraft.data.audit.exact_duplicates import duplicate_groups
from traincraft.data.audit.near_duplicates import near_clusters

NAME = "conflicting_labels"
GROUPS_SHOWN = 50


def duplicate_sets(ctx: AuditContext, *, near: bool = True) -> np.ndarray:
    """(n,) id of each row's duplicate set: its near-duplicate cluster, else its exact group."""
    group, _ = duplicate_groups(ctx)
    if not near:
        return group
    cluster = near_clusters(ctx).cluster
    return np.where(cluster >= 0, group.max(initial=-1) + 1 + cluster, group)


def run(ctx: AuditContext) -> list[Finding]:
    if ctx.label is None or ctx.n < 2 or not ctx.content_columns:
        return []
    sets = duplicate_sets(ctx)
    labelled = ~label_missing(ctx.df[ctx.label])
    frame = pd.DataFrame({"set": sets[labelled], "label": ctx.df[ctx.label].to_numpy()[labelled].astype(str)})
    distinct = frame.groupby("set")["label"].nunique()
    bad_sets = distinct.index[distinct > 1].to_numpy()
    if not len(bad_sets):
        return []
    mask = np.isin(sets, bad_sets) & labelled
    ids = ctx.ids
    shown = []
    for s in bad_sets[:GROUPS_SHOWN]:
        pos = np.flatnonzero((sets == s) & labelled)
        shown.append({"rows": ids[pos].tolist(), "labels": ctx.df[ctx.label].iloc[pos].astype(str).tolist()})
    count = int(mask.sum())
    return [
        Finding(
            check=NAME,
            severity="warning",
            count=count,
            row_ids=ids[mask].tolist(),
            message=(
                f"{len(bad_sets):,} groups of duplicate or near-duplicate rows ({count:,} rows) carry different labels; "
                "keep the majority label per group, or review them."
            ),
            fix={"step": "dedupe", "mode": "near", "keep": "majority"},
            details={"groups": len(bad_sets), "examples": shown},
        )
    ]
