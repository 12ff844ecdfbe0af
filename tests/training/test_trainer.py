"""The training loop: determinism, tasks, losses, callbacks, validation of inputs, progress output."""

from __future__ import annotations

import io
import json
import logging

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from training_helpers import (
    TinyNet,
    accuracy,
    classification_data,
    config,
    make_net,
    regression_data,
    same_weights,
    split,
    without_perf,
)

from traincraft.errors import DataError, RecipeError
from traincraft.recipe import EarlyStoppingConfig
from traincraft.training import Callback, FitResult, Trainer
from traincraft.training.progress import ProgressDisplay, format_logs, resolve_progress


def _fit(seed: int = 0, **cfg):
    x, y = classification_data(300)
    x_train, y_train, x_val, y_val = split(x, y, 240)
    trainer = Trainer(make_net(), config(**cfg), task="multiclass", seed=seed, metrics_fn=accuracy)
    return trainer, trainer.fit(x_train, y_train, x_val, y_val)


def test_same_seed_same_run_and_another_seed_differs():
    a, ra = _fit(seed=3)
    b, rb = _fit(seed=3)
    c, rc = _fit(seed=4)
    assert without_perf(ra.history) == without_perf(rb.history)
    assert same_weights(a.model, b.model)
    assert without_perf(ra.history) != without_perf(rc.history)
    assert not same_weights(a.model, c.model)


def test_fit_result_and_history_keys():
    trainer, result = _fit(epochs=2)
    assert isinstance(result, FitResult)
    assert result.epochs_run == 2 and len(result.history) == 2
    assert list(result.history[0]) == [
        "epoch",
        "step",
        "train/loss",
        "val/loss",
        "val/accuracy",
        "lr",
        "perf/samples_per_s",
        "perf/epoch_s",
    ]
    assert [h["step"] for h in result.history] == [8, 16]  # 240 rows / 32 = 7.5 -> 8 steps per epoch
    assert result.device == "cpu" and result.resumed_from_epoch is None
    assert result.lr == 0.01 and result.lr_find is None
    assert result.samples_per_s > 0 and result.seconds > 0
    assert trainer.history == result.history
    assert result.best_epoch is None and result.monitor is None and not result.stopped_early


def test_training_learns_and_predict_is_eval_mode_on_cpu():
    x, y = classification_data(400)
    x_train, y_train, x_val, y_val = split(x, y, 300)
    trainer = Trainer(make_net(), config(epochs=15, lr=0.02), task="multiclass", metrics_fn=accuracy)
    result = trainer.fit(x_train, y_train, x_val, y_val)
    assert result.history[-1]["train/loss"] < 0.6 * result.history[0]["train/loss"]
    assert result.history[-1]["val/accuracy"] > 0.8
    trainer.model.train()
    out1 = trainer.predict(x_val, batch_size=7)
    out2 = trainer.predict(x_val)
    assert out1.shape == (100, 3) and out1.device.type == "cpu" and out1.dtype == torch.float32
    assert torch.allclose(out1, out2, atol=1e-6), "dropout is off and batching does not matter"
    assert trainer.model.training, "predict restores the model's mode"
    assert not out1.requires_grad


def test_regression_task():
    x, y = regression_data(300)
    x_train, y_train, x_val, y_val = split(x, y, 240)

    def rmse(out, target):
        return {"rmse": float(torch.sqrt(F.mse_loss(out[:, 0], target)))}

    es = EarlyStoppingConfig(enabled=True, monitor="val/rmse", patience=50)
    trainer = Trainer(
        make_net(out=1), config(epochs=20, lr=0.02, early_stopping=es), task="regression", metrics_fn=rmse
    )
    result = trainer.fit(x_train, y_train.double(), x_val, y_val)  # float64 targets are accepted
    assert result.history[-1]["val/loss"] < 0.3 * result.history[0]["val/loss"]
    assert result.monitor == "val/rmse"
    assert result.best_metric == min(h["val/rmse"] for h in result.history)
    with pytest.raises(RecipeError, match="regression model must output 1 column; this one outputs 3"):
        Trainer(make_net(out=3), config(), task="regression").fit(x_train, y_train)


