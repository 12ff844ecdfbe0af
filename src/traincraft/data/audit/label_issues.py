"""Label issues: rows whose label is probably wrong, by confident learning on out-of-fold
probabilities of a fast model (see :mod:`traincraft.data.audit._oof`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from traincraft.data.audit._constants import LABEL_ISSUE_FOLDS, LABEL_ISSUE_MAX_ROWS, LABEL_MIN_ROWS
from traincraft.data.audit._context import AuditContext, label_missing
from traincraft.data.audit._finding import Finding
from traincraft.data.audit._oof import design_matrix, find_issues, out_of_fold_probabilities
from traincraft.data.audit.class_balance import is_classification

NAME = "label_issues"


@dataclass
class LabelReview:
    """Everything known about the label issues of a table, for the finding and the review queue."""

    row_ids: list  # most likely mislabelled first
    given: list
    suggested: list
    confidence: np.ndarray
    self_confidence: np.ndarray
    classes: list
    skipped: str | None = None  # why the check did not run
    scored_ids: np.ndarray | None = None  # (n,) row ids the out-of-fold model scored
    labels: np.ndarray | None = None  # (n,) their given labels as indices into classes
    probs: np.ndarray | None = None  # (n, C) their out-of-fold probabilities (for parity with cleanlab)


def find_label_issues(
    ctx: AuditContext, *, seed: int = 0, folds: int = LABEL_ISSUE_FOLDS, method: str = "confident_learning"
) -> LabelReview:
    """Out-of-fold probabilities of the fast model, and the rows ``method`` (confident_learning or
    cleanlab's default prune_by_noise_rate) flags, most likely mislabelled first."""
    def compute() -> LabelReview:
        empty = LabelReview([], [], [], np.empty(0), np.empty(0), [])
        if ctx.label is None:
            empty.skipped = "no label column"
            return empty
        labels = ctx.df[ctx.label]
        if not is_classification(ctx):
            empty.skipped = "the label is numeric (regression); confident learning needs classes"
            return empty
        labelled = np.flatnonzero(~label_missing(labels))
        if len(labelled) > LABEL_ISSUE_MAX_ROWS:
            empty.skipped = f"{len(labelled):,} labelled rows is more than the {LABEL_ISSUE_MAX_ROWS:,} this check scores"
            return empty
        values = labels.iloc[labelled].astype(str).to_numpy()
        classes, counts = np.unique(values, return_counts=True)
        usable_classes = classes[counts >= 2]
        keep = np.isin(values, usable_classes)
        rows, values = labelled[keep], values[keep]
        if len(rows) < LABEL_MIN_ROWS or len(usable_classes) < 2:
            empty.skipped = f"too few labelled rows ({len(rows)}) or classes ({len(usable_classes)}) to fit an out-of-fold model"
            return empty
        features = [c for c in ctx.content_columns if ctx.roles.get(c) in ("feature", None)]
        X = design_matrix(ctx.df.iloc[rows], ctx.kinds, features)
        if X is None:
            empty.skipped = "no text, numeric or categorical feature to fit a model on"
            return empty
        y = np.searchsorted(usable_classes, values)
        k = int(min(folds, np.bincount(y).min()))
        probs = out_of_fold_probabilities(X, y, len(usable_classes), folds=max(k, 2), seed=seed)
        found = find_issues(y, probs, method)
        ids = ctx.ids[rows[found.positions]]
        return LabelReview(
            row_ids=ids.tolist(),
            given=usable_classes[found.given].tolist(),
            suggested=usable_classes[found.suggested].tolist(),
            confidence=found.confidence,
            self_confidence=found.self_confidence,
            classes=usable_classes.tolist(),
            scored_ids=ctx.ids[rows],
            labels=y,
            probs=probs,
        )

    return ctx.cached(f"label_issues:{seed}:{folds}:{method}", compute)


def run(ctx: AuditContext) -> list[Finding]:
    if ctx.label is None:
        return []
    review = find_label_issues(ctx)
    if review.skipped:
        if review.skipped.startswith("the label is numeric") or review.skipped == "no label column":
            return []
        return [Finding(check=NAME, severity="info", count=0, message=f"Label issues were not looked for: {review.skipped}.", details={"skipped": review.skipped})]
    count = len(review.row_ids)
    if count == 0:
        return []
    issues = [
        {"row_id": r, "given": g, "suggested": s, "confidence": round(float(c), 4), "given_label_probability": round(float(q), 4)}
        for r, g, s, c, q in zip(review.row_ids, review.given, review.suggested, review.confidence, review.self_confidence)
    ]
    labelled = int((~label_missing(ctx.df[ctx.label])).sum())
    return [
        Finding(
            check=NAME,
            severity="warning",
            count=count,
            row_ids=list(review.row_ids),
            message=(
                f"{count:,} of {labelled:,} labels ({count / max(labelled, 1):.1%}) look wrong: a model that did not see "
                "them confidently predicts another class (confident learning on out-of-fold probabilities). "
                "Review them (traincraft review export), or drop them."
            ),
            fix={"step": "drop_label_issues", "threshold": 0.5},
            details={"classes": review.classes, "issues": issues},
        )
    ]
