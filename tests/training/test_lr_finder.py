"""The learning-rate range test: a sane pick, no side effects, divergence, and the choice rule."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from training_helpers import TinyNet, classification_data, config, make_net, same_weights

from traincraft.constants import LR_FIND_START, LR_FIND_STEPS
from traincraft.errors import DataError, RecipeError
from traincraft.training import Trainer, find_lr
from traincraft.training.lr_finder import MIN_DESCENT_POINTS, choose_lr


def _ce(out, y):
    return F.cross_entropy(out, y)


def test_picks_a_sane_rate_that_trains_and_leaves_no_trace():
    x, y = classification_data(600)
    model = make_net()
    model.eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    torch.manual_seed(11)
    rng_before = torch.get_rng_state()
    result = find_lr(model, x, y, _ce, config(batch_size=32), seed=0)

    assert same_weights(model.state_dict(), before)
    assert torch.equal(torch.get_rng_state(), rng_before)
    assert not model.training, "the model's mode is restored"
    assert all(p.grad is None for p in model.parameters())

    assert len(result.lrs) == len(result.losses) == len(result.raw_losses) <= LR_FIND_STEPS
    assert result.lrs[0] == pytest.approx(LR_FIND_START)
    assert all(b > a for a, b in zip(result.lrs, result.lrs[1:]))
    assert 1e-4 < result.chosen < 0.3
    assert result.as_dict()["chosen"] == result.chosen and "steepest" in result.as_dict()["rule"]

    tuned = Trainer(make_net(), config(epochs=4, lr=result.chosen), task="multiclass").fit(x, y)
    slow = Trainer(make_net(), config(epochs=4, lr=LR_FIND_START * 10), task="multiclass").fit(x, y)
    assert tuned.history[-1]["train/loss"] < 0.7 * slow.history[-1]["train/loss"]


def test_same_seed_same_curve():
    x, y = classification_data(300)
    a = find_lr(make_net(), x, y, _ce, config(), seed=5)
    b = find_lr(make_net(), x, y, _ce, config(), seed=5)
    assert a.raw_losses == b.raw_losses and a.chosen == b.chosen


def test_stops_when_the_loss_diverges():
    x, y = classification_data(300)
    result = find_lr(make_net(), x, y, _ce, config(optimizer="sgd", grad_clip=None), start=1e-2, end=1e6)
    assert len(result.lrs) < LR_FIND_STEPS
    assert result.lrs[-1] < 1e6
    assert result.chosen < result.lrs[-1]


def test_non_finite_loss_from_the_start_is_a_data_error():
    class Broken(TinyNet):
        def forward(self, batch):
            return super().forward(batch) * float("nan")

    x, y = classification_data(100)
    with pytest.raises(DataError, match="non-finite loss already at lr=1e-06"):
        find_lr(Broken(), x, y, _ce, config())


def test_bad_range_is_refused():
    x, y = classification_data(50)
    with pytest.raises(RecipeError, match="0 < start < end"):
        find_lr(make_net(), x, y, _ce, config(), start=1.0, end=0.1)


def test_choice_rule_on_synthetic_curves():
    lrs = list(np.logspace(-6, 0, 100))
    # a loss that falls fastest around lr=1e-3 and bottoms out near lr=0.3
    drop = [2.0 - 1.5 / (1 + math.exp(-(math.log10(lr) + 3) * 4)) for lr in lrs]
    losses = [d + (0.2 * (math.log10(lr) + 0.5) ** 2 if lr > 0.3 else 0.0) for d, lr in zip(drop, lrs)]
    chosen = choose_lr(lrs, losses)
    assert 5e-4 < chosen < 2e-3
    # steepest point beyond min/10: the cap applies
    late = [1.0 - 0.9 * (i / 60) ** 8 if i <= 60 else 0.1 + (i - 60) for i in range(100)]
    lowest = int(np.argmin(late))
    assert choose_lr(lrs, late) == pytest.approx(lrs[lowest] / 10)
    # too short a descent: min / 10
    short = [1.0, 0.9, 5.0, 9.0]
    assert MIN_DESCENT_POINTS > 2
    assert choose_lr(lrs[:4], short) == pytest.approx(lrs[1] / 10)
    assert choose_lr([1e-3], [float("nan")]) == 1e-3