def test_class_weights_change_the_loss():
    x, y = classification_data(240)
    plain = Trainer(make_net(), config(epochs=1), task="multiclass").fit(x, y)
    weights = torch.tensor([5.0, 1.0, 0.2])
    weighted = Trainer(make_net(), config(epochs=1), task="multiclass", class_weights=weights).fit(x, y)
    assert weighted.history[0]["train/loss"] != plain.history[0]["train/loss"]
    balanced = Trainer(make_net(), config(epochs=1, class_weights="balanced"), task="multiclass").fit(x, y)
    assert balanced.history[0]["train/loss"] != plain.history[0]["train/loss"]
    with pytest.raises(RecipeError, match="class_weights has 2 entries but the model outputs 3 classes"):
        Trainer(make_net(), config(), task="multiclass", class_weights=torch.ones(2)).fit(x, y)
    with pytest.raises(RecipeError, match="Class weights apply to classification"):
        Trainer(make_net(out=1), config(), task="regression", class_weights=torch.ones(2))


def test_loss_fn_overrides_the_task_loss():
    x, y = classification_data(240)
    seen = []

    def loss_fn(out, target):
        seen.append(out.shape)
        return F.cross_entropy(out, target, label_smoothing=0.2)

    result = Trainer(make_net(), config(epochs=1), task="multiclass", loss_fn=loss_fn).fit(x, y)
    plain = Trainer(make_net(), config(epochs=1), task="multiclass").fit(x, y)
    assert seen and seen[0] == (32, 3)
    assert result.history[0]["train/loss"] != plain.history[0]["train/loss"]


class _Recorder(Callback):
    def __init__(self):
        self.calls = []

    def on_fit_start(self, trainer):
        self.calls.append("fit_start")

    def on_epoch_start(self, trainer, epoch):
        self.calls.append(f"epoch_start {epoch}")

    def on_batch_end(self, trainer, step, loss):
        assert isinstance(loss, float)
        self.calls.append(f"batch {step}")

    def on_epoch_end(self, trainer, epoch, logs):
        logs["custom/score"] = 1.5
        self.calls.append(f"epoch_end {epoch}")

    def on_fit_end(self, trainer, result):
        self.calls.append("fit_end")


class _Stopper(Callback):
    def on_epoch_end(self, trainer, epoch, logs):
        if epoch == 2:
            trainer.stop_training = True


def test_callback_hooks_order_and_stop_training(tmp_path):
    x, y = classification_data(64)
    rec = _Recorder()
    trainer = Trainer(make_net(), config(epochs=5), task="multiclass", callbacks=[rec, _Stopper()], run_dir=tmp_path)
    result = trainer.fit(x, y)
    assert result.epochs_run == 2
    assert rec.calls == [
        "fit_start",
        "epoch_start 1",
        "batch 1",
        "batch 2",
        "epoch_end 1",
        "epoch_start 2",
        "batch 3",
        "batch 4",
        "epoch_end 2",
        "fit_end",
    ]
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert records[0]["custom/score"] == 1.5, "keys a callback adds are logged"


def test_on_batch_end_is_only_called_for_callbacks_that_override_it():
    class EpochOnly(Callback):
        def on_epoch_end(self, trainer, epoch, logs):
            pass

    x, y = classification_data(64)
    trainer = Trainer(make_net(), config(epochs=1), task="multiclass", callbacks=[EpochOnly(), _Recorder()])
    trainer.fit(x, y)
    assert [type(cb).__name__ for cb in trainer._batch_callbacks] == ["_Recorder"]


def test_lr_auto_runs_the_range_test(tmp_path):
    x, y = classification_data(300)
    trainer = Trainer(make_net(), config(epochs=1, lr="auto"), task="multiclass", run_dir=tmp_path)
    result = trainer.fit(x, y)
    assert result.lr_find is not None
    assert result.lr == result.lr_find["chosen"]
    assert 1e-5 < result.lr < 0.5
    saved = json.loads((tmp_path / "lr_find.json").read_text())
    assert saved["chosen"] == result.lr and len(saved["lrs"]) == len(saved["losses"])


def test_lr_auto_is_deterministic():
    x, y = classification_data(200)
    a = Trainer(make_net(), config(epochs=1, lr="auto"), task="multiclass").fit(x, y)
    b = Trainer(make_net(), config(epochs=1, lr="auto"), task="multiclass").fit(x, y)
    assert a.lr == b.lr and without_perf(a.history) == without_perf(b.history)


@pytest.mark.parametrize("schedule", ["cosine", "onecycle", "constant"])
@pytest.mark.parametrize("optimizer", ["adamw", "sgd"])
def test_every_optimizer_and_schedule_trains(schedule, optimizer):
    x, y = classification_data(200)
    cfg = config(epochs=2, schedule=schedule, optimizer=optimizer, grad_clip=None)
    result = Trainer(make_net(), cfg, task="multiclass").fit(x, y)
    assert all(torch.isfinite(torch.tensor(h["train/loss"])) for h in result.history)


