"""Learning-rate schedules: pure functions of the step, exact on resume, OneCycle as torch has it."""

from __future__ import annotations

import math

import pytest
import torch
from training_helpers import config

from traincraft.errors import CheckpointError, RecipeError
from traincraft.training import LRSchedule


def test_cosine_warms_up_to_the_peak_then_decays_towards_zero():
    s = LRSchedule("cosine", peak_lr=0.1, total_steps=100, warmup=0.1)
    assert s.warmup_steps == 10
    assert s.lr_at(0) == pytest.approx(0.01)
    assert s.lr_at(9) == pytest.approx(0.1), "the peak at the end of warmup"
    assert s.lr_at(10) == pytest.approx(0.1)
    assert s.lr_at(55) == pytest.approx(0.05), "half-way through the decay"
    assert 0 < s.lr_at(99) < 1e-3, "the last step still learns a little"
    assert s.lr_at(100) == pytest.approx(0.0, abs=1e-12) and s.lr_at(1000) == pytest.approx(0.0, abs=1e-12)
    after = [s.lr_at(i) for i in range(10, 100)]
    assert all(a >= b for a, b in zip(after, after[1:]))


def test_constant_with_warmup_and_without():
    s = LRSchedule("constant", peak_lr=0.02, total_steps=50, warmup=0.2)
    assert [s.lr_at(i) for i in (0, 9, 10, 49)] == pytest.approx([0.002, 0.02, 0.02, 0.02])
    assert LRSchedule("constant", peak_lr=0.02, total_steps=50, warmup=0.0).lr_at(0) == 0.02


def test_onecycle_matches_torch_onecycle():
    total = 97
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=0.1, momentum=0.0)
    ref = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=total, cycle_momentum=False)
    expected = []
    for _ in range(total):
        expected.append(opt.param_groups[0]["lr"])
        opt.step()
        ref.step()
    ours = LRSchedule("onecycle", peak_lr=0.1, total_steps=total)
    assert [ours.lr_at(i) for i in range(total)] == pytest.approx(expected, rel=1e-9, abs=1e-15)
    assert ours.lr_at(total - 1) == pytest.approx(0.1 / 25 / 1e4)


def test_state_is_the_step_and_refuses_another_run():
    s = LRSchedule.from_config(config(schedule="cosine", warmup=0.1), peak_lr=0.01, total_steps=40)
    s.step = 17
    fresh = LRSchedule.from_config(config(schedule="cosine", warmup=0.1), peak_lr=0.01, total_steps=40)
    fresh.load_state_dict(s.state_dict())
    assert fresh.step == 17 and fresh.lr == s.lr_at(17)
    other = LRSchedule("onecycle", peak_lr=0.01, total_steps=40)
    with pytest.raises(CheckpointError, match="schedule has kind='cosine' but this run uses 'onecycle'"):
        other.load_state_dict(s.state_dict())
    with pytest.raises(CheckpointError, match="has no integer 'step'"):
        fresh.load_state_dict({"kind": "cosine"})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "linear"}, "train.schedule is 'linear'"),
        ({"peak_lr": 0.0}, "peak learning rate must be greater than 0"),
        ({"total_steps": 0}, "at least one step"),
        ({"warmup": 1.5}, "between 0 and 1"),
    ],
)
def test_bad_settings(kwargs, message):
    values = {"kind": "cosine", "peak_lr": 0.1, "total_steps": 10, "warmup": 0.1} | kwargs
    kind = values.pop("kind")
    with pytest.raises(RecipeError, match=message):
        LRSchedule(kind, **values)


def test_single_step_schedules_are_finite():
    for kind in ("cosine", "onecycle", "constant"):
        s = LRSchedule(kind, peak_lr=0.1, total_steps=1)
        assert math.isfinite(s.lr_at(0)) and s.lr_at(0) > 0
