"""Acceptance on the real UCI Adult census data with sensitive: [sex, race]."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from adult import adult_frame  # noqa: E402


def test_vendored_files_are_the_uci_originals() -> None:
    frame = adult_frame()
    assert frame.shape == (32561, 15)
    assert frame["income"].value_counts().to_dict() == {"<=50K": 24720, ">50K": 7841}
    assert adult_frame("adult.test").shape == (16281, 15)


@pytest.mark.slow
def test_adult_fairness_matches_fairlearn_and_mitigation_halves_the_gap(tmp_path) -> None:
    """Also trains the reweighted second model (evaluate.fairness.reweighting) and checks its trade-off."""
    from fairlearn.metrics import MetricFrame, false_positive_rate, selection_rate, true_positive_rate

    import traincraft as tc

    run = tc.train(
        adult_frame(), name="adult", runs_dir=tmp_path,
        recipe={"data": {"label": "income", "sensitive": ["sex", "race"]}, "model": {"hidden": [32]},
                "train": {"epochs": 3, "batch_size": 512}, "evaluate": {"fairness": {"reweighting": True}}},
    )
    ev = json.loads((run.run_dir / "evaluation.json").read_text())
    preds = pd.read_parquet(run.run_dir / "data" / "test_predictions.parquet")
    assert len(preds) == ev["test"]["rows"] == run.split_sizes["test"]
    fairness = ev["fairness"]
    sex = {g["group"]: g for g in fairness["attributes"]["sex"]["groups"]}
    mf = MetricFrame(
        metrics={"selection_rate": selection_rate, "tpr": true_positive_rate, "fpr": false_positive_rate},
        y_true=(preds["y_true"] == ">50K").to_numpy(), y_pred=(preds["prediction"] == ">50K").to_numpy(),
        sensitive_features=preds["sex"],
    )
    for group in ("Female", "Male"):
        for key in ("selection_rate", "tpr", "fpr"):
            assert sex[group][key] == pytest.approx(mf.by_group.loc[group, key]), (group, key)
    gap = sex["Male"]["selection_rate"] - sex["Female"]["selection_rate"]
    assert gap > 0.05 and fairness["attributes"]["sex"]["disparity"]["dp_difference"] == pytest.approx(gap)
    assert "sex × race" in fairness["attributes"]
    mitigation = fairness["mitigation"]
    assert mitigation["attribute"] == "sex" and mitigation["chosen_on"] == "validation"
    assert mitigation["test_after"]["dp_difference"] <= 0.5 * mitigation["test_before"]["dp_difference"]
    html = (run.run_dir / "report.html").read_text()
    assert "Selection-rate gap (demographic-parity difference)" in html and "points of accuracy" in html
    assert f"{100 * mitigation['accuracy_cost']:.2f} points of accuracy" in html
    for group in ("Female", "Male"):
        assert f"{sex[group]['tpr']:.3f}" in html and f"{sex[group]['fpr']:.3f}" in html
    assert np.isfinite(ev["test"]["threshold"]["threshold"])
    reweighted = fairness["reweighting"]
    assert reweighted["attribute"] == "sex" and reweighted["test_before"]["accuracy"] == pytest.approx(ev["test"]["metrics"]["accuracy"])
    female_high = next(c for c in reweighted["weights"] if c["group"] == "Female" and c["label"] == ">50K")
    assert female_high["weight"] > 1.5  # the rarest cell counts most
    assert reweighted["test_after"]["dp_difference"] < reweighted["test_before"]["dp_difference"]
    assert "Mitigation: reweighting in training for sex" in html and f"{100 * reweighted['accuracy_cost']:.2f} points of accuracy" in html
