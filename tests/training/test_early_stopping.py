"""Early stopping: mode, patience, min_delta, best weights restored, state resumable."""

from __future__ import annotations

import logging

import pytest
import torch
from safetensors.torch import load_file
from training_helpers import accuracy, classification_data, config, make_net, same_weights, split

from traincraft.errors import CheckpointError, RecipeError
from traincraft.recipe import EarlyStoppingConfig
from traincraft.training import Callback, EarlyStopping, Trainer
from traincraft.training.early_stopping import monitor_mode


class _FakeTrainer:
    def __init__(self):
        self.model = torch.nn.Linear(2, 1)
        self.stop_training = False


@pytest.mark.parametrize(
    ("monitor", "mode"),
    [
        ("val/loss", "min"),
        ("val/rmse", "min"),
        ("val/mae", "min"),
        ("val/accuracy", "max"),
        ("val/roc_auc", "max"),
        ("val/r2", "max"),
    ],
)
def test_auto_mode(monitor, mode):
    assert monitor_mode(monitor) == mode
    assert monitor_mode(monitor, "max") == "max"


def test_patience_and_min_delta():
    es = EarlyStopping(EarlyStoppingConfig(monitor="val/loss", patience=2, min_delta=0.05))
    trainer = _FakeTrainer()
    for epoch, value in enumerate([1.0, 0.9, 0.88, 0.87], start=1):
        es.on_epoch_end(trainer, epoch, {"val/loss": value})
    assert (es.best, es.best_epoch, es.wait) == (0.9, 2, 2)
    assert trainer.stop_training and es.stopped_epoch == 4


def test_max_mode_and_nan_is_never_an_improvement():
    es = EarlyStopping(EarlyStoppingConfig(monitor="val/accuracy", patience=5))
    trainer = _FakeTrainer()
    for epoch, value in enumerate([0.5, float("nan"), 0.7, 0.6], start=1):
        es.on_epoch_end(trainer, epoch, {"val/accuracy": value})
    assert (es.best, es.best_epoch, es.wait) == (0.7, 3, 1)


def test_state_round_trip():
    es = EarlyStopping(EarlyStoppingConfig(patience=3))
    trainer = _FakeTrainer()
    es.on_epoch_end(trainer, 1, {"val/loss": 0.5})
    es.on_epoch_end(trainer, 2, {"val/loss": 0.6})
    fresh = EarlyStopping(EarlyStoppingConfig(patience=3))
    fresh.load_state_dict(es.state_dict())
    assert (fresh.best, fresh.best_epoch, fresh.wait, fresh.stopped_epoch) == (0.5, 1, 1, None)
    with pytest.raises(CheckpointError, match="Early-stopping state .* is incomplete"):
        fresh.load_state_dict({"best": 1.0})


def test_unknown_monitor_names_the_logged_metrics():
    es = EarlyStopping(EarlyStoppingConfig(monitor="val/acuracy"))
    with pytest.raises(
        RecipeError,
        match=r"'val/acuracy', which is not among .*: val/accuracy, val/loss\. Did you mean 'val/accuracy'\?",
    ):
        es.on_epoch_end(_FakeTrainer(), 1, {"val/loss": 1.0, "val/accuracy": 0.5})
    bare = EarlyStopping(EarlyStoppingConfig(monitor="accuracy"))
    bare.on_epoch_end(_FakeTrainer(), 1, {"val/accuracy": 0.5})
    assert bare.best == 0.5, "a bare name means its val/ metric"


class _ScriptedScore:
    """metrics_fn whose val/score follows a script: best at epoch 2, then worse."""

    def __init__(self, scores):
        self.scores = list(scores)
        self.calls = 0

    def __call__(self, out, y):
        score = self.scores[self.calls]
        self.calls += 1
        return {"score": score}


