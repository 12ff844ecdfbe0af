"""``metrics.jsonl``: one JSON object per epoch, with namespaced keys.

A record looks like ``{"epoch": 3, "step": 141, "train/loss": 0.41, "val/loss": 0.39,
"val/accuracy": 0.91, "lr": 0.0019, "perf/samples_per_s": 52000.0, "perf/epoch_s": 0.21}``.
Non-finite numbers are written as ``null`` so every line is standard JSON.

On resume the file is first cut back to the records of the epochs the checkpoint had finished
(a kill can land after an epoch's record was written but before its checkpoint was), so a
resumed run's file equals a straight run's, apart from the ``perf/`` timings.
"""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from traincraft._util.atomic import atomic_write_text
from traincraft.training.callbacks import Callback

if TYPE_CHECKING:
    from traincraft.training.trainer import Trainer

__all__ = ["MetricsLog", "read_metrics"]

log = logging.getLogger(__name__)

METRICS_FILE = "metrics.jsonl"


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def read_metrics(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The records of a metrics file; a torn last line (a kill mid-write) is skipped with a warning."""
    path = Path(path)
    if not path.exists():
        return []
    records: list[dict[str, Any]] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            log.warning("Skipping unreadable line %d of %s (a write was interrupted).", number, path)
    return records


class MetricsLog(Callback):
    """Append each epoch's logs to ``path`` (``run_dir/metrics.jsonl`` when the trainer adds it)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def on_fit_start(self, trainer: Trainer) -> None:
        resumed = trainer.resumed_from_epoch
        if resumed is None:
            atomic_write_text(self.path, "")
            return
        kept = [r for r in read_metrics(self.path) if isinstance(r.get("epoch"), int) and r["epoch"] <= resumed]
        text = "".join(json.dumps(r, allow_nan=False) + "\n" for r in kept)
        atomic_write_text(self.path, text)

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> None:
        record = {"epoch": epoch, **{k: _clean(v) for k, v in logs.items() if k != "epoch"}}
        line = json.dumps(record, allow_nan=False) + "\n"
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
