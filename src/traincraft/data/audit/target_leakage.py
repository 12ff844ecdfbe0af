"""Target leakage: one column that alone predicts the label almost perfectly.

Such a column is usually written after the fact (a refund date for fraud, a diagnosis code for
the disease). Each non-text column is binned (numbers into quantiles), and its bins' majority label
(mean for regression) is scored out of fold; near-perfect alone is suspicious."""

from __future__ import annotations

import numpy as np
import pandas as pd

from traincraft.data.audit._constants import LEAKAGE_FOLDS, LEAKAGE_MAX_ROWS, LEAKAGE_MIN_ACCURACY
from traincraft.data.audit._context import AuditContext, label_missing
from traincraft.data.audit._finding import Finding
from traincraft.data.audit.class_balance import is_classification

NAME = "target_leakage"
_BINS = 20


def _codes(series: pd.Series, kind: str) -> np.ndarray:
    if kind == "numeric" and pd.api.types.is_numeric_dtype(series.dtype):
        x = series.to_numpy(dtype=float)
        finite = np.isfinite(x)
        codes = np.full(len(x), -1, dtype=np.int64)
        if finite.any():
            edges = np.unique(np.quantile(x[finite], np.linspace(0, 1, _BINS + 1)[1:-1]))
            codes[finite] = np.searchsorted(edges, x[finite], side="right")
        return codes
    return pd.factorize(series.astype(str), use_na_sentinel=True)[0].astype(np.int64)


def _score(codes: np.ndarray, y: np.ndarray, classification: bool, rng: np.random.Generator) -> float:
    """Out-of-fold accuracy (classification) or R^2 (regression) of predicting y from the code's mean/majority."""
    fold = rng.integers(0, LEAKAGE_FOLDS, size=len(y))
    correct = np.zeros(len(y), dtype=bool)
    pred = np.zeros(len(y))
    for f in range(LEAKAGE_FOLDS):
        train, held = fold != f, fold == f
        if classification:
            table = pd.crosstab(codes[train], y[train])
            best = table.idxmax(axis=1)
            fallback = pd.Series(y[train]).mode().iloc[0]
            guess = pd.Series(codes[held]).map(best).fillna(fallback).to_numpy()
            correct[held] = guess == y[held]
        else:
            means = pd.Series(y[train]).groupby(codes[train]).mean()
            pred[held] = pd.Series(codes[held]).map(means).fillna(y[train].mean()).to_numpy()
    if classification:
        return float(correct.mean())
    var = np.var(y)
    return float(1 - np.mean((y - pred) ** 2) / var) if var > 0 else 0.0


def run(ctx: AuditContext) -> list[Finding]:
    if ctx.label is None or ctx.n < 20:
        return []
    labels = ctx.df[ctx.label]
    present = np.flatnonzero(~label_missing(labels))
    rng = np.random.default_rng(0)
    if len(present) > LEAKAGE_MAX_ROWS:
        present = np.sort(rng.choice(present, LEAKAGE_MAX_ROWS, replace=False))
    classification = is_classification(ctx)
    if classification:
        y = labels.iloc[present].astype(str).to_numpy()
        if len(np.unique(y)) < 2:
            return []
        baseline = pd.Series(y).value_counts(normalize=True).iloc[0]
    else:
        y = pd.to_numeric(labels.iloc[present], errors="coerce").to_numpy(dtype=float)
        ok = np.isfinite(y)
        present, y, baseline = present[ok], y[ok], 0.0
    out = []
    for col in ctx.content_columns:
        kind = ctx.kinds.get(col)
        if kind in ("text", "image") or ctx.roles.get(col) != "feature":
            continue
        codes = _codes(ctx.df[col].iloc[present], kind)
        distinct = pd.Series(codes).nunique()
        if distinct < 2 or distinct > 0.5 * len(codes):
            continue  # constant, or id-like (those checks report them)
        score = _score(codes, y, classification, rng)
        # near-perfect, and most of the errors the majority guess makes are gone
        if score >= LEAKAGE_MIN_ACCURACY and (1 - score) <= 0.2 * (1 - baseline):
            what = "accuracy" if classification else "R^2"
            out.append(
                Finding(
                    check=NAME,
                    severity="error",
                    count=1,
                    message=(
                        f"Column '{col}' alone predicts '{ctx.label}' with out-of-fold {what} {score:.3f} "
                        f"(majority guess: {baseline:.3f}). If it is known only after the label, it leaks the answer: drop it."
                    ),
                    fix={"step": "drop_columns", "columns": [col]},
                    details={"column": col, "score": score, "metric": what, "baseline": float(baseline)},
                )
            )
    return out