def test_fit_stops_and_restores_the_best_weights(tmp_path):
    x, y = classification_data(300)
    x_train, y_train, x_val, y_val = split(x, y, 240)

    class Keep(Callback):
        def __init__(self):
            self.weights = {}

        def on_epoch_end(self, trainer, epoch, logs):
            self.weights[epoch] = {k: v.clone() for k, v in trainer.model.state_dict().items()}

    keep = Keep()
    es = EarlyStoppingConfig(enabled=True, monitor="val/score", mode="max", patience=2)
    trainer = Trainer(
        make_net(),
        config(epochs=10, early_stopping=es),
        task="multiclass",
        metrics_fn=_ScriptedScore([0.1, 0.5, 0.4, 0.3, 0.9]),
        callbacks=[keep],
        run_dir=tmp_path,
    )
    result = trainer.fit(x_train, y_train, x_val, y_val)
    assert result.epochs_run == 4 and result.stopped_early
    assert (result.best_epoch, result.best_metric, result.monitor) == (2, 0.5, "val/score")
    assert same_weights(trainer.model.state_dict(), keep.weights[2])
    assert not same_weights(keep.weights[4], keep.weights[2])
    best_file = load_file(tmp_path / "checkpoints" / "best" / "model.safetensors")
    last_file = load_file(tmp_path / "checkpoints" / "last" / "model.safetensors")
    assert same_weights(best_file, keep.weights[2])
    assert same_weights(last_file, keep.weights[4])


def test_resume_reloads_the_best_weights_and_a_stopped_run_stays_stopped(tmp_path, caplog):
    x, y = classification_data(300)
    x_train, y_train, x_val, y_val = split(x, y, 240)
    es = EarlyStoppingConfig(enabled=True, monitor="val/score", mode="max", patience=2)
    cfg = config(epochs=10, early_stopping=es)
    first = Trainer(
        make_net(), cfg, task="multiclass", metrics_fn=_ScriptedScore([0.1, 0.5, 0.4, 0.3]), run_dir=tmp_path
    )
    first.fit(x_train, y_train, x_val, y_val)
    again = Trainer(make_net(seed=8), cfg, task="multiclass", metrics_fn=_ScriptedScore([]), run_dir=tmp_path)
    with caplog.at_level(logging.INFO, logger="traincraft.training.trainer"):
        result = again.fit(x_train, y_train, x_val, y_val, resume=True)
    assert "had stopped early at epoch 4" in caplog.text
    assert result.epochs_run == 4 and result.best_epoch == 2 and result.stopped_early
    assert same_weights(again.model, first.model), "the best weights came back from checkpoints/best"


def test_user_early_stopping_callback_replaces_the_configured_one():
    x, y = classification_data(300)
    x_train, y_train, x_val, y_val = split(x, y, 240)
    mine = EarlyStopping(EarlyStoppingConfig(monitor="val/accuracy", patience=1))
    trainer = Trainer(
        make_net(),
        config(epochs=30, lr=1e-6, early_stopping=EarlyStoppingConfig(enabled=True, patience=25)),
        task="multiclass",
        metrics_fn=accuracy,
        callbacks=[mine],
    )
    result = trainer.fit(x_train, y_train, x_val, y_val)
    assert trainer.early_stopping is mine
    assert result.stopped_early and result.epochs_run < 30


def test_a_reused_callback_starts_afresh_on_a_new_fit():
    x, y = classification_data(300)
    x_train, y_train, x_val, y_val = split(x, y, 240)
    mine = EarlyStopping(EarlyStoppingConfig(monitor="val/accuracy", patience=1))
    runs = []
    for _ in range(2):
        trainer = Trainer(
            make_net(), config(epochs=5, lr=1e-6), task="multiclass", metrics_fn=accuracy, callbacks=[mine]
        )
        runs.append(trainer.fit(x_train, y_train, x_val, y_val))
    assert (runs[0].epochs_run, runs[0].best_epoch) == (runs[1].epochs_run, runs[1].best_epoch) == (2, 1)
