"""The training loop: encoded tensors in, a trained model, checkpoints and a metrics log out.

Inputs are pre-encoded tensors, ``X = {"dense": (N, D) float, "categorical": (N, K) int64, ...}``
with the label ``y`` (N,): int64 class indices for ``binary``/``multiclass``, float for
``regression``. A batch is an index slice of every tensor, ``{k: v[idx] for k, v in X.items()}``,
never a per-sample ``Dataset`` + collate, and ``model(batch)`` returns ``(B, out_dim)``.

Exactness of resume rests on four things: the data order of epoch ``e`` is a permutation drawn
from a generator seeded by ``(seed, e)``; the learning rate is a pure function of the global
step; every random generator is saved in the checkpoint; and an interruption is only saved at a
step boundary (the first Ctrl-C sets a flag that the loop checks between steps; a second one
stops at once and keeps the last consistent checkpoint).

With ``train.grad_accum`` = k a step's batch runs as k micro-batches (contiguous slices of it)
whose gradients add up before the one optimiser step, so the batches, steps and schedule do not
depend on k.

``fit(..., sample_weight=w)`` weights each training row's loss: the task's loss becomes
``mean(w_i * loss_i)`` over a batch, with ``w`` scaled to mean 1 over the training split, so all-equal
weights train exactly like none (fairness reweighing, importance weights). Validation loss and the
learning-rate range test stay unweighted. A parameter group's ``lr_scale`` (layer-wise decay, set by ``build_optimizer`` from a
model's ``lr_scales()``) multiplies the scheduled rate; ``train.grad_checkpointing`` calls the
model's ``set_grad_checkpointing(True)``.

The hot loop does per step only what a bare PyTorch loop does, plus setting the rate: no
``.item()`` (the epoch's loss is summed on the device and read once per epoch; a callback that
overrides ``on_batch_end`` or a progress bar reads it, the bar at most 10 times a second), no
rebuilding of anything beyond the index slice.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from traincraft._util.atomic import atomic_write_json
from traincraft._util.seed import seed_everything, set_threads
from traincraft.errors import CheckpointError, DataError, RecipeError, TrainingInterrupted
from traincraft.recipe import TrainConfig
from traincraft.training import distributed
from traincraft.training.callbacks import Callback, overrides
from traincraft.training.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from traincraft.training.device import autocast_factory, pick_device, resolve_precision
from traincraft.training.early_stopping import EarlyStopping
from traincraft.training.lr_finder import find_lr
from traincraft.training.metrics_log import METRICS_FILE, MetricsLog
from traincraft.training.optim import build_optimizer
from traincraft.training.progress import REFRESH_PER_S, ProgressDisplay, resolve_progress
from traincraft.training.rng import RNGState, capture_rng_state, restore_rng_state
from traincraft.training.schedule import LRSchedule

__all__ = ["Trainer", "FitResult", "TASKS"]

log = logging.getLogger(__name__)

TASKS = ("binary", "multiclass", "regression")
EVAL_BATCH_SIZE = 4096  # rows per forward pass when predicting / validating; no gradients, so larger is fine
DEVICE_DATA_SHARE = 0.5  # move the whole data set to the GPU when it takes at most this share of free memory
CHECKPOINTS_DIR = "checkpoints"
LR_FIND_FILE = "lr_find.json"
_SEED_MASK = (1 << 63) - 1


@dataclass
class FitResult:
    """What :meth:`Trainer.fit` did."""

    epochs_run: int
    """Epochs completed, counting those before a resume."""
    best_epoch: int | None
    """Epoch (1-based) with the best monitored metric; None without early stopping."""
    best_metric: float | None
    monitor: str | None
    stopped_early: bool
    history: list[dict[str, float]]
    """One dict per epoch: epoch, step, train/loss, val/loss, val/<metric>, lr, perf/samples_per_s, perf/epoch_s."""
    lr: float
    """The peak learning rate used (chosen by the range test when ``train.lr`` is ``auto``)."""
    lr_find: dict[str, Any] | None
    """The range test's ``lrs``, ``losses`` (smoothed) and ``chosen`` rate, when one ran."""
    seconds: float
    """Wall-clock seconds of this ``fit`` call."""
    samples_per_s: float
    """Training rows per second of training-step time in this call (validation excluded)."""
    device: str
    resumed_from_epoch: int | None
    """Completed epochs in the checkpoint this call resumed from; None for a fresh fit."""


@dataclass
class _Data:
    """A split placed for training: tensors on ``device`` (or on the CPU, moved per batch)."""

    items: list[tuple[str, torch.Tensor]]
    y: torch.Tensor
    n: int
    move: bool  # batches are moved to the training device one by one
    w: torch.Tensor | None = None  # (n,) per-row loss weights, mean 1, beside y

    def batch(self, idx: torch.Tensor, device: torch.device) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        if self.move:
            xb = {k: v.index_select(0, idx).to(device, non_blocking=True) for k, v in self.items}
            return xb, self.y.index_select(0, idx).to(device, non_blocking=True)
        return {k: v.index_select(0, idx) for k, v in self.items}, self.y.index_select(0, idx)


@dataclass
class _Snapshot:
    """State at the start of an epoch's end phase, to save if an interrupt lands inside that phase."""

    epoch: int  # completed epochs before this end phase
    rng: RNGState
    callbacks: dict[str, dict[str, Any]]
    history_len: int


@dataclass
class _Partial:
    """The running loss of the current epoch, summed on the device."""

    loss_sum: torch.Tensor
    samples: int = 0
    seconds: float = 0.0
    samples_this_call: int = 0


@dataclass
class _Totals:
    samples: int = 0
    seconds: float = 0.0


def _epoch_seed(seed: int, epoch: int) -> int:
    """A well-mixed 63-bit seed for the data order of ``epoch`` (1-based) in a run seeded ``seed``."""
    state = np.random.SeedSequence([seed & ((1 << 64) - 1), epoch]).generate_state(1, dtype=np.uint64)
    return int(state[0]) & _SEED_MASK


def _min_last_batch(world_size: int) -> int:
    """Rows a last batch needs to stand alone: 2 on one process (batch norm cannot train on one
    row), and two per process when a batch is shared among ``world_size`` processes."""
    return 2 if world_size == 1 else 2 * world_size


