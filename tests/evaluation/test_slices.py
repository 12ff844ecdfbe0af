"""Worst slices: a planted weak slice comes first; small slices are not ranked."""

import numpy as np
import pandas as pd
import pytest

from traincraft.evaluation import worst_slices


def test_planted_weak_slice_is_found_first() -> None:
    rng = np.random.default_rng(0)
    n = 2000
    frame = pd.DataFrame({
        "colour": rng.choice(["red", "green", "blue"], size=n),
        "age": rng.uniform(18, 90, size=n),
        "rare": np.where(np.arange(n) < 10, "tiny", "common"),
    })
    correct = rng.uniform(size=n) < np.where(frame["age"] > 72, 0.6, 0.95)
    correct[:10] = False  # a 10-row slice that is always wrong, under min_support
    out = worst_slices(frame, correct=correct, columns=["colour", "age", "rare"], bins=4, min_support=30)
    worst = out["worst"][0]
    assert worst["column"] == "age" and worst["slice"].startswith("age in (") and worst["gap"] < -0.1
    assert worst["low"] < worst["metric"] < worst["high"]
    assert all(s["rows"] >= 30 for s in out["worst"])
    assert "rare = tiny" not in [s["slice"] for s in out["worst"]] and out["slices_too_small"] >= 1
    assert out["overall"] == pytest.approx(correct.mean())


def test_regression_slices_rank_by_error_and_argument_check() -> None:
    frame = pd.DataFrame({"g": ["a"] * 50 + ["b"] * 50})
    err = np.r_[np.full(50, 1.0), np.full(50, 3.0)]
    out = worst_slices(frame, abs_error=err, columns=["g"], min_support=10)
    assert out["metric"] == "mae" and out["worst"][0]["slice"] == "g = b" and out["worst"][0]["gap"] == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="exactly one of correct"):
        worst_slices(frame, columns=["g"])
