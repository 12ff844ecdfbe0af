"""Split leakage: the same example (exact or near duplicate) or the same group in more than one of
train / validation / test. The test score then measures memory, not generalisation."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from traincraft.data.audit._context import AuditContext
from traincraft.data.audit._finding import Finding
from traincraft.data.audit.exact_duplicates import duplicate_groups
from traincraft.data.audit.near_duplicates import near_clusters
from traincraft.errors import DataError

NAME = "split_leakage"
SPLIT_NAMES = ("train", "validation", "test")


def split_of_rows(ctx: AuditContext, splits: Any) -> np.ndarray:
    """(n,) 0/1/2 for train/validation/test, -1 for rows in no split."""
    where = np.full(ctx.n, -1, dtype=np.int64)
    position = pd.Series(np.arange(ctx.n), index=ctx.df.index)
    if not position.index.is_unique:
        raise DataError("The table's index has repeated row ids; split leakage needs one id per row (df.reset_index(drop=True)).")
    for s, name in enumerate(SPLIT_NAMES):
        ids = splits.get(name, []) if isinstance(splits, dict) else getattr(splits, name, [])
        ids = list(np.asarray(ids).tolist())
        found = position.reindex(ids)
        if found.isna().any():
            missing = [i for i, v in zip(ids, found.isna()) if v][:5]
            raise DataError(f"The {name} split names row ids that are not in the table, e.g. {missing}; the splits belong to other data.")
        where[found.to_numpy(dtype=np.int64)] = s
    return where


def _crossing(sets: np.ndarray, where: np.ndarray) -> np.ndarray:
    """Rows in a later split whose set also has a row in an earlier split (test vs train first)."""
    assigned = where >= 0
    frame = pd.DataFrame({"set": sets[assigned], "split": where[assigned]})
    earliest = frame.groupby("set")["split"].min()
    first_split = pd.Series(sets).map(earliest).to_numpy()
    return assigned & (sets >= 0) & (where > np.nan_to_num(first_split, nan=99).astype(np.int64))


def _pairs_summary(where: np.ndarray, mask: np.ndarray, sets: np.ndarray) -> dict[str, int]:
    out: dict[str, int] = {}
    frame = pd.DataFrame({"set": sets, "split": where})
    splits_of_set = frame[where >= 0].groupby("set")["split"].agg(lambda s: frozenset(s))
    for pos in np.flatnonzero(mask):
        for other in sorted(splits_of_set[sets[pos]]):
            if other < where[pos]:
                key = f"{SPLIT_NAMES[other]}-{SPLIT_NAMES[where[pos]]}"
                out[key] = out.get(key, 0) + 1
    return out


def run(ctx: AuditContext) -> list[Finding]:
    if ctx.splits is None or ctx.n < 2:
        return []
    where = split_of_rows(ctx, ctx.splits)
    out = []
    group, _ = duplicate_groups(ctx)
    exact = _crossing(group, where)
    if exact.any():
        count = int(exact.sum())
        out.append(
            Finding(
                check=NAME,
                severity="error",
                count=count,
                row_ids=ctx.ids[exact].tolist(),
                message=f"{count:,} rows in validation/test repeat a row of an earlier split exactly; their scores are memory, not generalisation. Dedupe before splitting.",
                fix={"step": "dedupe", "mode": "exact", "keep": "first"},
                details={"kind": "exact", "by_split": _pairs_summary(where, exact, group)},
            )
        )
    clusters = near_clusters(ctx).cluster
    near = _crossing(clusters, where) & ~exact
    if near.any():
        count = int(near.sum())
        out.append(
            Finding(
                check=NAME,
                severity="error",
                count=count,
                row_ids=ctx.ids[near].tolist(),
                message=f"{count:,} rows in validation/test are near duplicates of a row in an earlier split. Dedupe (mode: near) before splitting.",
                fix={"step": "dedupe", "mode": "near", "keep": "first"},
                details={"kind": "near", "by_split": _pairs_summary(where, near, clusters)},
            )
        )
    for col in [c for c, r in ctx.roles.items() if r == "group"]:
        codes = pd.factorize(ctx.df[col].astype(str))[0]
        shared = _crossing(codes, where)
        if shared.any():
            count = int(shared.sum())
            n_groups = len(np.unique(codes[shared]))
            out.append(
                Finding(
                    check=NAME,
                    severity="error",
                    count=count,
                    row_ids=ctx.ids[shared].tolist(),
                    message=f"{n_groups:,} values of group column '{col}' appear in more than one split ({count:,} rows). Use split.method: group.",
                    details={"kind": "group", "column": col, "groups": n_groups, "by_split": _pairs_summary(where, shared, codes)},
                )
            )
    return out
