"""Representation of groups in sensitive columns (sex, race, ...): rows and label rate per group,
and groups too small for the per-group metrics of the model card to mean anything."""

from __future__ import annotations

import numpy as np
import pandas as pd

from traincraft.data.audit._constants import REPRESENTATION_MIN_ROWS, REPRESENTATION_MIN_SHARE
from traincraft.data.audit._context import AuditContext, is_missing, label_missing
from traincraft.data.audit._finding import Finding
from traincraft.data.audit.class_balance import is_classification

NAME = "representation"


def run(ctx: AuditContext) -> list[Finding]:
    out = []
    for col in ctx.sensitive:
        if col not in ctx.df.columns:
            continue
        groups = ctx.df[col].astype(object).where(~is_missing(ctx.df[col]), "<missing>").astype(str)
        counts = groups.value_counts()
        table = {g: {"rows": int(n), "share": float(n / ctx.n)} for g, n in counts.items()}
        if ctx.label is not None and is_classification(ctx):
            labels = ctx.df[ctx.label]
            ok = ~label_missing(labels)
            counts_lab = pd.crosstab(groups[ok], labels[ok].astype(str))
            classes = list(counts_lab.columns)
            positive = classes[int(np.argmin(counts_lab.sum(axis=0).to_numpy()))] if len(classes) == 2 else None
            for g in counts_lab.index:
                row = counts_lab.loc[g]
                table[g]["label_rate"] = {c: float(row[c] / row.sum()) for c in classes}
                if positive is not None:
                    table[g]["positive_rate"] = float(row[positive] / row.sum())
        small = [g for g, n in counts.items() if n < REPRESENTATION_MIN_ROWS or n / ctx.n < REPRESENTATION_MIN_SHARE]
        mask = groups.isin(small).to_numpy()
        rates = ""
        if ctx.label is not None and all("positive_rate" in v for v in table.values()):
            rates = " Positive-label rate per group: " + ", ".join(f"{g} {v['positive_rate']:.1%}" for g, v in table.items()) + "."
        out.append(
            Finding(
                check=NAME,
                severity="info",
                count=len(counts),
                message=f"Sensitive column '{col}': {len(counts)} groups, " + ", ".join(f"{g} {v['share']:.1%}" for g, v in list(table.items())[:8]) + "." + rates,
                details={"column": col, "groups": table},
            )
        )
        if small:
            out.append(
                Finding(
                    check=NAME,
                    severity="warning",
                    count=int(mask.sum()),
                    row_ids=ctx.ids[mask].tolist(),
                    message=(
                        f"Sensitive column '{col}' has groups too small to measure the model on: "
                        + ", ".join(f"{g} ({counts[g]} rows)" for g in small[:10])
                        + f" (fewer than {REPRESENTATION_MIN_ROWS} rows or {REPRESENTATION_MIN_SHARE:.0%}). Per-group metrics for them will be noise."
                    ),
                    details={"column": col, "small_groups": small},
                )
            )
    return out
