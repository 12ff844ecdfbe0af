"""Out-of-fold predicted probabilities from a fast model, and confident learning on them.

The model is a logistic regression on hashed word 1-2-grams of text columns, hashed one-hot
categories and standardised numbers (median-imputed, with missing indicators). Every row is scored
by a model that did not see it (stratified k-fold). Folds run one after another and BLAS gets the
cores this process may use, so k-fold workers x BLAS threads never exceed the cores.

:func:`confident_learning` is cleanlab's ``find_label_issues(filter_by="confident_learning")``
(Northcutt et al., 2021), reimplemented in a few numpy lines and tested against cleanlab;
:func:`prune_by_noise_rate` is cleanlab's default ``filter_by="prune_by_noise_rate"``: it estimates
from the calibrated confident joint how many rows of each given class carry each other true class,
and flags that many, those with the largest margin p(true) - p(given).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from traincraft.data.audit._constants import LABEL_HASH_FEATURES

__all__ = [
    "LABEL_ISSUE_METHODS",
    "LabelIssues",
    "confident_learning",
    "design_matrix",
    "find_issues",
    "make_model",
    "out_of_fold_probabilities",
    "prune_by_noise_rate",
    "usable_cores",
]

LABEL_ISSUE_METHODS = ("confident_learning", "prune_by_noise_rate")

_FLOAT_EPS = 1e-6  # cleanlab's FLOATING_POINT_COMPARISON
_THRESHOLD_FLOOR = 2e-6  # cleanlab's CONFIDENT_THRESHOLDS_LOWER_BOUND
_TINY = 1e-100  # cleanlab's TINY_VALUE


def usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def design_matrix(df: pd.DataFrame, kinds: dict[str, str], columns: Sequence[str], *, text_features: int = LABEL_HASH_FEATURES) -> sp.csr_matrix | None:
    """Sparse features for the fast model; None when no column is usable."""
    from sklearn.feature_extraction import FeatureHasher
    from sklearn.feature_extraction.text import HashingVectorizer

    blocks = []
    for col in columns:
        kind = kinds.get(col)
        series = df[col]
        if kind == "text":
            text = series.astype(object).map(lambda v: v if isinstance(v, str) else "").tolist()
            vec = HashingVectorizer(n_features=text_features, ngram_range=(1, 2), alternate_sign=False, norm="l2", lowercase=True)
            blocks.append(vec.transform(text))
        elif kind in ("numeric", "datetime", "boolean") and (pd.api.types.is_numeric_dtype(series.dtype) or kind != "boolean"):
            if kind == "datetime":
                x = pd.to_datetime(series, errors="coerce").astype("int64").to_numpy(dtype=float)
                x[pd.to_datetime(series, errors="coerce").isna().to_numpy()] = np.nan
            else:
                x = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
            missing = ~np.isfinite(x)
            if missing.all():
                continue
            med = np.median(x[~missing])
            x = np.where(missing, med, x)
            scale = np.std(x) or 1.0
            cols = [(x - x.mean()) / scale]
            if missing.any():
                cols.append(missing.astype(float))
            blocks.append(sp.csr_matrix(np.column_stack(cols)))
        elif kind in ("categorical", "boolean"):
            tokens = [[f"{col}={v}"] for v in series.astype(str).tolist()]
            blocks.append(FeatureHasher(n_features=2**12, input_type="string", alternate_sign=False).transform(tokens))
    if not blocks:
        return None
    return sp.hstack(blocks, format="csr")


def make_model(n_classes: int):
    """The fast model: liblinear logistic regression for two classes (5x faster than lbfgs on hashed
    text here), lbfgs for more (liblinear is binary only in scikit-learn >= 1.8)."""
    from sklearn.linear_model import LogisticRegression

    if n_classes <= 2:
        return LogisticRegression(C=10.0, solver="liblinear")
    return LogisticRegression(C=10.0, solver="lbfgs", max_iter=500)


def out_of_fold_probabilities(X: sp.csr_matrix, y: np.ndarray, n_classes: int, *, folds: int, seed: int = 0) -> np.ndarray:
    """(n, n_classes) probabilities, each row predicted by a model fitted on the other folds."""
    from sklearn.model_selection import StratifiedKFold
    from threadpoolctl import threadpool_limits

    probs = np.zeros((len(y), n_classes))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    with threadpool_limits(limits=usable_cores()):
        for train, held in splitter.split(np.zeros(len(y)), y):
            model = make_model(n_classes)
            model.fit(X[train], y[train])
            probs[np.ix_(held, model.classes_)] = model.predict_proba(X[held])
    return probs


@dataclass
class LabelIssues:
    """Rows (positions) confident learning flags, with the model's view of each."""

    positions: np.ndarray  # (m,) int64, most likely mislabelled first
    given: np.ndarray  # (m,) int64 class index of the given label
    suggested: np.ndarray  # (m,) int64 class index the model believes
    confidence: np.ndarray  # (m,) probability of the suggested class
    self_confidence: np.ndarray  # (m,) probability of the given class


