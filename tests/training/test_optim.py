"""Optimisers from the config: decay groups, fused AdamW, SGD."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from training_helpers import config

from traincraft.errors import RecipeError
from traincraft.training import build_optimizer
from traincraft.training.optim import split_decay_params


class Tied(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.norm = nn.LayerNorm(4)
        self.proj = nn.Linear(4, 4)
        self.out = nn.Linear(4, 10, bias=False)
        self.out.weight = self.embed.weight  # tied


def test_weight_decay_only_on_weight_matrices():
    model = Tied()
    decay, no_decay = split_decay_params(model)
    assert [p is model.proj.weight for p in decay] == [True]
    names = {id(p): n for n, p in model.named_parameters()}
    assert sorted(names[id(p)] for p in no_decay) == ["embed.weight", "norm.bias", "norm.weight", "proj.bias"]
    assert len({id(p) for p in decay + no_decay}) == len(decay + no_decay), "the tied weight appears once"


def test_adamw_groups_and_fused_on_cpu():
    opt = build_optimizer(Tied(), config(weight_decay=0.05), lr=0.003)
    assert isinstance(opt, torch.optim.AdamW)
    assert [g["weight_decay"] for g in opt.param_groups] == [0.05, 0.0]
    assert all(g["lr"] == 0.003 for g in opt.param_groups)
    assert opt.param_groups[0]["fused"] is True


def test_sgd_uses_momentum():
    opt = build_optimizer(nn.Linear(3, 2), config(optimizer="sgd", momentum=0.8), lr=0.1)
    assert isinstance(opt, torch.optim.SGD)
    assert opt.param_groups[0]["momentum"] == 0.8


def test_frozen_parameters_are_left_out_and_nothing_to_train_is_an_error():
    model = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 2))
    model[0].requires_grad_(False)
    opt = build_optimizer(model, config(), lr=0.1)
    assert sum(len(g["params"]) for g in opt.param_groups) == 2
    model.requires_grad_(False)
    with pytest.raises(RecipeError, match="has no trainable parameters"):
        build_optimizer(model, config(), lr=0.1)
