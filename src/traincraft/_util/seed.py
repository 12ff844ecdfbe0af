"""Seeding and thread set-up, so runs are reproducible and BLAS never oversubscribes the cores."""

from __future__ import annotations

import logging
import os
import random

import numpy as np
import torch

__all__ = ["seed_everything", "usable_cores", "set_threads"]

log = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity), not the machine's total."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def set_threads(threads: int | None = None) -> int:
    """Set torch's intra-op threads to ``threads`` (default: the usable cores) and return it.

    Measured here: a 2-thread BLAS call with one of the two cores busy ran 100x slower, so the
    count follows the cores we may use, and callers that run their own worker pools pass 1.
    The count is never chosen from the current load: results differ bitwise between thread counts,
    and the same recipe must give the same weights. A busy machine gets a warning instead.
    """
    n = threads if threads and threads > 0 else usable_cores()
    if not threads and n > 1:
        _warn_if_busy(n)
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    log.debug("torch intra-op threads: %d", n)
    return n


def _warn_if_busy(threads: int) -> None:
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # Windows
        return
    if load > usable_cores():
        log.warning(
            "the machine is busy (load %.1f on %d cores): %d torch threads may run many times slower than 1. "
            "Set train.threads: 1 in the recipe (results then differ bitwise from a %d-thread run).",
            load, usable_cores(), threads, threads,
        )
