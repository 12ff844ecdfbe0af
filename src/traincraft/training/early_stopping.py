"""Early stopping: watch a validation metric, stop when it stalls, and end on the best weights.

The best weights are kept in memory (a CPU copy) and, when the trainer has a run directory, also
written to ``checkpoints/best``. At the end of ``fit`` they are loaded back into the model, so the
model a run hands on is the one from its best epoch, not its last.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

import torch

from traincraft._util.suggest import did_you_mean
from traincraft.errors import CheckpointError, RecipeError
from traincraft.recipe import EarlyStoppingConfig
from traincraft.training.callbacks import Callback

if TYPE_CHECKING:
    from traincraft.training.trainer import FitResult, Trainer

__all__ = ["EarlyStopping", "monitor_mode"]

log = logging.getLogger(__name__)

LOWER_IS_BETTER = frozenset({"loss", "rmse", "mae", "mse", "log_loss", "brier"})
"""Metric names (the part after ``val/``) that ``mode: auto`` minimises; every other one is maximised."""


def monitor_mode(monitor: str, mode: str = "auto") -> str:
    """``min`` or ``max`` for ``monitor``; ``auto`` minimises losses and errors, maximises the rest."""
    if mode in ("min", "max"):
        return mode
    if mode != "auto":
        raise RecipeError(f"train.early_stopping.mode is {mode!r}; allowed: auto, min, max.")
    return "min" if monitor.rsplit("/", 1)[-1] in LOWER_IS_BETTER else "max"


class EarlyStopping(Callback):
    """Stop after ``patience`` epochs without an improvement of at least ``min_delta`` in ``monitor``."""

    def __init__(self, config: EarlyStoppingConfig | None = None) -> None:
        config = config or EarlyStoppingConfig()
        self.monitor = config.monitor
        self.mode = monitor_mode(config.monitor, config.mode)
        self.patience = config.patience
        self.min_delta = config.min_delta
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.wait = 0
        self.stopped_epoch: int | None = None
        self.improved = False
        """Whether the epoch just ended set a new best (the trainer then writes ``checkpoints/best``)."""
        self.best_weights: dict[str, torch.Tensor] | None = None
        self._key: str | None = None  # the logs key the monitor resolved to

    def _resolve_key(self, logs: dict[str, float]) -> str:
        if self._key is not None and self._key in logs:
            return self._key
        for key in (self.monitor, f"val/{self.monitor}"):
            if key in logs:
                self._key = key
                return key
        raise RecipeError(
            f"train.early_stopping.monitor is {self.monitor!r}, which is not among the metrics logged each epoch: "
            f"{', '.join(sorted(logs))}.{did_you_mean(self.monitor, logs)} "
            "Pick one of those, or set train.early_stopping.enabled: false."
        )

    def _is_improvement(self, value: float) -> bool:
        if math.isnan(value):
            return False
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_fit_start(self, trainer: Trainer) -> None:
        self.improved = False
        if trainer.resumed_from_epoch is None:  # a fresh fit forgets an earlier fit's best
            self.best = None
            self.best_epoch = None
            self.wait = 0
            self.stopped_epoch = None
            self.best_weights = None

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> None:
        value = float(logs[self._resolve_key(logs)])
        self.improved = self._is_improvement(value)
        if self.improved:
            self.best = value
            self.best_epoch = epoch
            self.wait = 0
            self.best_weights = {k: v.detach().to("cpu", copy=True) for k, v in trainer.model.state_dict().items()}
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            trainer.stop_training = True
            log.info(
                "Early stopping at epoch %d: %s has not improved on %.6g (epoch %s) for %d epochs.",
                epoch,
                self.monitor,
                self.best if self.best is not None else math.nan,
                self.best_epoch,
                self.wait,
            )

    def on_fit_end(self, trainer: Trainer, result: FitResult) -> None:
        if self.best_epoch is None or self.best_epoch == result.epochs_run:
            return
        if self.best_weights is None:
            log.warning(
                "The weights of the best epoch (%d) are not available, so the model keeps the weights of epoch %d.",
                self.best_epoch,
                result.epochs_run,
            )
            return
        trainer.model.load_state_dict(self.best_weights)
        log.info("Restored the weights of epoch %d (%s %.6g).", self.best_epoch, self.monitor, self.best)

    def state_dict(self) -> dict[str, Any]:
        return {
            "best": self.best,
            "best_epoch": self.best_epoch,
            "wait": self.wait,
            "stopped_epoch": self.stopped_epoch,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        try:
            self.best = None if state["best"] is None else float(state["best"])
            self.best_epoch = None if state["best_epoch"] is None else int(state["best_epoch"])
            self.wait = int(state["wait"])
            self.stopped_epoch = None if state["stopped_epoch"] is None else int(state["stopped_epoch"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"Early-stopping state {state!r} is incomplete or malformed ({exc}).") from None
        self.best_weights = None  # the trainer reloads them from checkpoints/best

    def __repr__(self) -> str:
        return (
            f"EarlyStopping(monitor={self.monitor!r}, mode={self.mode!r}, patience={self.patience}, "
            f"min_delta={self.min_delta}, best={self.best}, best_epoch={self.best_epoch})"
        )
