"""Label issues: our confident learning equals cleanlab's; planted flips are found."""

import numpy as np
import pandas as pd
import pytest

from traincraft.data.audit import audit
from traincraft.data.audit._context import AuditContext
from traincraft.data.audit._oof import confident_learning, find_issues, prune_by_noise_rate
from traincraft.data.audit.label_issues import find_label_issues


def _cleanlab_mask(labels: np.ndarray, probs: np.ndarray) -> np.ndarray:
    from cleanlab.filter import find_label_issues as cl_find

    return cl_find(labels, probs, filter_by="confident_learning")


@pytest.mark.parametrize("k, seed", [(2, 0), (3, 1), (5, 2), (4, 3)])
def test_confident_learning_matches_cleanlab(k: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 600
    labels = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k)) + 2.5 * np.eye(k)[labels]
    flip = rng.random(n) < 0.15
    labels[flip] = rng.integers(0, k, flip.sum())
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    ours = np.zeros(n, dtype=bool)
    ours[confident_learning(labels, probs).positions] = True
    np.testing.assert_array_equal(ours, _cleanlab_mask(labels, probs))


@pytest.mark.parametrize("seed", range(12))
def test_prune_by_noise_rate_matches_cleanlabs_default(seed: int) -> None:
    from cleanlab.filter import find_label_issues as cl_find

    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(60, 1500)), int(rng.integers(2, 8))
    labels = np.arange(n) % k  # every class present
    logits = rng.normal(size=(n, k)) * rng.uniform(0.5, 3) + rng.uniform(0, 3) * np.eye(k)[labels]
    flip = rng.random(n) < 0.2
    labels[flip] = rng.integers(0, k, flip.sum())
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    ours = np.zeros(n, dtype=bool)
    ours[prune_by_noise_rate(labels, probs).positions] = True
    np.testing.assert_array_equal(ours, cl_find(labels, probs))  # cleanlab's default filter_by
    with pytest.raises(ValueError, match="one of confident_learning, prune_by_noise_rate"):
        find_issues(labels, probs, "both")


def test_issues_are_ranked_most_likely_first() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 300)
    probs = np.clip(np.eye(2)[1 - labels] * rng.random((300, 1)) + 0.01, 0, None)
    probs /= probs.sum(axis=1, keepdims=True)
    found = confident_learning(labels, probs)
    assert np.all(np.diff(found.self_confidence) >= 0)
    np.testing.assert_allclose(found.self_confidence, probs[found.positions, labels[found.positions]])


def test_planted_flips_on_breast_cancer_are_found() -> None:
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True)
    df = data.frame.rename(columns={"target": "y"})
    rng = np.random.default_rng(0)
    flipped = rng.choice(len(df), 40, replace=False)
    df.loc[flipped, "y"] = 1 - df.loc[flipped, "y"]
    f = audit(df, label="y", checks=["label_issues"]).first("label_issues")
    found = set(f.row_ids)
    recall = len(found & set(flipped.tolist())) / len(flipped)
    precision = len(found & set(flipped.tolist())) / len(found)
    assert recall >= 0.7 and precision >= 0.6, (recall, precision)
    issue = f.details["issues"][0]
    assert issue["suggested"] != issue["given"] and issue["given_label_probability"] < 0.5


def test_skipped_with_a_reason_when_too_small() -> None:
    df = pd.DataFrame({"x": range(6), "y": ["a", "b"] * 3})
    f = audit(df, label="y", checks=["label_issues"]).first("label_issues")
    assert f.severity == "info" and "too few labelled rows" in f.message


def test_regression_labels_are_not_checked() -> None:
    df = pd.DataFrame({"x": np.arange(100.0), "y": np.arange(100.0) * 0.37})
    ctx = AuditContext.build(df, label="y")
    assert find_label_issues(ctx).skipped.startswith("the label is numeric")
    assert audit(df, label="y", checks=["label_issues"]).findings == []


def test_multiclass_out_of_fold_on_digits_matches_cleanlab() -> None:
    from cleanlab.filter import find_label_issues as cl_find
    from sklearn.datasets import load_digits

    from traincraft.data.audit._oof import design_matrix, out_of_fold_probabilities

    d = load_digits()
    df = pd.DataFrame(d.data[:600], columns=[f"p{i}" for i in range(64)])
    y = d.target[:600].copy()
    rng = np.random.default_rng(0)
    flipped = rng.choice(600, 40, replace=False)
    y[flipped] = (y[flipped] + rng.integers(1, 10, 40)) % 10
    X = design_matrix(df, {c: "numeric" for c in df.columns}, list(df.columns))
    probs = out_of_fold_probabilities(X, y, 10, folds=5)
    ours = confident_learning(y, probs).positions
    assert set(ours.tolist()) == set(np.flatnonzero(cl_find(y, probs, filter_by="confident_learning")).tolist())
    assert len(set(ours.tolist()) & set(flipped.tolist())) >= 25
