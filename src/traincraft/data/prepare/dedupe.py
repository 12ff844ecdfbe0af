"""``dedupe``: keep one row of each exact or near-duplicate set (the first, or the majority label's)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from traincraft.data.audit._context import AuditContext, label_missing
from traincraft.data.audit.conflicting_labels import duplicate_sets
from traincraft.data.prepare._outcome import StepContext, StepOutcome
from traincraft.errors import SchemaError
from traincraft.recipe._prepare import DedupeStep

NAME = "dedupe"


def apply(df: pd.DataFrame, step: DedupeStep, sc: StepContext) -> StepOutcome:
    if step.columns is not None:
        missing = [c for c in step.columns if c not in df.columns]
        if missing:
            raise SchemaError(f"dedupe: column '{missing[0]}' is not in the data. Columns: {', '.join(map(str, df.columns))}.")
    ctx = AuditContext.build(df, label=sc.label, schema=sc.schema)
    if step.columns is not None:
        for col in df.columns:
            if col not in step.columns and ctx.roles.get(col) not in ("label",):
                ctx.roles[col] = "ignore"
    if len(df) < 2:
        return StepOutcome(df)
    sets = duplicate_sets(ctx, near=step.mode == "near")
    n = len(df)
    pos = np.arange(n)
    first_of_set = pd.Series(pos).groupby(sets).transform("min").to_numpy()
    keep = pos == first_of_set
    reasons = np.array([""] * n, dtype=object)
    what = "exact duplicate" if step.mode == "exact" else "duplicate or near duplicate"
    ids = df.index.to_numpy()
    if step.keep == "majority" and sc.label is not None:
        labels = df[sc.label].astype(str).to_numpy()
        has_label = ~label_missing(df[sc.label])
        keep = np.zeros(n, dtype=bool)
        frame = pd.DataFrame({"set": sets, "label": np.where(has_label, labels, None), "pos": pos})
        for s, grp in frame.groupby("set", sort=False):
            if len(grp) == 1:
                keep[grp["pos"].iloc[0]] = True
                continue
            votes = grp["label"].dropna().value_counts()
            if len(votes) == 0:
                keep[grp["pos"].iloc[0]] = True
                winner = None
            elif len(votes) > 1 and votes.iloc[0] == votes.iloc[1]:
                tied = ", ".join(f"{k!r} x{v}" for k, v in votes.items())
                reasons[grp["pos"].to_numpy()] = f"{what} set with conflicting labels and no majority ({tied})"
                continue
            else:
                winner = votes.index[0]
                keeper = grp["pos"][grp["label"] == winner].iloc[0]
                keep[keeper] = True
            head = ids[grp["pos"][keep[grp["pos"]]].iloc[0]]
            for p, lab in zip(grp["pos"], grp["label"]):
                if keep[p]:
                    continue
                if winner is not None and lab is not None and lab != winner:
                    reasons[p] = f"{what} of row {head} with minority label {lab!r} (majority {winner!r})"
                else:
                    reasons[p] = f"{what} of row {head}"
    else:
        for p in np.flatnonzero(~keep):
            reasons[p] = f"{what} of row {ids[first_of_set[p]]}"
    outcome = StepOutcome(df.loc[keep], dropped={ids[p]: reasons[p] for p in np.flatnonzero(~keep)})
    outcome.details = {"mode": step.mode, "keep": step.keep, "sets": int(len(np.unique(sets[~keep])))}
    return outcome
