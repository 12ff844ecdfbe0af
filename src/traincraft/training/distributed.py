"""Data-parallel training over several processes: PyTorch DDP, launched by ``torchrun``.

``torchrun --nproc-per-node N -m traincraft train recipe.yaml`` (or ``traincraft train recipe.yaml
--processes N``, which calls torchrun for you) starts N copies of the command. Rank 0 runs the
whole life cycle exactly as one process would (read, audit, prepare, split, encode, train,
evaluate, bundle, report) and is the only process that reads or writes files. Every other rank is
a *worker*: the CLI turns it into :func:`traincraft.training.workers.serve`, a loop that receives
each training job from rank 0 (the model, the settings, the encoded training tensors and, when
resuming, the optimiser state), trains its share of every batch, and waits for the next job until
rank 0 says it is done. So every path that trains through the :class:`Trainer` (train, curve,
finetune, the k-fold models behind ``drop_label_issues``) scales out without knowing about it.

What a step computes does not depend on the number of processes: the step's batch is the same
``train.batch_size`` rows of the same permutation as on one process, cut into ``world_size``
contiguous shares; each rank's mean loss is weighted by its share of the rows, and DDP averages
the gradients, so the update equals the one-process update up to float rounding. Validation,
early stopping, callbacks, checkpoints, ``metrics.jsonl`` and the progress bar stay on rank 0,
which broadcasts its decision to go on or stop at the end of every epoch.

Two process groups are used: DDP's (NCCL on GPUs, gloo on the CPU) for gradients, and a gloo
group for the small control messages and the job itself, so they work the same on both.
"""

from __future__ import annotations

import datetime
import gc
import logging
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from traincraft._util.seed import usable_cores
from traincraft.errors import RecipeError

__all__ = ["Group", "launched_by_torchrun", "init_from_env", "current", "send", "receive", "any_rank", "sum_", "finish", "default_threads"]

log = logging.getLogger(__name__)

TIMEOUT = datetime.timedelta(minutes=30)  # a worker waits this long for rank 0's next message (rank 0 may evaluate for a while)


@dataclass(frozen=True)
class Group:
    """This process's place in a multi-process run."""

    rank: int
    world_size: int
    local_rank: int
    local_world_size: int
    backend: str
    control: Any  # the gloo ProcessGroup for messages

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def device(self) -> torch.device:
        """The device this rank trains on: its own GPU under NCCL, else the CPU."""
        return torch.device("cuda", self.local_rank) if self.backend == "nccl" else torch.device("cpu")


_group: Group | None = None


def launched_by_torchrun() -> bool:
    """Whether this process is one of several started by torchrun (``WORLD_SIZE`` > 1)."""
    return int(os.environ.get("WORLD_SIZE", "1") or 1) > 1


def init_from_env(backend: str = "auto") -> Group | None:
    """Join the process group torchrun set up (once); None when running as a single process."""
    global _group
    if _group is not None:
        return _group
    if not launched_by_torchrun():
        return None
    missing = [k for k in ("RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
    if missing:
        raise RecipeError(
            f"WORLD_SIZE is {os.environ['WORLD_SIZE']} but {', '.join(missing)} is not set: start several processes "
            "with `torchrun --nproc-per-node N -m traincraft train ...` (or `traincraft train ... --processes N`), "
            "or unset WORLD_SIZE to train in one process."
        )
    if backend == "auto":
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    local_rank = int(os.environ["LOCAL_RANK"])
    if backend == "nccl":
        if local_rank >= torch.cuda.device_count():
            raise RecipeError(
                f"Local rank {local_rank} has no GPU: this machine has {torch.cuda.device_count()}. "
                "Start at most one process per GPU (--nproc-per-node)."
            )
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, timeout=TIMEOUT)
    control = dist.new_group(backend="gloo", timeout=TIMEOUT) if backend != "gloo" else dist.group.WORLD
    _group = Group(
        rank=dist.get_rank(),
        world_size=dist.get_world_size(),
        local_rank=local_rank,
        local_world_size=int(os.environ.get("LOCAL_WORLD_SIZE", dist.get_world_size())),
        backend=backend,
        control=control,
    )
    log.info("process %d of %d (%s)", _group.rank, _group.world_size, backend)
    return _group


def current() -> Group | None:
    """The group joined by :func:`init_from_env`, or None in a single-process run."""
    return _group


def _need() -> Group:
    if _group is None:
        raise RuntimeError("not in a multi-process run: call init_from_env() first")
    return _group


def send(message: dict[str, Any]) -> None:
    """Rank 0 sends ``message`` (any picklable dict) to every other rank."""
    group = _need()
    dist.broadcast_object_list([message], src=0, group=group.control)


def receive() -> dict[str, Any]:
    """A worker waits for rank 0's next :func:`send`."""
    group = _need()
    box: list[Any] = [None]
    dist.broadcast_object_list(box, src=0, group=group.control)
    return box[0]


def any_rank(flag: bool) -> bool:
    """Whether ``flag`` is set on any rank (every rank must call this at the same point)."""
    group = _need()
    t = torch.tensor([int(flag)], dtype=torch.int32)
    dist.all_reduce(t, op=dist.ReduceOp.MAX, group=group.control)
    return bool(t.item())


def sum_(value: torch.Tensor) -> torch.Tensor:
    """The sum of a scalar over all ranks (every rank must call this at the same point)."""
    group = _need()
    t = value.detach().double().cpu().reshape(1)
    dist.all_reduce(t, op=dist.ReduceOp.SUM, group=group.control)
    return t[0]


def finish() -> None:
    """Rank 0: tell the workers there is no more work; everyone leaves the process group."""
    global _group
    group = _group
    if group is None:
        return
    try:
        if group.is_main:
            send({"kind": "done"})
    finally:
        _group = None
        # A DistributedDataParallel wrapper sits in reference cycles (its hooks point back at it): collect
        # it while the process group and the interpreter are alive. Left to interpreter shutdown, gloo's
        # threads may still hold its work and abort the process ("terminate called without an active
        # exception", SIGABRT), as one CI run saw on a worker rank.
        gc.collect()
        if dist.is_initialized():
            dist.destroy_process_group()


def default_threads() -> int:
    """CPU threads per process when ``train.threads`` is unset: this machine's cores shared by its ranks."""
    group = _group
    share = group.local_world_size if group is not None else 1
    return max(1, usable_cores() // share)