def test_a_last_batch_of_one_row_joins_the_previous_batch():
    class WithBatchNorm(TinyNet):
        def __init__(self):
            super().__init__()
            self.norm = nn.BatchNorm1d(3)

        def forward(self, batch):
            return self.norm(super().forward(batch))

    x, y = classification_data(65)  # 2 x 32 + 1
    trainer = Trainer(WithBatchNorm(), config(epochs=1), task="multiclass")
    result = trainer.fit(x, y)
    assert result.history[0]["step"] == 2


def test_binary_task():
    x, y = classification_data(200, classes=2)
    result = Trainer(make_net(out=2), config(epochs=2), task="binary").fit(x, y)
    assert result.epochs_run == 2


@pytest.mark.parametrize(
    ("x", "y", "message"),
    [
        (
            {"dense": torch.randn(10, 3)},
            torch.randint(0, 3, (9,)),
            r"x_train\['dense'\] has shape \(10, 3\) but the labels have 9 rows",
        ),
        ({}, torch.randint(0, 3, (10,)), "x_train must be a non-empty dict of tensors"),
        ({"dense": [[1.0]] * 10}, torch.randint(0, 3, (10,)), r"x_train\['dense'\] must be a torch.Tensor"),
        ({"dense": torch.randn(10, 8)}, torch.rand(10), r"must hold int64 class indices 0..C-1, got torch.float32"),
        ({"dense": torch.randn(10, 8)}, torch.randint(0, 3, (10, 1)), "must be a 1-D tensor"),
        ({"dense": torch.randn(10, 8)}, -torch.ones(10, dtype=torch.long), "negative class indices"),
        ({"dense": torch.randn(10, 8)}, torch.zeros(0, dtype=torch.long), "y_train is empty"),
    ],
)
def test_bad_inputs_are_data_errors(x, y, message):
    trainer = Trainer(make_net(), config(), task="multiclass")
    with pytest.raises(DataError, match=message):
        trainer.fit(x, y)


def test_nan_features_are_reported_with_their_row():
    x, y = classification_data(40)
    x["dense"][17, 2] = float("nan")
    with pytest.raises(DataError, match=r"x_train\['dense'\] holds 1 NaN/inf values \(first in row 17\)"):
        Trainer(make_net(), config(), task="multiclass").fit(x, y)


def test_labels_beyond_the_model_outputs_are_reported():
    x, y = classification_data(40)
    y[0] = 5
    with pytest.raises(DataError, match="class indices up to 5, but the model outputs 3 column"):
        Trainer(make_net(), config(), task="multiclass").fit(x, y)


def test_half_a_validation_split_and_bad_settings_are_refused():
    x, y = classification_data(40)
    with pytest.raises(DataError, match="Pass both x_val and y_val"):
        Trainer(make_net(), config(), task="multiclass").fit(x, y, x_val=x)
    with pytest.raises(RecipeError, match="task is 'clustering'"):
        Trainer(make_net(), config(), task="clustering")
    with pytest.raises(RecipeError, match="progress is 'fancy'"):
        Trainer(make_net(), config(), task="multiclass", progress="fancy")
    with pytest.raises(RecipeError, match="must be traincraft Callback instances"):
        Trainer(make_net(), config(), task="multiclass", callbacks=[object()])


def test_divergence_is_an_error_with_advice():
    class Exploding(TinyNet):
        def forward(self, batch):
            return super().forward(batch) * float("inf")

    x, y = classification_data(64)
    with pytest.raises(RecipeError, match="Training diverged: the training loss is nan in epoch 1. Lower train.lr"):
        Trainer(Exploding(), config(), task="multiclass").fit(x, y)


def test_model_output_shape_is_checked():
    class Flat(TinyNet):
        def forward(self, batch):
            return super().forward(batch).sum(dim=1)

    x, y = classification_data(64)
    with pytest.raises(
        RecipeError, match=r"must return a \(batch, out_dim\) tensor; for a batch of 2 rows it returned shape \(2,\)"
    ):
        Trainer(Flat(), config(), task="multiclass").fit(x, y)


def test_progress_log_lines(caplog):
    x, y = classification_data(64)
    with caplog.at_level(logging.INFO, logger="traincraft.training.progress"):
        Trainer(make_net(), config(epochs=2), task="multiclass", progress="log").fit(x, y)
    lines = [r.getMessage() for r in caplog.records if r.name == "traincraft.training.progress"]
    assert len(lines) == 2
    assert lines[0].startswith("epoch 1/2  train/loss ") and "samples/s" in lines[0]


