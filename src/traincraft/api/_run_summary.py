"""``run.json``: how a finished run ended, with the same run metadata for every task kind.

Supervised, fine-tuning, cluster, anomaly and RL runs each add their own summary (metrics, epochs,
k, threshold, environment steps...) and all of them record where and with what the run ran:
``device``, ``threads`` (torch intra-op threads), ``finished`` (UTC, ISO 8601), ``seconds`` and
``versions`` (traincraft, python, torch, numpy, pandas, scikit-learn).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import torch

from traincraft._util.atomic import atomic_write_json
from traincraft.api.run_dir import RunPaths
from traincraft.serving import library_versions

__all__ = ["RUN_METADATA_KEYS", "run_metadata", "write_run_summary"]

RUN_METADATA_KEYS = ("device", "threads", "finished", "seconds", "versions")


def run_metadata(*, device: str | torch.device, seconds: float) -> dict[str, Any]:
    """Where and with what a run ran: the keys of :data:`RUN_METADATA_KEYS`."""
    return {
        "device": str(device),
        "threads": torch.get_num_threads(),
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(float(seconds), 3),
        "versions": library_versions(),
    }


def write_run_summary(paths: RunPaths, name: str | None, summary: dict[str, Any], *, device: str | torch.device, seconds: float) -> dict[str, Any]:
    """Write ``run.json`` (``status: finished``, the task's ``summary``, the run metadata) atomically; return it."""
    record = {"name": name, "status": "finished", **summary, **run_metadata(device=device, seconds=seconds)}
    atomic_write_json(paths.summary, record)
    return record
