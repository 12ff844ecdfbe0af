"""The other ranks of a multi-process run: receive training jobs from rank 0 until it is done.

See :mod:`traincraft.training.distributed` for how the work is shared.
"""

from __future__ import annotations

import logging

from traincraft.training import distributed
from traincraft.training.trainer import Trainer

__all__ = ["serve"]

log = logging.getLogger(__name__)


def serve() -> None:
    """Run rank 0's training jobs on this rank until rank 0 finishes (or stops for an error)."""
    group = distributed.current()
    if group is None or group.is_main:
        raise RuntimeError("serve() runs on the worker ranks of a multi-process run")
    jobs = 0
    try:
        while True:
            message = distributed.receive()
            if message.get("kind") != "fit":
                break
            jobs += 1
            trainer = Trainer(
                message["model"],
                message["config"],
                task=message["task"],
                seed=message["seed"],
                class_weights=message["class_weights"],
                loss_fn=message["loss_fn"],
            )
            ended = trainer.work(message, message["x"], message["y"])
            if ended is not None:
                break
    finally:
        log.info("rank %d: %d training job(s) done", group.rank, jobs)
        distributed.finish()
