"""``drop_label_issues``: drop rows confident learning flags as mislabelled, when the out-of-fold
probability of their given label is below the step's threshold.

Only the training split is scored and dropped (``StepContext.fit_rows``, set by ``train``): the
out-of-fold model never sees validation or test rows, and a hard or mislabelled test row stays in
the test split, so cleaning cannot flatter the test metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd

from traincraft.data.audit._context import AuditContext
from traincraft.data.audit.label_issues import find_label_issues
from traincraft.data.prepare._outcome import StepContext, StepOutcome, drop_rows
from traincraft.errors import DataError
from traincraft.recipe._prepare import DropLabelIssuesStep

NAME = "drop_label_issues"


def apply(df: pd.DataFrame, step: DropLabelIssuesStep, sc: StepContext) -> StepOutcome:
    if sc.label is None:
        raise DataError("drop_label_issues needs a label column; set data.label in the recipe.")
    scored = sc.fit_mask(df)
    ctx = AuditContext.build(df.loc[scored], label=sc.label, schema=sc.schema)
    review = find_label_issues(ctx, seed=sc.seed, folds=step.folds, method=step.method)
    if review.skipped:
        outcome = StepOutcome(df)
        outcome.details = {"skipped": review.skipped, "scored_rows": int(scored.sum())}
        return outcome
    flagged = {
        rid: (given, suggested, float(q))
        for rid, given, suggested, q in zip(review.row_ids, review.given, review.suggested, review.self_confidence)
        if q < step.threshold
    }
    mask = df.index.isin(list(flagged))
    reasons = np.array(
        [
            f"label {flagged[rid][0]!r} looks wrong: out-of-fold model says {flagged[rid][1]!r} (p(given) = {flagged[rid][2]:.3f})" if rid in flagged else ""
            for rid in df.index
        ],
        dtype=object,
    )
    outcome = drop_rows(df, mask, reasons)
    outcome.details = {"scored_rows": int(scored.sum()), "flagged": len(review.row_ids), "dropped": int(mask.sum()), "threshold": step.threshold, "method": step.method}
    return outcome
