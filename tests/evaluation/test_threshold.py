"""The binary decision threshold is chosen on validation rows to maximise positive-class F1."""

import numpy as np
import pytest
from sklearn import metrics as skm

from traincraft.evaluation import choose_threshold
from traincraft.evaluation.threshold import apply_threshold, threshold_metrics


@pytest.mark.parametrize("seed", range(4))
def test_chosen_threshold_is_the_f1_optimum(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = (rng.uniform(size=400) < 0.15).astype(int)  # imbalanced: 0.5 is not the best cut
    p = np.clip(rng.normal(0.25 + 0.3 * y, 0.15), 0, 1).round(3)
    chosen = choose_threshold(y, p, positive=1)
    brute = max(skm.f1_score(y, (p >= t).astype(int), zero_division=0) for t in np.unique(p))
    assert chosen["f1"] == pytest.approx(brute)
    assert skm.f1_score(y, apply_threshold(p, chosen["threshold"], positive=1)) == pytest.approx(brute)
    assert chosen["f1"] >= chosen["f1_at_0.5"]


def test_positive_class_zero_and_metrics() -> None:
    y = np.array([0, 0, 1, 1, 0])
    p0 = np.array([0.9, 0.8, 0.3, 0.1, 0.6])  # probability of class 0
    chosen = choose_threshold(y, p0, positive=0)
    assert chosen["f1"] == pytest.approx(1.0) and 0.3 < chosen["threshold"] <= 0.6
    m = threshold_metrics(y, p0, chosen["threshold"], positive=0)
    assert m["accuracy"] == 1.0 and m["precision"] == 1.0 and m["recall"] == 1.0


def test_no_positive_rows_keeps_half() -> None:
    out = choose_threshold(np.zeros(5, dtype=int), np.linspace(0, 1, 5), positive=1)
    assert out["threshold"] == 0.5 and np.isnan(out["f1"])
