"""The overfitting verdict from learning curves: synthetic curves, then real digits runs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from traincraft.evaluation import diagnose_learning_curves


def history(train, val):
    return [{"epoch": i + 1, "train/loss": t, "val/loss": v} for i, (t, v) in enumerate(zip(train, val))]


def test_overfitting_from_the_validation_minimum() -> None:
    train = np.geomspace(1.0, 0.001, 30)
    val = np.r_[np.linspace(1.0, 0.3, 8), np.linspace(0.32, 0.9, 22)]
    out = diagnose_learning_curves(history(train, val), settings={"early_stopping": False, "dropout": 0.0, "weight_decay": 0.0, "hidden": [512]})
    assert out["verdict"] == "overfitting" and out["from_epoch"] == 8
    assert "Overfitting from epoch 8" in out["summary"]
    assert any("turn on train.early_stopping" in a for a in out["advice"])
    assert any("dropout" in a for a in out["advice"]) and any("traincraft curve" in a for a in out["advice"])


def test_early_stopping_that_restored_the_best_weights_is_fitting_well() -> None:
    train = np.geomspace(1.0, 0.01, 16)
    val = np.r_[np.linspace(1.0, 0.3, 8), np.linspace(0.33, 0.5, 8)]
    out = diagnose_learning_curves(history(train, val), best_epoch=8, restored_best=True)
    assert out["verdict"] == "fitting_well"
    assert "early stopping restored the epoch-8 weights" in out["summary"]


def test_noise_after_the_minimum_is_not_overfitting() -> None:
    rng = np.random.default_rng(0)
    train = np.geomspace(2.0, 0.01, 20)
    val = np.r_[np.geomspace(1.6, 0.13, 6), 0.13 * (1 + 0.05 * rng.standard_normal(14))]
    out = diagnose_learning_curves(history(train, val), best_epoch=6, restored_best=True)
    assert out["verdict"] == "fitting_well"


def test_underfitting_near_the_label_distribution_loss() -> None:
    train = np.linspace(0.70, 0.66, 10)
    val = np.linspace(0.70, 0.67, 10)
    out = diagnose_learning_curves(history(train, val), baseline_loss=0.69, settings={"hidden": [2]})
    assert out["verdict"] == "underfitting" and "guessing from the label distribution" in out["summary"]
    assert any("bigger network" in a for a in out["advice"])


def test_underfitting_when_still_improving() -> None:
    train = np.geomspace(2.0, 0.4, 8)
    val = np.geomspace(2.0, 0.5, 8)
    out = diagnose_learning_curves(history(train, val), baseline_loss=2.3, settings={"epochs": 8})
    assert out["verdict"] == "underfitting" and "not converged" in out["summary"]
    assert any("raise train.epochs (now 8)" in a for a in out["advice"])


def test_too_few_epochs_or_no_validation() -> None:
    out = diagnose_learning_curves(history([1.0, 0.5], [1.0, 0.6]))
    assert out["verdict"] == "undetermined" and "at least 3" in out["summary"]
    no_val = diagnose_learning_curves([{"epoch": i, "train/loss": 1.0 / i} for i in range(1, 6)])
    assert any("split.validation" in a for a in no_val["advice"])


@pytest.mark.slow
def test_deliberately_overfitting_recipe_vs_default_digits(tmp_path, digits_frame) -> None:
    """Large network, little data, no early stopping or regularisation: overfitting. The default
    recipe on all of digits: not."""
    import traincraft as tc

    small = digits_frame.sample(n=300, random_state=0)
    overfit = tc.train(
        small, label="digit", name="overfit", runs_dir=tmp_path,
        recipe={
            "split": {"train": 0.34, "validation": 0.33, "test": 0.33},
            "model": {"hidden": [1024, 1024], "dropout": 0.0},
            "train": {"epochs": 60, "batch_size": 16, "lr": 0.003, "weight_decay": 0.0, "schedule": "constant",
                      "early_stopping": {"enabled": False}},
        },
    )
    card = json.loads((overfit.run_dir / "card.json").read_text())
    assert card["learning_curves"]["verdict"] == "overfitting", card["learning_curves"]
    assert card["learning_curves"]["from_epoch"] < 30
    default = tc.train(digits_frame, label="digit", name="default", runs_dir=tmp_path)
    card = json.loads((default.run_dir / "card.json").read_text())
    assert card["learning_curves"]["verdict"] != "overfitting", card["learning_curves"]
    html = (default.run_dir / "report.html").read_text()
    assert "Learning curves and the overfitting verdict" in html
