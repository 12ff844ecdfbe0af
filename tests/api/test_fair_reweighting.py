"""evaluate.fairness.reweighting: train fits a second, reweighted model and the evaluation, card.json
and report.html set its trade-off beside the unmitigated model's; ignored settings are warned about."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import traincraft as tc


def _biased(n: int = 1200) -> pd.DataFrame:
    """The label depends on x and on sex; sex is not a feature, but 'role' is a strong proxy of it."""
    rng = np.random.default_rng(0)
    sex = rng.choice(["F", "M"], size=n, p=[0.4, 0.6])
    x = rng.normal(size=n)
    y = (x + np.where(sex == "M", 1.2, -0.8) + rng.normal(0, 0.5, size=n) > 0.6).astype(int)
    role = np.where(rng.random(n) < 0.9, np.where(sex == "M", "husband", "wife"), rng.choice(["husband", "wife"], size=n))
    return pd.DataFrame({"x": x, "role": role, "sex": sex, "y": np.where(y == 1, "yes", "no")})


@pytest.mark.slow
def test_reweighting_trains_a_second_model_and_reports_its_trade_off(tmp_path, caplog) -> None:
    recipe = {"data": {"label": "y", "sensitive": ["sex"]}, "model": {"hidden": [16]}, "train": {"epochs": 8, "lr": 0.01},
              "evaluate": {"bootstrap": 0, "fairness": {"reweighting": True}}}
    run = tc.train(_biased(), recipe=recipe, name="rw", runs_dir=tmp_path)
    ev = json.loads((Path(run.run_dir) / "evaluation.json").read_text())
    r = ev["fairness"]["reweighting"]
    assert r["attribute"] == "sex" and r["training"]["epochs"] >= 1
    assert {(c["group"], c["label"]) for c in r["weights"]} == {("F", "no"), ("F", "yes"), ("M", "no"), ("M", "yes")}
    assert r["test_before"]["dp_difference"] == ev["fairness"]["attributes"]["sex"]["disparity"]["dp_difference"]
    assert r["test_after"]["dp_difference"] < r["test_before"]["dp_difference"]  # the weights close the selection-rate gap
    card = json.loads((Path(run.run_dir) / "card.json").read_text())
    assert card["evaluation"]["fairness"]["reweighting"]["accuracy_cost"] == r["accuracy_cost"]
    html = (Path(run.run_dir) / "report.html").read_text()
    assert "Mitigation: reweighting in training for sex" in html and f"{100 * r['accuracy_cost']:.2f} points of accuracy" in html

    caplog.clear()
    plain = {**recipe, "data": {"label": "y"}}
    tc.train(_biased(300), recipe=plain, name="rw-ignored", runs_dir=tmp_path)
    assert "evaluate.fairness.reweighting is ignored: the recipe names no data.sensitive columns" in caplog.text