def _steps_per_epoch(n: int, batch_size: int, world_size: int = 1) -> int:
    steps = -(-n // batch_size)
    if steps > 1 and 0 < n % batch_size < _min_last_batch(world_size):
        steps -= 1  # a too-small last batch joins the one before
    return steps


def _rank_step_seed(seed: int, rank: int, step: int) -> int:
    """The seed of the model's own randomness (dropout) for ``step`` on ``rank`` in a multi-process run."""
    state = np.random.SeedSequence([seed & ((1 << 64) - 1), rank, step]).generate_state(1, dtype=np.uint64)
    return int(state[0]) & _SEED_MASK


def _label_digest(y: torch.Tensor) -> str:
    return hashlib.sha256(y.detach().cpu().contiguous().numpy().tobytes()).hexdigest()[:16]


class Trainer:
    """Train ``model`` on encoded tensors with the settings of ``config`` (the recipe's ``train``).

    ``metrics_fn(outputs, y)`` gets the validation outputs and labels (CPU) and returns named
    numbers, logged as ``val/<name>``; ``loss_fn(outputs, y)`` replaces the task's loss
    (cross-entropy, optionally class-weighted, or MSE on ``outputs[:, 0]``). With ``run_dir``,
    checkpoints go to ``run_dir/checkpoints/{last,best}`` and one record per epoch to
    ``run_dir/metrics.jsonl``; without it nothing is written.
    """

    def __init__(
        self,
        model: nn.Module,
        config: TrainConfig,
        *,
        task: str,
        seed: int = 0,
        class_weights: torch.Tensor | None = None,
        metrics_fn: Callable[[torch.Tensor, torch.Tensor], dict[str, float]] | None = None,
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
        run_dir: str | Path | None = None,
        callbacks: Sequence[Callback] = (),
        progress: bool | str = False,
    ) -> None:
        if task not in TASKS:
            raise RecipeError(f"task is {task!r}; the trainer handles {', '.join(TASKS)}.")
        if class_weights is not None:
            if task == "regression":
                raise RecipeError("Class weights apply to classification, but the task is regression; drop them.")
            if not isinstance(class_weights, torch.Tensor) or class_weights.ndim != 1:
                raise RecipeError("class_weights must be a 1-D tensor with one weight per class.")
            if not bool(torch.isfinite(class_weights).all()) or bool((class_weights < 0).any()):
                raise RecipeError(f"class_weights must be finite and non-negative, got {class_weights.tolist()}.")
        if config.grad_accum > config.batch_size:
            raise RecipeError(
                f"train.grad_accum ({config.grad_accum}) is larger than train.batch_size ({config.batch_size}): each of "
                "a batch's micro-batches needs at least one row. Lower grad_accum or raise batch_size."
            )
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise RecipeError(f"callbacks must be traincraft Callback instances, got {type(cb).__name__}.")
        self.model = model
        self.config = config
        self.task = task
        self.seed = int(seed)
        self.class_weights = class_weights.float() if class_weights is not None else None
        self.metrics_fn = metrics_fn
        self.loss_fn = loss_fn
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.callbacks = list(callbacks)
        self._group = distributed.current()
        """This process's place in a multi-process run (torchrun), or None."""
        self.device = self._group.device if self._group is not None else pick_device(config.device)
        self._ddp: nn.Module | None = None  # the DistributedDataParallel wrapper the steps run through
        self.precision = resolve_precision(self.device, config.precision)
        self.progress = progress
        self._progress_mode = resolve_progress(progress)  # validates the argument now
        self.history: list[dict[str, float]] = []
        self.stop_training = False
        """Set to True (e.g. in a callback) to stop after the current epoch."""
        self.optimizer: torch.optim.Optimizer | None = None
        self.schedule: LRSchedule | None = None
        self.early_stopping: EarlyStopping | None = None
        self.epoch = 0
        """Completed epochs."""
        self.global_step = 0
        """Optimiser steps taken over the whole run."""
        self.steps_per_epoch = 0
        self.resumed_from_epoch: int | None = None
        self._autocast = autocast_factory(self.device, self.precision)
        self._loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None
        self._active: list[Callback] = []
        self._keys: list[str] = []
        self._batch_callbacks: list[Callback] = []
        self._display: ProgressDisplay | None = None
        self._step_in_epoch = 0
        self._in_step = False
        self._phase = "setup"  # setup -> train -> epoch_end -> saved -> train ...
        self._sigint = False
        self._snapshot: _Snapshot | None = None
        self._partial: _Partial | None = None
        self._run_info: dict[str, Any] = {}
        self._lr = 0.0
        self._lr_find: dict[str, Any] | None = None
        self._weights: torch.Tensor | None = None

    # --- paths -----------------------------------------------------------------------------------
    @property
    def checkpoint_dir(self) -> Path | None:
        """``run_dir/checkpoints``, or None without a run directory."""
        return self.run_dir / CHECKPOINTS_DIR if self.run_dir is not None else None

    @property
    def last_checkpoint_dir(self) -> Path | None:
        return self.checkpoint_dir / "last" if self.checkpoint_dir is not None else None

    @property
    def best_checkpoint_dir(self) -> Path | None:
        return self.checkpoint_dir / "best" if self.checkpoint_dir is not None else None

    # --- inputs ----------------------------------------------------------------------------------
    def _check_x(self, x: Any, name: str, n: int) -> list[tuple[str, torch.Tensor]]:
        if not isinstance(x, Mapping) or not x:
            raise DataError(
                f"{name} must be a non-empty dict of tensors (e.g. {{'dense': (N, D) float}}), got {type(x).__name__}."
            )
        items = []
        for key, value in x.items():
            if not isinstance(value, torch.Tensor):
                raise DataError(f"{name}[{key!r}] must be a torch.Tensor, got {type(value).__name__}.")
            if value.ndim == 0 or value.shape[0] != n:
                shape = tuple(value.shape)
                raise DataError(
                    f"{name}[{key!r}] has shape {shape} but the labels have {n} rows; "
                    f"every tensor's first dimension must be {n}."
                )
            if value.is_floating_point():
                bad = ~torch.isfinite(value)
                if bool(bad.any()):
                    row = int(bad.reshape(n, -1).any(dim=1).nonzero()[0, 0])
                    raise DataError(
                        f"{name}[{key!r}] holds {int(bad.sum())} NaN/inf values (first in row {row}). "
                        "Impute or drop them before training (e.g. an impute step in prepare)."
                    )
            items.append((str(key), value))
        return items

    def _check_y(self, y: Any, name: str) -> torch.Tensor:
        if not isinstance(y, torch.Tensor) or y.ndim != 1:
            got = f"shape {tuple(y.shape)}" if isinstance(y, torch.Tensor) else type(y).__name__
            raise DataError(f"{name} must be a 1-D tensor with one label per row, got {got}.")
        if y.shape[0] == 0:
            raise DataError(f"{name} is empty: there are no rows to train or validate on.")
        if self.task == "regression":
            if y.dtype == torch.bool or y.is_complex():
                raise DataError(f"{name} for a regression task must be numeric, got {y.dtype}.")
            y = y.float()
            if not bool(torch.isfinite(y).all()):
                raise DataError(f"{name} holds NaN/inf targets; drop or impute those rows first.")
            return y
        if y.is_floating_point() or y.dtype == torch.bool or y.is_complex():
            raise DataError(
                f"{name} for a {self.task} task must hold int64 class indices 0..C-1, got {y.dtype}. "
                "Encode the labels first (the label encoder in features does this)."
            )
        y = y.long()
        if int(y.min()) < 0:
            raise DataError(f"{name} holds negative class indices (min {int(y.min())}); classes are numbered from 0.")
        return y

    def _place(self, items: list[tuple[str, torch.Tensor]], y: torch.Tensor) -> _Data:
        """Put a split where batches are cut: on the GPU when it fits, else on the CPU."""
        n = int(y.shape[0])
        if self.device.type == "cpu":
            return _Data([(k, v.cpu()) for k, v in items], y.cpu(), n, move=False)
        tensors = [v for _, v in items] + [y]
        if all(t.device == self.device for t in tensors):
            return _Data(items, y, n, move=False)
        size = sum(t.numel() * t.element_size() for t in tensors)
        fits = True
        if self.device.type == "cuda":
            free, _ = torch.cuda.mem_get_info(self.device)
            fits = size <= DEVICE_DATA_SHARE * free
        if fits:
            return _Data([(k, v.to(self.device)) for k, v in items], y.to(self.device), n, move=False)
        log.info("The data (%.1f GB) does not fit on %s; batches are copied there one by one.", size / 1e9, self.device)
        return _Data([(k, v.cpu()) for k, v in items], y.cpu(), n, move=True)

    def _probe_outputs(self, data: _Data) -> int:
        """Run two rows through the model (eval mode, no grad, generators untouched); return out_dim."""
        rng = capture_rng_state()
        was_training = self.model.training
        idx = torch.arange(min(2, data.n), device=data.y.device)
        xb, _ = data.batch(idx, self.device)
        try:
            self.model.eval()
            with torch.no_grad(), self._autocast():
                out = self.model(xb)
        finally:
            self.model.train(was_training)
            restore_rng_state(rng)
        if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[0] != idx.numel():
            got = f"shape {tuple(out.shape)}" if isinstance(out, torch.Tensor) else type(out).__name__
            raise RecipeError(
                f"The model must return a (batch, out_dim) tensor; for a batch of {idx.numel()} rows it returned {got}."
            )
        return int(out.shape[1])

    def _check_outputs(self, out_dim: int, y: torch.Tensor) -> None:
        if self.loss_fn is not None:
            return
        if self.task == "regression":
            if out_dim != 1:
                raise RecipeError(f"A regression model must output 1 column; this one outputs {out_dim}.")
            return
        top = int(y.max())
        if out_dim < 2 or top >= out_dim:
            raise DataError(
                f"The labels are class indices up to {top}, but the model outputs {out_dim} column(s); "
                f"a {self.task} model needs one output per class (at least {max(2, top + 1)})."
            )
        if self.class_weights is not None and self.class_weights.numel() != out_dim:
            raise RecipeError(
                f"class_weights has {self.class_weights.numel()} entries but the model outputs {out_dim} classes."
            )

    def _resolve_class_weights(self, y: torch.Tensor, out_dim: int) -> torch.Tensor | None:
        if self.class_weights is not None or self.task == "regression":
            return self.class_weights
        setting = self.config.class_weights
        if setting == "balanced":
            counts = torch.bincount(y.cpu(), minlength=out_dim).double()
            present = int((counts > 0).sum())
            weights = torch.where(counts > 0, y.numel() / (present * counts.clamp(min=1)), torch.zeros_like(counts))
            log.info("Balanced class weights: %s", [round(w, 4) for w in weights.tolist()])
            return weights.float()
        if isinstance(setting, dict):
            log.warning(
                "train.class_weights is a mapping of label names, which the trainer cannot match to class indices; "
                "it is ignored here. Pass class_weights= as a tensor (the api layer does this)."
            )
        return None

    def _build_loss(self, weights: torch.Tensor | None) -> Callable[..., torch.Tensor]:
        """The task's loss ``(out, target[, row_weights])``; with row weights, the mean of weight x loss."""
        if self.loss_fn is not None:
            return self.loss_fn
        if self.task == "regression":

            def mse(out: torch.Tensor, target: torch.Tensor, rows: torch.Tensor | None = None) -> torch.Tensor:
                if rows is None:
                    return F.mse_loss(out[:, 0].float(), target)
                return (F.mse_loss(out[:, 0].float(), target, reduction="none") * rows).mean()

            return mse
        weight = weights.to(self.device) if weights is not None else None

        def cross_entropy(out: torch.Tensor, target: torch.Tensor, rows: torch.Tensor | None = None) -> torch.Tensor:
            if rows is None:
                return F.cross_entropy(out.float(), target, weight=weight)
            return (F.cross_entropy(out.float(), target, weight=weight, reduction="none") * rows).mean()  # (B,) -> ()

        return cross_entropy

    def _check_sample_weight(self, w: Any, n: int) -> torch.Tensor:
        if self.loss_fn is not None:
            raise RecipeError("sample_weight needs the built-in loss; a custom loss_fn must weight its rows itself.")
        if self._group is not None:
            raise RecipeError("sample_weight is not supported with several processes yet; train on one process.")
        if not isinstance(w, torch.Tensor) or w.ndim != 1 or w.shape[0] != n:
            got = f"shape {tuple(w.shape)}" if isinstance(w, torch.Tensor) else type(w).__name__
            raise DataError(f"sample_weight must be a 1-D tensor with one weight per training row ({n}), got {got}.")
        w = w.detach().double()
        if not bool(torch.isfinite(w).all()) or bool((w < 0).any()) or float(w.sum()) <= 0:
            raise DataError("sample_weight must be finite and non-negative with a positive sum.")
        return (w * (n / w.sum())).float()  # mean 1: the loss keeps its scale

    # --- callbacks -------------------------------------------------------------------------------
    def _assemble_callbacks(self, has_val: bool) -> None:
        user_es = [cb for cb in self.callbacks if isinstance(cb, EarlyStopping)]
        others = [cb for cb in self.callbacks if not isinstance(cb, EarlyStopping)]
        es: EarlyStopping | None = None
        if user_es:
            es = user_es[0]
            if len(user_es) > 1:
                log.warning("%d EarlyStopping callbacks were given; only the first is used.", len(user_es))
        elif self.config.early_stopping.enabled:
            es = EarlyStopping(self.config.early_stopping)
        if es is not None and not has_val:
            log.warning("Early stopping is disabled: it needs a validation split (x_val, y_val) and none was given.")
            es = None
        self.early_stopping = es
        active: list[Callback] = ([es] if es is not None else []) + others
        if self.run_dir is not None:
            active.append(MetricsLog(self.run_dir / METRICS_FILE))
        counts: dict[str, int] = {}
        keys = []
        for cb in active:
            base = cb.state_key or type(cb).__name__
            counts[base] = counts.get(base, 0) + 1
            keys.append(base if counts[base] == 1 else f"{base}#{counts[base]}")
        self._active = active
        self._keys = keys
        self._batch_callbacks = [cb for cb in active if overrides(cb, "on_batch_end")]

    def _callback_states(self) -> dict[str, dict[str, Any]]:
        return {key: cb.state_dict() for key, cb in zip(self._keys, self._active)}

    # --- checkpoints -----------------------------------------------------------------------------
    def _extra(self, history: list[dict[str, float]], partial: dict[str, Any]) -> dict[str, Any]:
        return {"run": self._run_info, "lr": self._lr, "lr_find": self._lr_find, "history": history, "partial": partial}

    def _save(
        self,
        directory: Path,
        *,
        epoch: int,
        step_in_epoch: int,
        rng: RNGState,
        callbacks: dict[str, dict[str, Any]],
        history: list[dict[str, float]],
        partial: dict[str, Any],
    ) -> Path:
        assert self.optimizer is not None and self.schedule is not None
        return save_checkpoint(
            directory,
            model=self.model,
            optimizer=self.optimizer,
            schedule=self.schedule,
            epoch=epoch,
            step=self.global_step,
            step_in_epoch=step_in_epoch,
            rng=rng,
            callbacks=callbacks,
            extra=self._extra(history, partial),
        )

    def _check_compatible(self, ckpt: Checkpoint) -> None:
        saved = ckpt.extra.get("run") or {}
        for key in ("task", "seed", "batch_size", "n_train", "labels_sha256", "weights_sha256", "optimizer", "schedule", "lr_setting"):
            if key in saved and saved[key] != self._run_info[key]:
                raise CheckpointError(
                    f"The checkpoint {ckpt.path} was written by a run with {key}={saved[key]!r}, but this run has "
                    f"{key}={self._run_info[key]!r}. Resume with the same settings and training data, or train from "
                    "scratch (without resume)."
                )
        if saved.get("epochs") not in (None, self._run_info["epochs"]):
            log.warning(
                "train.epochs changed from %s to %s since the checkpoint: the learning-rate schedule is rescaled, "
                "so the result will differ from a straight run.",
                saved["epochs"],
                self._run_info["epochs"],
            )

    def _restore(self, ckpt: Checkpoint) -> None:
        assert self.optimizer is not None and self.schedule is not None
        ckpt.restore_model(self.model)
        ckpt.restore_optimizer(self.optimizer)
        ckpt.restore_schedule(self.schedule)
        saved_states = ckpt.callbacks
        for key, cb in zip(self._keys, self._active):
            if key in saved_states:
                cb.load_state_dict(saved_states[key])
            elif cb.state_dict():
                log.warning("The checkpoint has no state for callback %s; it starts afresh.", key)
        ignored = sorted(k for k in set(saved_states) - set(self._keys) if saved_states[k])
        if ignored:
            log.warning("The checkpoint holds state for callbacks this run does not have: %s.", ", ".join(ignored))
        es = self.early_stopping
        best_dir = self.best_checkpoint_dir
        if es is not None and es.best_epoch is not None and best_dir is not None:
            try:
                best = load_checkpoint(best_dir)
            except CheckpointError as exc:
                log.warning("Cannot load the best weights (%s); early stopping will keep the final weights.", exc)
            else:
                if best.epoch == es.best_epoch:
                    es.best_weights = best.model_tensors()
                else:
                    log.warning(
                        "checkpoints/best is from epoch %d, not the best epoch %d the run recorded (an interrupted "
                        "write); it is rewritten if that epoch is replayed.",
                        best.epoch,
                        es.best_epoch,
                    )
        self.history = [dict(h) for h in ckpt.extra.get("history", [])]
        self.epoch = ckpt.epoch
        self.global_step = ckpt.step
        ckpt.restore_rng()

    # --- interruption ----------------------------------------------------------------------------
    @contextlib.contextmanager
    def _sigint_guard(self) -> Iterator[None]:
        """First Ctrl-C: stop at the next step boundary and save; second: stop at once."""
        self._sigint = False
        if (
            threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
        ):
            yield
            return

        def handler(signum: int, frame: Any) -> None:
            if self._sigint:
                raise KeyboardInterrupt
            self._sigint = True
            log.warning(
                "Interrupted: stopping after the current step to save a checkpoint (Ctrl-C again stops at once)."
            )

        previous = signal.signal(signal.SIGINT, handler)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def _interrupted(self) -> TrainingInterrupted:
        """Save what can be saved exactly, and build the error to raise.

        At a step boundary (or during an epoch's validation and callbacks, using the state from
        just before them) the checkpoint is written with ``step_in_epoch``; in the middle of a
        step the weights may be half-updated, so the last consistent checkpoint is kept instead.
        """
        where = f"epoch {self.epoch + 1}, step {self._step_in_epoch}/{self.steps_per_epoch}"
        last = self.last_checkpoint_dir
        resume_hint = "Resume with fit(..., resume=True) (traincraft train --resume)."
        if last is None:
            return TrainingInterrupted(
                f"Training was interrupted at {where}. There is no run directory, so nothing was saved; "
                "the model holds the weights reached so far."
            )
        if self._phase == "saved":
            return TrainingInterrupted(
                f"Training was interrupted after epoch {self.epoch}; {last} holds it. {resume_hint}",
                checkpoint_dir=str(last),
            )
        if self._phase == "setup":
            if self.resumed_from_epoch is not None:
                return TrainingInterrupted(
                    f"Training was interrupted while resuming, before any step; {last} is unchanged. {resume_hint}",
                    checkpoint_dir=str(last),
                )
            return TrainingInterrupted("Training was interrupted before its first step; nothing was saved.")
        partial = self._partial
        snapshot = self._snapshot
        if self._phase == "epoch_end" and snapshot is not None and partial is not None:
            del self.history[snapshot.history_len :]  # the epoch is redone on resume
            self.epoch = snapshot.epoch
            self._save(
                last,
                epoch=snapshot.epoch,
                step_in_epoch=self.steps_per_epoch,
                rng=snapshot.rng,
                callbacks=snapshot.callbacks,
                history=self.history,
                partial={"loss_sum": float(partial.loss_sum.item()), "samples": partial.samples},
            )
            return TrainingInterrupted(
                f"Training was interrupted at the end of epoch {snapshot.epoch + 1}; saved {last}. {resume_hint}",
                checkpoint_dir=str(last),
            )
        if self._phase == "train" and not self._in_step and partial is not None:
            self._save(
                last,
                epoch=self.epoch,
                step_in_epoch=self._step_in_epoch,
                rng=capture_rng_state(),
                callbacks=self._callback_states(),
                history=self.history,
                partial={"loss_sum": float(partial.loss_sum.item()), "samples": partial.samples},
            )
            return TrainingInterrupted(
                f"Training was interrupted at {where}; saved {last}. {resume_hint}", checkpoint_dir=str(last)
            )
        ours = self.epoch > 0 or self.resumed_from_epoch is not None  # last was written (or read) by this run
        if ours and last.exists():
            return TrainingInterrupted(
                f"Training was interrupted in the middle of a step at {where}, where the state cannot be saved "
                f"exactly; the last consistent checkpoint, {last}, is kept. {resume_hint}",
                checkpoint_dir=str(last),
            )
        return TrainingInterrupted(f"Training was interrupted at {where}, before any checkpoint was written.")

    # --- the loop --------------------------------------------------------------------------------
    def _epoch_batches(self, epoch: int, n: int, device: torch.device) -> list[torch.Tensor]:
        """Index tensors of epoch ``epoch`` (1-based): a permutation seeded by (seed, epoch), cut into batches."""
        gen = torch.Generator().manual_seed(_epoch_seed(self.seed, epoch))
        perm = torch.randperm(n, generator=gen).to(device)
        batches = list(perm.split(self.config.batch_size))
        world = self._group.world_size if self._group is not None else 1
        if len(batches) > 1 and batches[-1].numel() < _min_last_batch(world):
            batches[-2] = torch.cat([batches[-2], batches.pop()])
        return batches

    def _train_steps(self, data: _Data, epoch: int, first: int, partial: _Partial) -> None:
        """Steps ``first`` .. end of epoch ``epoch``; the running loss accumulates into ``partial``."""
        assert self.optimizer is not None and self.schedule is not None and self._loss is not None
        batches = self._epoch_batches(epoch, data.n, data.y.device)
        model = self._ddp if self._ddp is not None else self.model
        ranks = self._group
        optimizer = self.optimizer
        groups = optimizer.param_groups
        scales = [float(g.get("lr_scale", 1.0)) for g in groups]
        params = [p for g in groups for p in g["params"]]
        accum = self.config.grad_accum
        lr_at = self.schedule.lr_at
        loss_fn = self._loss
        autocast = self._autocast
        device = self.device
        clip = self.config.grad_clip
        clip_grad_norm = nn.utils.clip_grad_norm_
        batch_cbs = self._batch_callbacks
        display = self._display if self._display is not None and self._display.wants_live_loss else None
        interval = 1.0 / REFRESH_PER_S
        next_show = 0.0
        loss_sum = partial.loss_sum
        items, y, move, w = data.items, data.y, data.move, data.w
        rows_w = None
        step = self.global_step
        done = first
        model.train()
        started = time.perf_counter()
        try:
            for i in range(first, len(batches)):
                self._in_step = True
                idx = batches[i]
                share = 1.0
                if ranks is not None:  # this rank's contiguous share of the step's batch
                    rows = idx.shape[0]
                    idx = idx.tensor_split(ranks.world_size)[ranks.rank]
                    share = idx.shape[0] * ranks.world_size / rows  # DDP averages: weight by share of rows
                    torch.manual_seed(_rank_step_seed(self.seed, ranks.rank, step))
                if move:
                    batch = {k: v.index_select(0, idx).to(device, non_blocking=True) for k, v in items}
                    target = y.index_select(0, idx).to(device, non_blocking=True)
                else:
                    batch = {k: v.index_select(0, idx) for k, v in items}
                    target = y.index_select(0, idx)
                if w is not None:
                    rows_w = w.index_select(0, idx).to(device, non_blocking=True)
                lr = lr_at(step)
                for group, scale in zip(groups, scales):
                    group["lr"] = lr * scale
                if accum == 1:
                    with autocast():
                        out = model(batch)  # (B, out_dim)
                        loss = loss_fn(out, target) if rows_w is None else loss_fn(out, target, rows_w)
                    optimizer.zero_grad(set_to_none=True)
                    (loss * share if ranks is not None else loss).backward()
                else:
                    optimizer.zero_grad(set_to_none=True)
                    loss = self._accumulate(model, batch, target, accum, share, rows_w)
                if clip is not None:
                    clip_grad_norm(params, clip, foreach=True)
                optimizer.step()
                loss_sum.add_(loss.detach(), alpha=idx.shape[0])
                step += 1
                done = i + 1
                self.global_step = step
                self._step_in_epoch = done
                self._in_step = False
                if batch_cbs:
                    value = loss.item()
                    for cb in batch_cbs:
                        cb.on_batch_end(self, step, value)
                if display is not None:
                    now = time.monotonic()
                    if now >= next_show:
                        display.update(step, loss.item())
                        next_show = now + interval
                if distributed.any_rank(self._sigint) if ranks is not None else self._sigint:
                    raise KeyboardInterrupt
        finally:
            trained = sum(int(batches[j].shape[0]) for j in range(first, done))
            partial.samples += trained
            partial.samples_this_call += trained
            partial.seconds += time.perf_counter() - started

    def _accumulate(
        self,
        model: nn.Module,
        batch: dict[str, torch.Tensor],
        target: torch.Tensor,
        accum: int,
        share: float = 1.0,
        rows_w: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Forward and backward ``batch`` as ``accum`` contiguous micro-batches; return the batch's mean loss.

        Each micro-batch's mean loss is weighted by its share of the rows, so the gradients add up
        to those of the whole batch (exactly for an unweighted mean loss, up to float rounding).
        Under DDP the gradients are averaged across processes once, after the last micro-batch.
        """
        assert self._loss is not None
        n = int(target.shape[0])
        parts = {k: v.tensor_split(accum) for k, v in batch.items()}
        targets = target.tensor_split(accum)
        weights = rows_w.tensor_split(accum) if rows_w is not None else [None] * len(targets)
        total = torch.zeros((), device=target.device)
        last = max(j for j, t in enumerate(targets) if t.shape[0] > 0)
        for j, part_target in enumerate(targets):
            rows = int(part_target.shape[0])
            if rows == 0:
                continue
            sync = contextlib.nullcontext() if self._ddp is None or j == last else self._ddp.no_sync()
            with sync:
                with self._autocast():
                    out = model({k: v[j] for k, v in parts.items()})  # (b, out_dim)
                    part = self._loss(out, part_target) if weights[j] is None else self._loss(out, part_target, weights[j])
                    loss = part * (rows / n)
                (loss * share).backward()
            total += loss.detach().float()
        return total

    def _validate(self, x: list[tuple[str, torch.Tensor]], y: torch.Tensor) -> dict[str, float]:
        assert self._loss is not None
        out = self._forward_all(x, max(self.config.batch_size, EVAL_BATCH_SIZE))  # (N_val, out_dim) on device
        logs = {"val/loss": float(self._loss(out, y.to(self.device)).item())}
        if self.metrics_fn is not None:
            metrics = self.metrics_fn(out.cpu(), y.cpu())
            if not isinstance(metrics, Mapping):
                raise RecipeError(f"metrics_fn must return a dict of numbers, got {type(metrics).__name__}.")
            for name, value in metrics.items():
                key = name if str(name).startswith("val/") else f"val/{name}"
                logs[key] = float(value)
        return logs

    def _forward_all(self, items: list[tuple[str, torch.Tensor]], batch_size: int) -> torch.Tensor:
        """Outputs for all rows in order, in eval mode without gradients, as float32 on the device."""
        model = self.model
        was_training = model.training
        n = int(items[0][1].shape[0])
        outs = []
        model.eval()
        try:
            with torch.no_grad():
                for start in range(0, n, batch_size):
                    batch = {k: v[start : start + batch_size].to(self.device, non_blocking=True) for k, v in items}
                    with self._autocast():
                        outs.append(model(batch).float())
        finally:
            model.train(was_training)
        if not outs:
            raise DataError("There are no rows to predict.")
        return torch.cat(outs)

    def _end_epoch(
        self,
        epoch: int,
        partial: _Partial,
        val: tuple[list[tuple[str, torch.Tensor]], torch.Tensor] | None,
        started: float,
    ) -> dict[str, float]:
        loss_sum = distributed.sum_(partial.loss_sum) if self._group is not None else partial.loss_sum
        train_loss = float(loss_sum.item()) / max(1, partial.samples)
        if not math.isfinite(train_loss):
            raise RecipeError(
                f"Training diverged: the training loss is {train_loss} in epoch {epoch}. Lower train.lr "
                f"(now {self._lr:.3g}), keep train.grad_clip on, or check the features for extreme values."
            )
        assert self.schedule is not None
        logs: dict[str, float] = {"epoch": epoch, "step": self.global_step, "train/loss": train_loss}
        if val is not None:
            logs.update(self._validate(*val))
        logs["lr"] = self.schedule.lr_at(max(0, self.global_step - 1))
        logs["perf/samples_per_s"] = partial.samples_this_call / partial.seconds if partial.seconds > 0 else 0.0
        logs["perf/epoch_s"] = time.perf_counter() - started
        return logs

    def fit(
        self,
        x_train: Mapping[str, torch.Tensor],
        y_train: torch.Tensor,
        x_val: Mapping[str, torch.Tensor] | None = None,
        y_val: torch.Tensor | None = None,
        *,
        resume: bool = False,
        sample_weight: torch.Tensor | None = None,
    ) -> FitResult:
        """Train for ``config.epochs`` epochs (or until early stopping) and return what happened.

        ``resume=True`` continues from ``run_dir/checkpoints/last``, also from the middle of an
        epoch, to the configured number of epochs. Ctrl-C saves ``checkpoints/last`` and raises
        :class:`~traincraft.errors.TrainingInterrupted`. ``sample_weight`` (N,) weights each training
        row's loss (scaled to mean 1).
        """
        fit_started = time.perf_counter()
        if resume and self.run_dir is None:
            raise RecipeError(
                "resume=True needs a run_dir: the checkpoint to resume from lives in run_dir/checkpoints/last."
            )
        if (x_val is None) != (y_val is None):
            raise DataError("Pass both x_val and y_val for validation, or neither.")
        y_train = self._check_y(y_train, "y_train")
        train_items = self._check_x(x_train, "x_train", int(y_train.shape[0]))
        row_weights = self._check_sample_weight(sample_weight, int(y_train.shape[0])) if sample_weight is not None else None
        val = None
        if x_val is not None and y_val is not None:
            y_val = self._check_y(y_val, "y_val")
            val = (self._check_x(x_val, "x_val", int(y_val.shape[0])), y_val)
        ckpt = load_checkpoint(self.last_checkpoint_dir) if resume and self.last_checkpoint_dir is not None else None
        self._phase = "setup"
        self.stop_training = False
        self.history = []
        self.epoch = 0
        self.global_step = 0
        self.steps_per_epoch = 0
        self._step_in_epoch = 0
        self.resumed_from_epoch = ckpt.epoch if ckpt is not None else None
        totals = _Totals()
        try:
            with self._sigint_guard():
                try:
                    data, placed_val, partial, first_step = self._prepare(train_items, y_train, val, ckpt, row_weights)
                    if self._group is not None:
                        self._start_workers(data, first_step)
                    self._loop(data, placed_val, partial, first_step, totals)
                except KeyboardInterrupt:
                    raise self._interrupted() from None
        finally:
            self._ddp = None
            if self._display is not None:
                self._display.close()
                self._display = None
            self._partial = None
            self._phase = "setup"
        es = self.early_stopping
        result = FitResult(
            epochs_run=self.epoch,
            best_epoch=es.best_epoch if es is not None else None,
            best_metric=es.best if es is not None else None,
            monitor=es.monitor if es is not None else None,
            stopped_early=bool(es is not None and es.stopped_epoch is not None),
            history=[dict(h) for h in self.history],
            lr=self._lr,
            lr_find=self._lr_find,
            seconds=time.perf_counter() - fit_started,
            samples_per_s=totals.samples / totals.seconds if totals.seconds > 0 else 0.0,
            device=str(self.device),
            resumed_from_epoch=self.resumed_from_epoch,
        )
        for cb in self._active:
            cb.on_fit_end(self, result)
        return result

    def _prepare(
        self,
        train_items: list[tuple[str, torch.Tensor]],
        y_train: torch.Tensor,
        val: tuple[list[tuple[str, torch.Tensor]], torch.Tensor] | None,
        ckpt: Checkpoint | None,
        row_weights: torch.Tensor | None = None,
    ) -> tuple[_Data, tuple[list[tuple[str, torch.Tensor]], torch.Tensor] | None, _Partial, int]:
        """Everything before the first step: threads, seeds, placement, checks, lr, optimiser, resume."""
        set_threads(self.config.threads or (distributed.default_threads() if self._group is not None else None))
        if ckpt is None:
            seed_everything(self.seed)
        self.model.to(self.device)
        if self.config.grad_checkpointing:
            enable = getattr(self.model, "set_grad_checkpointing", None)
            if enable is None:
                log.warning(
                    "train.grad_checkpointing is ignored: %s has no set_grad_checkpointing (pretrained encoders have one).",
                    type(self.model).__name__,
                )
            else:
                enable(True)
        data = self._place(train_items, y_train)
        if row_weights is not None:
            data.w = row_weights.to(data.y.device)
        out_dim = self._probe_outputs(data)
        self._check_outputs(out_dim, y_train)
        if val is not None:
            self._check_outputs(out_dim, val[1])
        self._weights = self._resolve_class_weights(y_train, out_dim)
        self._loss = self._build_loss(self._weights)
        world = self._group.world_size if self._group is not None else 1
        if world > 1 and self.config.batch_size < _min_last_batch(world):
            raise RecipeError(
                f"train.batch_size is {self.config.batch_size}, too small to share among {world} processes: each "
                f"needs at least 2 rows of every batch. Raise batch_size to {_min_last_batch(world)} or more."
            )
        self.steps_per_epoch = _steps_per_epoch(data.n, self.config.batch_size, world)
        total_steps = self.config.epochs * self.steps_per_epoch
        self._run_info = {
            "task": self.task,
            "seed": self.seed,
            "batch_size": self.config.batch_size,
            "n_train": data.n,
            "labels_sha256": _label_digest(y_train),
            "weights_sha256": _label_digest(row_weights) if row_weights is not None else None,
            "optimizer": self.config.optimizer,
            "schedule": self.config.schedule,
            "lr_setting": str(self.config.lr),
            "epochs": self.config.epochs,
        }
        if ckpt is not None:
            self._check_compatible(ckpt)
            if not isinstance(ckpt.extra.get("lr"), (int, float)):
                raise CheckpointError(f"The checkpoint {ckpt.path} does not record the learning rate of its run.")
            self._lr = float(ckpt.extra["lr"])
            self._lr_find = ckpt.extra.get("lr_find")
        elif self.config.lr == "auto":
            found = find_lr(
                self.model, dict(data.items), data.y, self._loss, self.config, device=self.device, seed=self.seed
            )
            self._lr = found.chosen
            self._lr_find = found.as_dict()
            if self.run_dir is not None:
                atomic_write_json(self.run_dir / LR_FIND_FILE, self._lr_find)
        else:
            self._lr = float(self.config.lr)
            self._lr_find = None
        self.optimizer = build_optimizer(self.model, self.config, lr=self._lr)
        self.schedule = LRSchedule.from_config(self.config, peak_lr=self._lr, total_steps=total_steps)
        self._assemble_callbacks(has_val=val is not None)
        acc_dtype = torch.float32 if self.device.type == "mps" else torch.float64
        partial = _Partial(torch.zeros((), dtype=acc_dtype, device=self.device))
        first_step = 0
        if ckpt is not None:
            self._restore(ckpt)
            first_step = ckpt.step_in_epoch
            saved = ckpt.extra.get("partial") or {}
            if first_step:
                partial.loss_sum.fill_(float(saved.get("loss_sum", 0.0)))
                partial.samples = int(saved.get("samples", 0))
            log.info("Resuming from %s: epoch %d, step %d of that epoch.", ckpt.path, ckpt.epoch + 1, first_step)
            if self.early_stopping is not None and self.early_stopping.stopped_epoch is not None:
                log.info(
                    "The run had stopped early at epoch %d; there is nothing left to train.",
                    self.early_stopping.stopped_epoch,
                )
                self.stop_training = True
        if val is not None:
            val = ([(k, v.to(self.device)) for k, v in val[0]], val[1])
        if self._progress_mode is not None:
            monitor = self.early_stopping.monitor if self.early_stopping is not None else ("val/loss" if val else None)
            self._display = ProgressDisplay(
                self._progress_mode, epochs=self.config.epochs, steps_per_epoch=self.steps_per_epoch, monitor=monitor
            )
        return data, val, partial, first_step

    def _loop(
        self,
        data: _Data,
        val: tuple[list[tuple[str, torch.Tensor]], torch.Tensor] | None,
        partial: _Partial,
        first_step: int,
        totals: _Totals,
    ) -> None:
        self._partial = partial
        for cb in self._active:
            cb.on_fit_start(self)
        es = self.early_stopping
        for epoch in range(self.epoch + 1, self.config.epochs + 1):
            if self.stop_training:
                break
            started = time.perf_counter()
            self._phase = "train"
            self._step_in_epoch = first_step
            for cb in self._active:
                cb.on_epoch_start(self, epoch)
            if self._display is not None:
                self._display.start_epoch(epoch, self.global_step)
            self._train_steps(data, epoch, first_step, partial)
            first_step = 0
            totals.samples += partial.samples_this_call
            totals.seconds += partial.seconds
            self._snapshot = _Snapshot(self.epoch, capture_rng_state(), self._callback_states(), len(self.history))
            self._phase = "epoch_end"
            logs = self._end_epoch(epoch, partial, val, started)
            self.history.append(logs)
            for cb in self._active:
                cb.on_epoch_end(self, epoch, logs)
            if self._display is not None:
                self._display.end_epoch(epoch, logs)
            self.epoch = epoch
            if self.checkpoint_dir is not None:
                boundary = {"rng": capture_rng_state(), "callbacks": self._callback_states()}
                if es is not None and es.improved:
                    self._save(
                        self.checkpoint_dir / "best",
                        epoch=epoch,
                        step_in_epoch=0,
                        history=self.history,
                        partial={},
                        **boundary,
                    )
                self._save(
                    self.checkpoint_dir / "last",
                    epoch=epoch,
                    step_in_epoch=0,
                    history=self.history,
                    partial={},
                    **boundary,
                )
            self._phase = "saved"
            partial.loss_sum.zero_()
            partial.samples = 0
            partial.samples_this_call = 0
            partial.seconds = 0.0
            if self._group is not None:  # the workers go on, stop, or stop for an interrupt, with rank 0
                distributed.send({"kind": "status", "stop": self.stop_training, "interrupt": self._sigint})
            if self._sigint:
                raise KeyboardInterrupt

    # --- several processes (torchrun) -------------------------------------------------------------
    def _wrap_ddp(self) -> None:
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        self._ddp = DistributedDataParallel(self.model, device_ids=ids)

    def _start_workers(self, data: _Data, first_step: int) -> None:
        """Rank 0: send this fit to the other ranks as a job, then wrap the model in DDP (as they do)."""
        assert self.optimizer is not None
        job = {
            "kind": "fit",
            "model": self.model,
            "config": self.config,
            "task": self.task,
            "seed": self.seed,
            "class_weights": self._weights,
            "loss_fn": self.loss_fn,
            "x": {k: v.cpu() for k, v in data.items},
            "y": data.y.cpu(),
            "lr": self._lr,
            "optimizer": self.optimizer.state_dict(),
            "epoch": self.epoch,
            "step": self.global_step,
            "first_step": first_step,
            "stop": self.stop_training,
        }
        try:
            distributed.send(job)
        except (AttributeError, TypeError, ValueError) as exc:  # pickle's errors for closures and local classes
            raise RecipeError(
                f"This training job cannot be sent to the other processes ({exc}). With several processes the model "
                "and loss_fn must be picklable: define them at module level, not inside a function."
            ) from exc
        self._wrap_ddp()

    def work(self, job: dict[str, Any], x: Mapping[str, torch.Tensor], y: torch.Tensor) -> dict[str, Any] | None:
        """A worker rank: train rank 0's job on this rank's share of every batch.

        No files, validation or callbacks here: rank 0 owns them and says at every epoch's end
        whether to go on. Returns None when the job ended as planned, or rank 0's message when it
        ended otherwise (``{"kind": "done"}`` after an error there).
        """
        set_threads(self.config.threads or distributed.default_threads())
        self.model.to(self.device)
        data = self._place(self._check_x(x, "x_train", int(y.shape[0])), y)
        world = self._group.world_size if self._group is not None else 1
        self._lr = float(job["lr"])
        self._loss = self._build_loss(job["class_weights"])
        self.steps_per_epoch = _steps_per_epoch(data.n, self.config.batch_size, world)
        self.optimizer = build_optimizer(self.model, self.config, lr=self._lr)
        self.optimizer.load_state_dict(job["optimizer"])
        total_steps = self.config.epochs * self.steps_per_epoch
        self.schedule = LRSchedule.from_config(self.config, peak_lr=self._lr, total_steps=total_steps)
        self.epoch, self.global_step = int(job["epoch"]), int(job["step"])
        partial = _Partial(torch.zeros((), dtype=torch.float64, device=self.device))
        first, stop = int(job["first_step"]), bool(job["stop"])
        self._wrap_ddp()
        try:
            with self._sigint_guard():
                for epoch in range(self.epoch + 1, self.config.epochs + 1):
                    if stop:
                        break
                    self._phase = "train"
                    self._train_steps(data, epoch, first, partial)
                    first = 0
                    distributed.sum_(partial.loss_sum)  # rank 0's epoch loss adds up every rank's share
                    reply = distributed.receive()
                    if reply.get("kind") != "status":
                        return reply
                    self.epoch = epoch
                    partial.loss_sum.zero_()
                    stop = bool(reply["stop"] or reply["interrupt"])
        except KeyboardInterrupt:  # every rank stopped at the same step; rank 0 saves the checkpoint
            return {"kind": "done"}
        finally:
            self._ddp = None
        return None

    # --- inference -------------------------------------------------------------------------------
    def predict(self, x: Mapping[str, torch.Tensor], *, batch_size: int = EVAL_BATCH_SIZE) -> torch.Tensor:
        """Model outputs ``(N, out_dim)`` for encoded inputs ``x``: eval mode, no gradients, float32 on the CPU."""
        if not isinstance(x, Mapping) or not x:
            raise DataError(f"predict needs a non-empty dict of tensors, got {type(x).__name__}.")
        if batch_size < 1:
            raise RecipeError(f"batch_size must be at least 1, got {batch_size}.")
        first = next(iter(x.values()))
        n = int(first.shape[0]) if isinstance(first, torch.Tensor) and first.ndim > 0 else -1
        items = self._check_x(x, "x", n)
        self.model.to(self.device)
        return self._forward_all(items, batch_size).cpu()
