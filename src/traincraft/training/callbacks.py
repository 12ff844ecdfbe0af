"""The hooks of the training loop: subclass :class:`Callback` and override what you need.

Every hook is a no-op here. The trainer calls ``on_batch_end`` only for callbacks that override
it, because turning each step's loss into a Python float waits for the step to finish; a
callback that only cares about epochs costs the hot loop nothing.

A callback that keeps state across epochs (a best score, a counter) returns it from
``state_dict()`` as JSON values; the trainer stores it in every checkpoint and hands it back to
``load_state_dict()`` on resume.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported for annotations only: trainer imports this module
    from traincraft.training.trainer import FitResult, Trainer

__all__ = ["Callback", "overrides"]


class Callback:
    """Base class for training callbacks; all hooks do nothing by default.

    ``trainer.stop_training = True`` in any hook ends training after the current epoch.
    """

    state_key: str | None = None
    """Name of this callback's entry in a checkpoint; default the class name (``#2`` etc. for repeats)."""

    def on_fit_start(self, trainer: Trainer) -> None:
        """Once per ``fit``, after set-up (and after a resume has loaded this callback's state)."""

    def on_epoch_start(self, trainer: Trainer, epoch: int) -> None:
        """Before the first step of epoch ``epoch`` (1-based), also when resuming in its middle."""

    def on_batch_end(self, trainer: Trainer, step: int, loss: float) -> None:
        """After optimiser step ``step`` (global, 1-based), with that batch's training loss."""

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> None:
        """After validation of epoch ``epoch`` (1-based); ``logs`` holds ``train/loss``, ``val/...``, ``lr``.

        Callbacks may add keys to ``logs``; the metrics log callback runs last and writes them all.
        """

    def on_fit_end(self, trainer: Trainer, result: FitResult) -> None:
        """Once, after the last epoch (not after an interruption)."""

    def state_dict(self) -> dict[str, Any]:
        """State to save in checkpoints, as JSON values. Stateless callbacks return ``{}``."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""


def overrides(callback: Callback, hook: str) -> bool:
    """Whether ``callback``'s class replaces the base class's no-op ``hook``."""
    return getattr(type(callback), hook) is not getattr(Callback, hook)
