"""Gradient accumulation, per-group learning-rate factors and the gradient-checkpointing switch."""

from __future__ import annotations

import logging

import pytest
import torch
from torch import nn
from training_helpers import classification_data, config

from traincraft.errors import RecipeError
from traincraft.training import Trainer, build_optimizer


class DenseNet(nn.Module):
    """No dropout: micro-batches draw no random numbers, so accumulation can be compared exactly."""

    def __init__(self, features: int = 8, out: int = 3) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(features, 16), nn.ReLU())
        self.head = nn.Linear(16, out)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.head(self.body(batch["dense"]))  # (B, out)


class ScaledNet(DenseNet):
    """Asks for the body to learn at a tenth of the rate (what layer-wise decay does)."""

    def lr_scales(self) -> dict[str, float]:
        return {name: 0.1 for name, _ in self.named_parameters() if name.startswith("body.")}


class Checkpointable(DenseNet):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[bool] = []

    def set_grad_checkpointing(self, enabled: bool) -> None:
        self.calls.append(enabled)


def _fit(net: nn.Module, **overrides) -> nn.Module:
    x, y = classification_data(200)
    x = {"dense": x["dense"]}
    Trainer(net, config(epochs=2, batch_size=40, **overrides), task="multiclass", seed=3).fit(x, y)
    return net


def test_accumulated_micro_batches_give_the_same_update_as_one_batch() -> None:
    torch.manual_seed(0)
    whole = _fit(DenseNet())
    torch.manual_seed(0)
    accumulated = _fit(DenseNet(), grad_accum=4)
    for (name, a), (_, b) in zip(whole.state_dict().items(), accumulated.state_dict().items()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)


def test_uneven_micro_batches_are_weighted_by_their_rows() -> None:
    torch.manual_seed(0)
    whole = _fit(DenseNet())
    torch.manual_seed(0)
    uneven = _fit(DenseNet(), grad_accum=3)  # 40 rows -> 14 + 13 + 13
    for (name, a), (_, b) in zip(whole.state_dict().items(), uneven.state_dict().items()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)


def test_more_micro_batches_than_rows_is_refused() -> None:
    with pytest.raises(RecipeError, match=r"train.grad_accum \(64\) is larger than train.batch_size \(32\)"):
        Trainer(DenseNet(), config(batch_size=32, grad_accum=64), task="multiclass")


def test_lr_scales_become_groups_and_scale_the_scheduled_rate() -> None:
    torch.manual_seed(0)
    net = ScaledNet()
    optimizer = build_optimizer(net, config(lr=0.01, schedule="constant", warmup=0.0), lr=0.01)
    scaled = [g for g in optimizer.param_groups if "lr_scale" in g]
    assert [g["lr_scale"] for g in scaled] == [0.1, 0.1]  # the body's weight (decay) and bias (no decay)
    assert {id(p) for g in scaled for p in g["params"]} == {id(p) for p in net.body.parameters()}

    trainer = Trainer(net, config(lr=0.01, schedule="constant", warmup=0.0, epochs=1), task="multiclass")
    x, y = classification_data(80)
    trainer.fit({"dense": x["dense"]}, y)
    rates = {g.get("lr_scale", 1.0): g["lr"] for g in trainer.optimizer.param_groups}
    assert rates[0.1] == pytest.approx(0.001)
    assert rates[1.0] == pytest.approx(0.01)


def test_lr_scales_naming_an_unknown_parameter_is_an_error() -> None:
    class Wrong(DenseNet):
        def lr_scales(self) -> dict[str, float]:
            return {"encoder.nothing": 0.5}

    with pytest.raises(RecipeError, match=r"lr_scales\(\) names 'encoder.nothing', which is not one of its parameters"):
        build_optimizer(Wrong(), config(), lr=0.01)


def test_grad_checkpointing_calls_the_model_and_warns_when_it_cannot(caplog) -> None:
    net = Checkpointable()
    _fit(net, grad_checkpointing=True)
    assert net.calls == [True]
    with caplog.at_level(logging.WARNING, logger="traincraft.training.trainer"):
        _fit(DenseNet(), grad_checkpointing=True)
    assert "train.grad_checkpointing is ignored: DenseNet has no set_grad_checkpointing" in caplog.text
