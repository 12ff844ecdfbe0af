"""metrics.jsonl: contents, standard JSON, truncation on resume, torn lines."""

from __future__ import annotations

import json
import logging

from training_helpers import accuracy, classification_data, config, make_net, split

from traincraft.training import MetricsLog, Trainer, read_metrics


def test_one_record_per_epoch_with_namespaced_keys(tmp_path):
    x, y = classification_data(300)
    x_train, y_train, x_val, y_val = split(x, y, 240)
    result = Trainer(make_net(), config(epochs=3), task="multiclass", metrics_fn=accuracy, run_dir=tmp_path).fit(
        x_train, y_train, x_val, y_val
    )
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["epoch"] for r in records] == [1, 2, 3]
    assert [r["step"] for r in records] == [8, 16, 24]
    assert set(records[0]) == {
        "epoch",
        "step",
        "train/loss",
        "val/loss",
        "val/accuracy",
        "lr",
        "perf/samples_per_s",
        "perf/epoch_s",
    }
    assert records == result.history
    assert 0 <= records[-1]["val/accuracy"] <= 1 and records[-1]["perf/samples_per_s"] > 0


def test_a_fresh_fit_starts_a_fresh_file(tmp_path):
    x, y = classification_data(64)
    (tmp_path / "metrics.jsonl").write_text('{"epoch": 9}\n')
    Trainer(make_net(), config(epochs=1), task="multiclass", run_dir=tmp_path).fit(x, y)
    assert [r["epoch"] for r in read_metrics(tmp_path / "metrics.jsonl")] == [1]


class _FakeTrainer:
    def __init__(self, resumed_from_epoch):
        self.resumed_from_epoch = resumed_from_epoch


def test_resume_cuts_records_after_the_checkpoint_and_torn_lines(tmp_path, caplog):
    path = tmp_path / "metrics.jsonl"
    path.write_text(
        "".join(json.dumps({"epoch": e, "train/loss": 1.0 / e}) + "\n" for e in range(1, 6)) + '{"epoch": 6, "tr'
    )
    with caplog.at_level(logging.WARNING):
        MetricsLog(path).on_fit_start(_FakeTrainer(resumed_from_epoch=3))
    assert [r["epoch"] for r in read_metrics(path)] == [1, 2, 3]
    assert "Skipping unreadable line 6" in caplog.text


def test_non_finite_values_are_written_as_null(tmp_path):
    path = tmp_path / "metrics.jsonl"
    log = MetricsLog(path)
    log.on_fit_start(_FakeTrainer(resumed_from_epoch=None))
    log.on_epoch_end(None, 1, {"epoch": 1, "val/roc_auc": float("nan"), "train/loss": 0.5})
    line = path.read_text()
    assert line == '{"epoch": 1, "val/roc_auc": null, "train/loss": 0.5}\n'
    assert read_metrics(tmp_path / "missing.jsonl") == []