def _confident_guess(labels: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: whether some class is confidently predicted, and the true-label guess."""
    k = probs.shape[1]
    present = np.bincount(labels, minlength=k) > 0
    thresholds = np.array([probs[labels == j, j].mean() if present[j] else 2.0 for j in range(k)])
    thresholds = np.clip(thresholds, _THRESHOLD_FLOOR, None)
    confident = probs >= thresholds - _FLOAT_EPS
    n_confident = confident.sum(axis=1)
    guess = np.where(n_confident > 1, probs.argmax(axis=1), confident.argmax(axis=1))
    return n_confident > 0, guess


def _predicted_as_labelled(labels: np.ndarray, probs: np.ndarray) -> np.ndarray:
    nudged = probs.copy()
    nudged[np.arange(len(labels)), labels] += _FLOAT_EPS
    return nudged.argmax(axis=1) == labels


def _ranked(labels: np.ndarray, probs: np.ndarray, issue: np.ndarray) -> LabelIssues:
    pos = np.flatnonzero(issue)
    self_conf = probs[pos, labels[pos]]
    order = np.argsort(self_conf, kind="stable")
    pos = pos[order]
    suggested = probs[pos].argmax(axis=1)
    return LabelIssues(pos, labels[pos], suggested, probs[pos, suggested], probs[pos, labels[pos]])


def confident_learning(labels: np.ndarray, probs: np.ndarray) -> LabelIssues:
    """Off-diagonal examples of the confident joint, less those the model predicts as labelled."""
    labels = np.asarray(labels)
    confident, guess = _confident_guess(labels, probs)
    issue = confident & (guess != labels) & ~_predicted_as_labelled(labels, probs)
    return _ranked(labels, probs, issue)


def _round_preserving_sum(values: np.ndarray) -> np.ndarray:
    """Round to integers keeping the (rounded) total, as cleanlab does."""
    floats = np.asarray(values, dtype=float)
    ints = floats.round()
    total = np.sum(floats).round()
    current = np.sum(ints).round()
    while abs(current - total) > _FLOAT_EPS:
        diff = np.round(total - current)
        step = -1 if diff < 0 else 1
        changes = min(int(abs(diff)), len(floats))
        for i in np.argsort(floats - ints)[::-step][:changes]:
            ints[i] += step
        current = np.sum(ints).round()
    return ints.astype(int)


def _round_rows(matrix: np.ndarray) -> np.ndarray:
    return np.array([_round_preserving_sum(row) for row in matrix], dtype=int)


def prune_by_noise_rate(labels: np.ndarray, probs: np.ndarray) -> LabelIssues:
    """cleanlab's default: for each given class, flag as many rows per other true class as the
    calibrated confident joint estimates, those with the largest margin p(true) - p(given)."""
    labels = np.asarray(labels)
    n, k = probs.shape
    confident, guess = _confident_guess(labels, probs)
    joint = np.zeros((k, k), dtype=np.int64)  # (given, true)
    np.add.at(joint, (labels[confident], guess[confident]), 1)
    np.fill_diagonal(joint, joint.diagonal().clip(min=1))
    counts = np.bincount(labels, minlength=k)
    calibrated = (joint.T / np.clip(joint.sum(axis=1), _TINY, None) * counts).T
    calibrated = calibrated / np.clip(calibrated.sum(), _TINY, None) * counts.sum()
    prune = _round_rows(calibrated).T  # (true, given): rows to flag per given class (column)
    diagonal = np.diagonal(prune)
    kept = np.maximum(diagonal, 1)  # leave at least one row in every class
    per_col = np.maximum(np.count_nonzero(prune, axis=0) - 1.0, 1.0)
    counts_to_prune = prune - (kept - diagonal) / per_col
    counts_to_prune[counts_to_prune < 0] = 0
    np.fill_diagonal(counts_to_prune, kept)
    counts_to_prune = _round_rows(counts_to_prune.astype(int))  # cleanlab truncates, then rounds rows
    issue = np.zeros(n, dtype=bool)
    for given in range(k):
        rows = np.flatnonzero(labels == given)
        if len(rows) <= 1:
            continue
        for true in range(k):
            take = counts_to_prune[true, given]
            if true != given and take > 0:
                margin = probs[rows, true] - probs[rows, given]
                issue[rows[np.argsort(-margin)[:take]]] = True
    issue &= ~_predicted_as_labelled(labels, probs)
    return _ranked(labels, probs, issue)


def find_issues(labels: np.ndarray, probs: np.ndarray, method: str = "confident_learning") -> LabelIssues:
    """Label issues by ``method``: ``confident_learning`` or ``prune_by_noise_rate``."""
    if method == "confident_learning":
        return confident_learning(labels, probs)
    if method == "prune_by_noise_rate":
        return prune_by_noise_rate(labels, probs)
    raise ValueError(f"label issue method must be one of {', '.join(LABEL_ISSUE_METHODS)}, got {method!r}")
