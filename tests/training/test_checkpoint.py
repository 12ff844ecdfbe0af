"""Checkpoints: a full round trip, tied weights, the .old fallback, and every error path."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from training_helpers import TinyNet, config, make_net, same_weights

import traincraft.training
from traincraft.errors import CheckpointError
from traincraft.training import LRSchedule, build_optimizer, capture_rng_state, load_checkpoint, save_checkpoint


def _trained(seed: int = 0):
    """A model and optimiser with non-trivial state after a few steps."""
    model = make_net(seed)
    opt = build_optimizer(model, config(), lr=0.01)
    for _ in range(3):
        batch = {"dense": torch.randn(8, 8), "categorical": torch.randint(0, 5, (8, 1))}
        loss = model(batch).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model, opt


def _save(path: Path, model, opt, **kwargs):
    schedule = LRSchedule("cosine", peak_lr=0.01, total_steps=100)
    schedule.step = 3
    values = dict(
        model=model,
        optimizer=opt,
        schedule=schedule,
        epoch=1,
        step=3,
        step_in_epoch=2,
        rng=capture_rng_state(),
        callbacks={"EarlyStopping": {"best": 0.5, "wait": 1}},
        extra={"note": "hi", "nan": float("nan")},
    )
    values.update(kwargs)
    return save_checkpoint(path, **values)


def test_round_trip_restores_every_part(tmp_path):
    model, opt = _trained()
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    _save(tmp_path / "ck", model, opt)
    expected_draws = (random.random(), float(np.random.rand()), float(torch.rand(1)))
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == [
        "model.safetensors",
        "optimizer.safetensors",
        "rng.safetensors",
        "state.json",
    ]

    ck = load_checkpoint(tmp_path / "ck")
    assert (ck.epoch, ck.step, ck.step_in_epoch) == (1, 3, 2)
    assert ck.callbacks == {"EarlyStopping": {"best": 0.5, "wait": 1}}
    assert ck.extra["note"] == "hi" and np.isnan(ck.extra["nan"])

    other, other_opt = _trained(seed=1)
    assert not same_weights(other, model)
    ck.restore_model(other)
    assert same_weights(other, model)
    ck.restore_optimizer(other_opt)
    for p_ref, p_new in zip(model.parameters(), other.parameters()):
        s_ref, s_new = opt.state[p_ref], other_opt.state[p_new]
        assert torch.equal(s_ref["exp_avg"], s_new["exp_avg"]) and torch.equal(s_ref["exp_avg_sq"], s_new["exp_avg_sq"])
        assert torch.equal(s_ref["step"], s_new["step"])
    schedule = LRSchedule("cosine", peak_lr=0.01, total_steps=100)
    ck.restore_schedule(schedule)
    assert schedule.step == 3
    ck.restore_rng()
    assert (random.random(), float(np.random.rand()), float(torch.rand(1))) == expected_draws


def test_sgd_momentum_state_round_trips(tmp_path):
    model = make_net()
    opt = build_optimizer(model, config(optimizer="sgd"), lr=0.1)
    batch = {"dense": torch.randn(4, 8), "categorical": torch.zeros(4, 1, dtype=torch.long)}
    model(batch).sum().backward()
    opt.step()
    save_checkpoint(tmp_path / "ck", model=model, optimizer=opt, epoch=0, step=1)
    fresh = make_net(seed=3)
    fresh_opt = build_optimizer(fresh, config(optimizer="sgd"), lr=0.1)
    ck = load_checkpoint(tmp_path / "ck")
    ck.restore_model(fresh)
    ck.restore_optimizer(fresh_opt)
    p_ref, p_new = model.head.weight, fresh.head.weight
    assert torch.equal(opt.state[p_ref]["momentum_buffer"], fresh_opt.state[p_new]["momentum_buffer"])


def test_tied_weights_are_stored_once_and_restored(tmp_path):
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(6, 3)
            self.out = nn.Linear(3, 6, bias=False)
            self.out.weight = self.embed.weight

    model = Tied()
    save_checkpoint(tmp_path / "ck", model=model, epoch=0, step=0)
    ck = load_checkpoint(tmp_path / "ck")
    assert list(ck.model_state) == ["embed.weight"]
    assert ck.state["model"]["aliases"] == {"out.weight": "embed.weight"}
    fresh = Tied()
    ck.restore_model(fresh)
    assert torch.equal(fresh.out.weight, model.embed.weight) and fresh.out.weight is fresh.embed.weight


def test_falls_back_to_old_after_a_kill_mid_swap(tmp_path):
    model, opt = _trained()
    _save(tmp_path / "last", model, opt)
    (tmp_path / "last").rename(tmp_path / "last.old")  # the state replace_dir leaves between its two renames
    ck = load_checkpoint(tmp_path / "last")
    assert ck.path == tmp_path / "last.old"
    ck.restore_model(make_net(seed=4))


def test_rewriting_replaces_atomically(tmp_path):
    model, opt = _trained()
    _save(tmp_path / "last", model, opt, epoch=1)
    _save(tmp_path / "last", model, opt, epoch=2)
    assert load_checkpoint(tmp_path / "last").epoch == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last"], "no temporary or .old directory is left"


def test_missing_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match=r"No checkpoint at .*nowhere \(the directory does not exist\)"):
        load_checkpoint(tmp_path / "nowhere")


@pytest.mark.parametrize("name", ["model.safetensors", "optimizer.safetensors", "rng.safetensors", "state.json"])
def test_missing_file(tmp_path, name):
    model, opt = _trained()
    _save(tmp_path / "ck", model, opt)
    (tmp_path / "ck" / name).unlink()
    with pytest.raises(CheckpointError, match=rf"{tmp_path / 'ck'}.* is incomplete: {name} is missing"):
        load_checkpoint(tmp_path / "ck")


def test_corrupt_files(tmp_path):
    model, opt = _trained()
    _save(tmp_path / "ck", model, opt)
    weights = tmp_path / "ck" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-10])
    with pytest.raises(CheckpointError, match=r"model.safetensors is corrupt or unreadable"):
        load_checkpoint(tmp_path / "ck")
    (tmp_path / "ck" / "state.json").write_text("{not json")
    with pytest.raises(CheckpointError, match=r"state.json is corrupt: not valid JSON"):
        load_checkpoint(tmp_path / "ck")
    (tmp_path / "ck" / "state.json").write_text("[1, 2]")
    with pytest.raises(CheckpointError, match="not a traincraft checkpoint state"):
        load_checkpoint(tmp_path / "ck")


def test_format_version_mismatch(tmp_path):
    model, opt = _trained()
    _save(tmp_path / "ck", model, opt)
    state_path = tmp_path / "ck" / "state.json"
    state = json.loads(state_path.read_text())
    state["format_version"] = 99
    state_path.write_text(json.dumps(state))
    with pytest.raises(CheckpointError, match="has format version 99; this traincraft .* reads version 1"):
        load_checkpoint(tmp_path / "ck")


def test_a_different_model_is_refused_with_names_and_shapes(tmp_path):
    model, opt = _trained()
    _save(tmp_path / "ck", model, opt)
    ck = load_checkpoint(tmp_path / "ck")
    with pytest.raises(
        CheckpointError,
        match=r"shape differs: head.bias \(3,\) in the checkpoint vs \(5,\) in the model, head.weight \(3, 16\) in",
    ):
        ck.restore_model(TinyNet(out=5))
    with pytest.raises(
        CheckpointError,
        match=r"missing from the checkpoint: bias, weight; "
        r"not in the model: body.0.bias, body.0.weight, embed.weight, head.bias, head.weight\. ",
    ):
        ck.restore_model(nn.Linear(2, 2))
    bigger = TinyNet(hidden=32)
    with pytest.raises(CheckpointError, match="does not match the model"):
        ck.restore_model(bigger)


def test_a_different_optimizer_is_refused(tmp_path):
    model, opt = _trained()
    _save(tmp_path / "ck", model, opt)
    ck = load_checkpoint(tmp_path / "ck")
    sgd = build_optimizer(make_net(), config(optimizer="sgd"), lr=0.1)
    with pytest.raises(CheckpointError, match="written with the AdamW optimiser but this run uses SGD"):
        ck.restore_optimizer(sgd)
    one_group = torch.optim.AdamW(make_net().parameters(), lr=0.1)
    with pytest.raises(CheckpointError, match=r"parameter groups of sizes \[2, 3\] but this model's are \[5\]"):
        ck.restore_optimizer(one_group)


def test_values_that_are_not_json_are_refused(tmp_path):
    model, opt = _trained()
    with pytest.raises(CheckpointError, match="not JSON-serialisable"):
        _save(tmp_path / "ck", model, opt, callbacks={"X": {"obj": object()}})
    assert not (tmp_path / "ck").exists()


def test_no_pickle_anywhere_in_training():
    package = Path(traincraft.training.__file__).parent
    for path in package.glob("*.py"):
        text = path.read_text()
        for banned in ("torch.save(", "torch.load(", "import pickle", "pickle.load"):
            assert banned not in text, f"{path.name} uses {banned}"
