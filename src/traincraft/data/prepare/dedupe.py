"""``dedupe``: keep one row of each exact or near-duplicate set (the first, or the majority label's).

``keep: majority`` without leakage: only the labels of the training rows (``StepContext.fit_rows``,
the training split ``train`` draws before prepare) vote, so a validation or test row's label never
decides what is kept or dropped. In each duplicate set:

- the training rows' most common label wins; the first training row carrying it is kept and every
  other row of the set is dropped (a training row with another label as "minority label", any
  other row as a plain duplicate, whatever its label);
- a tie among the training labels drops the whole set (the conflict goes to the quarantine);
- a set with no labelled training row keeps its first row, as ``keep: first`` does.

Without ``fit_rows`` (``apply_prepare`` on its own) every labelled row votes.
"""

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
        votes_ok = ~label_missing(df[sc.label]) & sc.fit_mask(df)  # labelled training rows: the only voters
        keep = np.zeros(n, dtype=bool)
        frame = pd.DataFrame({"set": sets, "vote": np.where(votes_ok, labels, None), "pos": pos})
        training = "training " if sc.fit_rows is not None else ""
        for s, grp in frame.groupby("set", sort=False):
            if len(grp) == 1:
                keep[grp["pos"].iloc[0]] = True
                continue
            votes = grp["vote"].dropna().value_counts()
            if len(votes) == 0:
                keep[grp["pos"].iloc[0]] = True
                winner = None
            elif len(votes) > 1 and votes.iloc[0] == votes.iloc[1]:
                tied = ", ".join(f"{k!r} x{v}" for k, v in votes.items())
                reasons[grp["pos"].to_numpy()] = f"{what} set with conflicting {training}labels and no majority ({tied})"
                continue
            else:
                winner = votes.index[0]
                keeper = grp["pos"][grp["vote"] == winner].iloc[0]
                keep[keeper] = True
            head = ids[grp["pos"][keep[grp["pos"]]].iloc[0]]
            for p, vote in zip(grp["pos"], grp["vote"]):
                if keep[p]:
                    continue
                if winner is not None and not pd.isna(vote) and vote != winner:  # a training row outvoted
                    reasons[p] = f"{what} of row {head} with minority label {vote!r} (majority {winner!r})"
                else:
                    reasons[p] = f"{what} of row {head}"
    else:
        for p in np.flatnonzero(~keep):
            reasons[p] = f"{what} of row {ids[first_of_set[p]]}"
    outcome = StepOutcome(df.loc[keep], dropped={ids[p]: reasons[p] for p in np.flatnonzero(~keep)})
    outcome.details = {"mode": step.mode, "keep": step.keep, "sets": int(len(np.unique(sets[~keep])))}
    return outcome
