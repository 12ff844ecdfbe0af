"""Fairness numbers equal fairlearn's MetricFrame on the same predictions; limits fail checks;
per-group thresholds chosen on validation cut the demographic-parity difference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import accuracy_score

from traincraft.errors import RecipeError, SchemaError
from traincraft.evaluation import fairness_report
from traincraft.evaluation.fairness import group_labels, threshold_mitigation
from traincraft.recipe._evaluate import FairnessConfig, FairnessLimits


def biased(seed: int, n: int = 3000):
    """Scores that favour group 'a': its positives and negatives both score higher."""
    rng = np.random.default_rng(seed)
    sex = rng.choice(["a", "b"], size=n, p=[0.65, 0.35])
    race = rng.choice(["x", "y", "z"], size=n, p=[0.8, 0.18, 0.02])
    y = (rng.uniform(size=n) < np.where(sex == "a", 0.35, 0.15)).astype(int)
    score = 1 / (1 + np.exp(-(2.2 * y - 1.2 + 0.8 * (sex == "a") + rng.normal(0, 1, size=n))))
    proba = np.column_stack([1 - score, score])
    return y, proba, pd.DataFrame({"sex": sex, "race": race})


@pytest.mark.parametrize("seed", range(3))
def test_group_numbers_equal_fairlearn(seed: int) -> None:
    y, proba, frame = biased(seed)
    report = fairness_report(y, proba, frame, sensitive=["sex", "race"], task="binary", positive=1,
                             config=FairnessConfig(min_group_size=1))
    pred = proba.argmax(1)
    for attribute, features in (("sex", frame["sex"]), ("race", frame["race"]), ("sex × race", frame["sex"] + " × " + frame["race"])):
        mf = MetricFrame(
            metrics={"selection_rate": selection_rate, "tpr": true_positive_rate, "fpr": false_positive_rate, "accuracy": accuracy_score},
            y_true=y, y_pred=pred, sensitive_features=features,
        )
        ours = {g["group"]: g for g in report["attributes"][attribute]["groups"]}
        assert set(ours) == set(mf.by_group.index)
        for group, row in mf.by_group.iterrows():
            for key in ("selection_rate", "tpr", "fpr", "accuracy"):
                assert ours[group][key] == pytest.approx(row[key]), (attribute, group, key)
        d = report["attributes"][attribute]["disparity"]
        assert d["dp_difference"] == pytest.approx(demographic_parity_difference(y, pred, sensitive_features=features))
        assert d["dp_ratio"] == pytest.approx(demographic_parity_ratio(y, pred, sensitive_features=features))
        assert d["eo_difference"] == pytest.approx(equalized_odds_difference(y, pred, sensitive_features=features))
        assert d["dp_difference"] == pytest.approx(mf.difference()["selection_rate"])


def test_small_groups_are_warned_about_and_left_out() -> None:
    y, proba, frame = biased(0)
    report = fairness_report(y, proba, frame, sensitive=["race"], task="binary", positive=1, config=FairnessConfig(min_group_size=100))
    small = [g for g in report["attributes"]["race"]["groups"] if g["small"]]
    assert [g["group"] for g in small] == ["z"]
    assert any("race = z" in w and "too few to judge" in w for w in report["warnings"])
    judged = frame["race"] != "z"
    pred = proba.argmax(1)
    expected = demographic_parity_difference(y[judged], pred[judged], sensitive_features=frame["race"][judged])
    assert report["attributes"]["race"]["disparity"]["dp_difference"] == pytest.approx(expected)
    assert report["attributes"]["race"]["disparity"]["groups_small"] == ["z"]


def test_limits_turn_disparities_into_failed_checks() -> None:
    y, proba, frame = biased(1)
    limits = FairnessLimits(dp_difference=0.05, dp_ratio=0.1, eo_difference=0.9)
    report = fairness_report(y, proba, frame, sensitive=["sex"], task="binary", positive=1,
                             config=FairnessConfig(limits=limits, intersectional=False))
    by_measure = {c["measure"]: c for c in report["checks"]}
    assert by_measure["dp_difference"]["passed"] is False and by_measure["dp_difference"]["value"] > 0.05
    assert by_measure["dp_ratio"]["passed"] is True
    assert by_measure["eo_difference"]["passed"] is True


@pytest.mark.parametrize("constraint,key", [("demographic_parity", "dp_difference"), ("equal_opportunity", "tpr")])
def test_threshold_mitigation_is_chosen_on_validation_and_helps_on_test(constraint: str, key: str) -> None:
    y_val, p_val, f_val = biased(10)
    y_test, p_test, f_test = biased(11)
    out = threshold_mitigation((y_val, p_val[:, 1], f_val["sex"].to_numpy()), (y_test, p_test[:, 1], f_test["sex"].to_numpy()),
                               positive=1, constraint=constraint)
    assert set(out["thresholds"]) == {"a", "b"} and out["thresholds"]["a"] > out["thresholds"]["b"]
    before, after = out["test_before"], out["test_after"]
    if key == "dp_difference":
        assert after["dp_difference"] <= 0.5 * before["dp_difference"]
    else:
        gap = lambda d: abs(d["groups"]["a"]["tpr"] - d["groups"]["b"]["tpr"])  # noqa: E731
        assert gap(after) < gap(before)
    assert out["accuracy_cost"] == pytest.approx(before["accuracy"] - after["accuracy"])
    with pytest.raises(ValueError, match="demographic_parity or equal_opportunity"):
        threshold_mitigation((y_val, p_val[:, 1], f_val["sex"]), (y_test, p_test[:, 1], f_test["sex"]), positive=1, constraint="x")


def test_report_mitigation_and_errors() -> None:
    y, proba, frame = biased(2)
    report = fairness_report(y, proba, frame, sensitive=["sex", "race"], task="binary", positive=1, validation=biased(3))
    assert report["mitigation"]["attribute"] == "sex"
    with pytest.raises(SchemaError, match=r"Sensitive column\(s\) gender \(data.sensitive\) are not in the evaluated rows"):
        fairness_report(y, proba, frame, sensitive=["gender"], task="binary")
    with pytest.raises(RecipeError, match="evaluate.fairness.mitigate_on 'age' is not one of data.sensitive"):
        fairness_report(y, proba, frame, sensitive=["sex"], task="binary", validation=biased(3), config=FairnessConfig(mitigate_on="age"))


def test_multiclass_regression_and_missing_groups() -> None:
    frame = pd.DataFrame({"g": ["a", "b", None, "a", "b", "a"]})
    labels = group_labels(frame, ["g"])["g"].tolist()
    assert labels == ["a", "b", "(missing)", "a", "b", "a"]
    y = np.array([0, 1, 2, 0, 1, 2])
    proba = np.eye(3)[[0, 1, 2, 1, 1, 2]]
    report = fairness_report(y, proba, frame, sensitive=["g"], task="multiclass", config=FairnessConfig(min_group_size=1))
    acc = {g["group"]: g["accuracy"] for g in report["attributes"]["g"]["groups"]}
    assert acc == {"a": pytest.approx(2 / 3), "b": 1.0, "(missing)": 1.0}
    reg = fairness_report(np.arange(6.0), np.arange(6.0) + [0, 1, 0, 0, 1, 0], frame, sensitive=["g"], task="regression",
                          config=FairnessConfig(min_group_size=1))
    assert {g["group"]: g["mae"] for g in reg["attributes"]["g"]["groups"]}["b"] == 1.0


def test_reweighing_makes_label_and_group_independent() -> None:
    from traincraft.evaluation.fairness import reweighing_weights

    rng = np.random.default_rng(0)
    group = rng.choice(["a", "b"], size=2000, p=[0.7, 0.3])
    y = (rng.random(2000) < np.where(group == "a", 0.4, 0.1)).astype(int)
    w, cells = reweighing_weights(y, group)
    for g in ("a", "b"):
        for label in (0, 1):
            joint = w[(group == g) & (y == label)].sum() / w.sum()
            assert joint == pytest.approx(np.mean(group == g) * np.mean(y == label))  # weighted: P(g, y) = P(g) P(y)
    assert w.sum() == pytest.approx(len(y))  # the table keeps its size
    by_cell = {(c["group"], c["label"]): c for c in cells}
    n_a1 = int(((group == "a") & (y == 1)).sum())
    assert by_cell[("a", 1)]["rows"] == n_a1 and by_cell[("a", 1)]["weight"] < 1 < by_cell[("b", 1)]["weight"]
    assert by_cell[("a", 1)]["weight"] == pytest.approx(np.sum(group == "a") * np.sum(y == 1) / 2000 / n_a1)
    with pytest.raises(ValueError, match="at least one row"):
        reweighing_weights(np.array([]), np.array([]))


def test_report_sets_the_reweighted_model_beside_the_unmitigated_one() -> None:
    y, probs, frame = biased(1)
    p = probs[:, 1]
    fair_p = np.clip(p + np.where(frame["sex"] == "b", 0.15, -0.05), 0, 1)  # a model that favours 'a' less
    fair_probs = np.column_stack([1 - fair_p, fair_p])
    out = fairness_report(y, probs, frame, sensitive=["sex"], task="binary", positive=1,
                          reweighted={"attribute": "sex", "predictions": fair_probs, "weights": [], "training": {"epochs": 1}})
    r = out["reweighting"]
    before, after = r["test_before"], r["test_after"]
    assert before["dp_difference"] == pytest.approx(out["attributes"]["sex"]["disparity"]["dp_difference"])
    assert after["dp_difference"] == pytest.approx(demographic_parity_difference(y, fair_p >= 0.5, sensitive_features=frame["sex"]))
    assert after["dp_difference"] < before["dp_difference"] and r["dp_difference_reduction"] > 0
    assert r["accuracy_cost"] == pytest.approx(accuracy_score(y, p >= 0.5) - accuracy_score(y, fair_p >= 0.5))
    assert r["training"] == {"epochs": 1} and r["attribute"] == "sex"
    with pytest.raises(RecipeError, match="reweighted attribute 'race'"):
        fairness_report(y, probs, frame, sensitive=["sex"], task="binary", positive=1, reweighted={"attribute": "race", "predictions": fair_probs})