def test_progress_resolution_and_bar():
    from rich.console import Console

    assert resolve_progress(False) is None
    assert resolve_progress(True, isatty=True) == "bar"
    assert resolve_progress("auto", isatty=False) == "log"
    assert resolve_progress("log", isatty=True) == "log"
    buffer = io.StringIO()
    display = ProgressDisplay(
        "bar",
        epochs=2,
        steps_per_epoch=4,
        monitor="val/loss",
        console=Console(file=buffer, force_terminal=True, width=120),
    )
    assert display.wants_live_loss
    display.start_epoch(1, 0)
    display.update(3, 0.6931)
    logs = {"epoch": 1, "step": 4, "train/loss": 0.5, "val/loss": 0.25, "lr": 0.001}
    display.end_epoch(1, logs)
    display.close()
    display.close()
    out = buffer.getvalue()
    assert "epoch 1/2  train/loss 0.5000  val/loss 0.2500  lr 0.001" in out
    assert "val/loss 0.2500" in out
    assert format_logs(3, 5, {"perf/samples_per_s": 12345.6}) == "epoch 3/5  12,346 samples/s"


def test_no_validation_disables_early_stopping_with_a_warning(caplog):
    x, y = classification_data(64)
    cfg = config(epochs=2, early_stopping=EarlyStoppingConfig(enabled=True))
    with caplog.at_level(logging.WARNING, logger="traincraft.training.trainer"):
        result = Trainer(make_net(), cfg, task="multiclass").fit(x, y)
    assert "Early stopping is disabled: it needs a validation split" in caplog.text
    assert result.best_epoch is None and result.epochs_run == 2


def test_class_weight_mapping_without_a_tensor_is_ignored_with_a_warning(caplog):
    x, y = classification_data(64)
    with caplog.at_level(logging.WARNING, logger="traincraft.training.trainer"):
        Trainer(make_net(), config(epochs=1, class_weights={"a": 2.0}), task="multiclass").fit(x, y)
    assert "is ignored here. Pass class_weights= as a tensor" in caplog.text


class _Linear(nn.Module):
    """No dropout: the first step's loss is a plain function of the initial weights."""

    def __init__(self, features: int = 8, out: int = 3) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.head = nn.Linear(features, out)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.head(batch["dense"])  # (B, out)


def test_sample_weights_weight_each_rows_loss():
    x, y = classification_data(240)
    w = torch.rand(240, generator=torch.Generator().manual_seed(1)) * 4
    model = _Linear()
    with torch.no_grad():
        per_row = F.cross_entropy(model(x), y, reduction="none")
    expected = float((per_row * w * (240 / w.sum())).mean())  # weights scaled to mean 1
    result = Trainer(model, config(epochs=1, batch_size=240), task="multiclass").fit(x, y, sample_weight=w)
    assert result.history[0]["train/loss"] == pytest.approx(expected, rel=1e-5)
    assert expected != pytest.approx(float(per_row.mean()), rel=1e-3)


def test_equal_sample_weights_train_like_none_and_weights_steer_the_model():
    x, y = classification_data(240)
    plain = Trainer(make_net(), config(), task="multiclass")
    plain.fit(x, y)
    equal = Trainer(make_net(), config(), task="multiclass")
    equal.fit(x, y, sample_weight=torch.full((240,), 3.0))
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(plain.model.state_dict().values(), equal.model.state_dict().values()))
    accumulated = Trainer(make_net(), config(grad_accum=4), task="multiclass")
    accumulated.fit(x, y, sample_weight=torch.full((240,), 3.0))
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(plain.model.state_dict().values(), accumulated.model.state_dict().values()))
    favour = torch.where(y == 0, 20.0, 1.0)
    steered = Trainer(make_net(), config(), task="multiclass")
    steered.fit(x, y, sample_weight=favour)
    said_0 = lambda t: int((t.predict(x).argmax(dim=1) == 0).sum())  # noqa: E731
    assert said_0(steered) > said_0(plain)


@pytest.mark.parametrize(
    ("weights", "kwargs", "error", "message"),
    [
        (torch.ones(10), {}, DataError, r"one weight per training row \(240\), got shape \(10,\)"),
        (torch.full((240,), -1.0), {}, DataError, "finite and non-negative with a positive sum"),
        (torch.zeros(240), {}, DataError, "finite and non-negative with a positive sum"),
        (torch.ones(240), {"loss_fn": lambda out, t: F.cross_entropy(out, t)}, RecipeError, "sample_weight needs the built-in loss"),
    ],
)
def test_bad_sample_weights(weights, kwargs, error, message):
    x, y = classification_data(240)
    with pytest.raises(error, match=message):
        Trainer(make_net(), config(), task="multiclass", **kwargs).fit(x, y, sample_weight=weights)
