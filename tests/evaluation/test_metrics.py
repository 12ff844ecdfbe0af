"""Our metrics equal scikit-learn's on random inputs."""

import numpy as np
import pytest
from sklearn import metrics as skm

from traincraft.evaluation import classification_metrics, metric_mode, regression_metrics


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("n_classes", [2, 3, 7])
def test_classification_matches_sklearn(seed: int, n_classes: int) -> None:
    rng = np.random.default_rng(seed)
    n = 300
    y = rng.integers(0, n_classes, size=n)
    y[:n_classes] = np.arange(n_classes)
    proba = rng.dirichlet(np.ones(n_classes), size=n)
    m = classification_metrics(y, proba)
    pred = proba.argmax(1)
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert m["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred))
    assert m["macro_f1"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert m["log_loss"] == pytest.approx(skm.log_loss(y, proba))
    if n_classes == 2:
        assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, proba[:, 1]))
        assert m["positive_f1"] == pytest.approx(skm.f1_score(y, pred))
        m0 = classification_metrics(y, proba, positive=0)
        assert m0["positive_f1"] == pytest.approx(skm.f1_score(y, pred, pos_label=0))
        assert m0["roc_auc"] == pytest.approx(skm.roc_auc_score(y == 0, proba[:, 0]))
    else:
        assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, proba, multi_class="ovr"))


def test_roc_auc_left_out_for_single_class() -> None:
    m = classification_metrics(np.zeros(10, dtype=int), np.tile([0.7, 0.3], (10, 1)))
    assert "roc_auc" not in m and m["accuracy"] == 1.0


@pytest.mark.parametrize("seed", range(5))
def test_regression_matches_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y, p = rng.normal(size=200), rng.normal(size=200)
    m = regression_metrics(y, p)
    assert m["mae"] == pytest.approx(skm.mean_absolute_error(y, p))
    assert m["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(y, p)))
    assert m["r2"] == pytest.approx(skm.r2_score(y, p))


def test_metric_mode() -> None:
    assert metric_mode("val/loss") == "min" and metric_mode("val/rmse") == "min"
    assert metric_mode("val/accuracy") == "max" and metric_mode("roc_auc") == "max"
