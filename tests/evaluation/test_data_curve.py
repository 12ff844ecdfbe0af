"""The more-data curve: power-law fit and extrapolation, nested stratified subsets, and digits."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from traincraft.data import Splits
from traincraft.evaluation import fit_power_law, subsample_train
from traincraft.evaluation.data_curve import FLAT_GAIN


def test_fit_recovers_an_exact_power_law() -> None:
    rows = np.array([100, 200, 400, 700, 1000])
    acc = 1 - 2.0 * rows**-0.5
    fit = fit_power_law(rows, acc)
    assert fit["ok"] and fit["a"] == pytest.approx(2.0) and fit["b"] == pytest.approx(0.5)
    truth = (1 - 2.0 * 2000**-0.5) - (1 - 2.0 * 1000**-0.5)
    assert fit["gain_2x"] == pytest.approx(truth)
    assert fit["gain_2x_interval"][0] == pytest.approx(truth, abs=1e-6)
    assert not fit["flattened"] and "Still rising" in fit["verdict"]


def test_interval_covers_the_truth_under_noise_and_flat_curves_flatten() -> None:
    rng = np.random.default_rng(0)
    rows = np.array([120, 240, 480, 840, 1200])
    truth = (1 - 3.0 * 2400**-0.6) - (1 - 3.0 * 1200**-0.6)
    covered = 0
    for seed in range(20):
        acc = 1 - 3.0 * rows**-0.6 * np.exp(np.random.default_rng(seed).normal(0, 0.05, size=5))
        low, high = fit_power_law(rows, acc, seed=seed)["gain_2x_interval"]
        covered += low <= truth <= high
    assert covered >= 16  # a 95% interval from 5 points: most of 20 should cover
    flat = fit_power_law(rows, 0.98 + rng.normal(0, 1e-4, size=5))
    assert flat["flattened"] and flat["gain_2x"] < FLAT_GAIN and "Flattened" in flat["verdict"]
    loss = fit_power_law(rows, 2.0 * rows**-0.3, higher_is_better=False)
    assert loss["gain_2x"] > 0  # lower loss with more data is a gain
    assert not fit_power_law([10, 10, 20], [0.5, 0.6, 0.7])["ok"]


def test_subsample_is_nested_stratified_and_keeps_validation_and_test() -> None:
    labels = pd.Series(np.r_[np.zeros(800), np.ones(200)].astype(int))
    splits = Splits(np.arange(0, 1000, 2), np.arange(1, 1000, 4), np.arange(3, 1000, 4), method="random", seed=0)
    small = subsample_train(splits, labels, 0.1, seed=5)
    larger = subsample_train(splits, labels, 0.4, seed=5)
    assert set(small.train) <= set(larger.train) <= set(splits.train)
    assert len(small.train) == 50 and labels.loc[small.train].mean() == pytest.approx(labels.loc[splits.train].mean(), abs=0.01)
    assert np.array_equal(small.validation, splits.validation) and np.array_equal(small.test, splits.test)
    assert subsample_train(splits, None, 1.0, seed=0) is splits
    with pytest.raises(ValueError, match=r"fraction must be in \(0, 1\]"):
        subsample_train(splits, labels, 0.0, seed=0)


@pytest.mark.slow
def test_more_data_curve_rises_on_digits(tmp_path, digits_frame) -> None:
    from traincraft.api.curve import curve

    result = curve(digits_frame, label="digit", name="digits", runs_dir=tmp_path,
                   recipe={"model": {"hidden": [64]}, "train": {"epochs": 12}})
    points = result["points"]
    assert [p["train_rows"] for p in points] == sorted(p["train_rows"] for p in points)
    assert len({p["run_dir"] for p in points}) == 5
    assert points[-1]["metric"] > points[0]["metric"] + 0.05, points  # more data, better validation accuracy
    fit = result["fit"]
    assert fit["ok"] and fit["b"] > 0 and fit["gain_2x"] > 0
    full = points[-1]["run_dir"]
    card = json.loads(open(f"{full}/card.json").read())
    assert card["data_curve"]["fit"]["b"] == pytest.approx(fit["b"])
    html = open(f"{full}/report.html").read()
    assert "Would more data help?" in html and "Power-law fit" in html and fit["verdict"].split(":")[0] in html
    sizes = [json.loads(open(f"{p['run_dir']}/data/splits.json").read()) for p in points]
    assert all(s["validation"] == sizes[-1]["validation"] and s["test"] == sizes[-1]["test"] for s in sizes)
