"""Learning-rate schedules as pure functions of the global step.

The learning rate of step ``s`` (0-based, counted over the whole run) depends on ``s`` and the
configuration only, so the schedule's whole state is its step counter and a resumed run gets
exactly the rates of a straight one. Three shapes:

- ``cosine``: linear warmup to the peak over ``warmup`` of the steps, then cosine decay to zero.
- ``constant``: the same warmup, then the peak rate.
- ``onecycle``: Smith & Topin's one-cycle policy, as ``torch.optim.lr_scheduler.OneCycleLR``
  (cosine annealing up from peak/25 over the first 30% of steps, then down to peak/25/1e4).
"""

from __future__ import annotations

import math
from typing import Any

from traincraft.errors import CheckpointError, RecipeError
from traincraft.recipe import TrainConfig

__all__ = ["LRSchedule"]

SCHEDULES = ("cosine", "onecycle", "constant")
ONECYCLE_PCT_START = 0.3  # share of steps rising to the peak; OneCycleLR's default (Smith & Topin 2019)
ONECYCLE_DIV_FACTOR = 25.0  # start at peak / 25 (OneCycleLR default)
ONECYCLE_FINAL_DIV_FACTOR = 1e4  # end at start / 1e4 (OneCycleLR default)


def _cos_anneal(start: float, end: float, frac: float) -> float:
    """``start`` at ``frac`` = 0 to ``end`` at ``frac`` = 1 along half a cosine."""
    return end + (start - end) * 0.5 * (1.0 + math.cos(math.pi * frac))


class LRSchedule:
    """The learning rate for each global step; ``step`` counts the optimiser steps taken so far."""

    def __init__(self, kind: str, *, peak_lr: float, total_steps: int, warmup: float = 0.05) -> None:
        if kind not in SCHEDULES:
            raise RecipeError(f"train.schedule is {kind!r}; allowed: {', '.join(SCHEDULES)}.")
        if not peak_lr > 0:
            raise RecipeError(f"The peak learning rate must be greater than 0, got {peak_lr}.")
        if total_steps < 1:
            raise RecipeError(f"A schedule needs at least one step, got total_steps={total_steps}.")
        if not 0.0 <= warmup <= 1.0:
            raise RecipeError(f"train.warmup is a share of all steps between 0 and 1, got {warmup}.")
        self.kind = kind
        self.peak_lr = float(peak_lr)
        self.total_steps = int(total_steps)
        self.warmup = float(warmup)
        self.warmup_steps = int(round(warmup * total_steps)) if kind != "onecycle" else 0
        self.step = 0
        # one-cycle: the (fractional) step at which the rate peaks, as OneCycleLR computes it
        self._peak_step = ONECYCLE_PCT_START * self.total_steps - 1.0
        self._initial_lr = self.peak_lr / ONECYCLE_DIV_FACTOR
        self._final_lr = self._initial_lr / ONECYCLE_FINAL_DIV_FACTOR

    @classmethod
    def from_config(cls, config: TrainConfig, *, peak_lr: float, total_steps: int) -> LRSchedule:
        return cls(config.schedule, peak_lr=peak_lr, total_steps=total_steps, warmup=config.warmup)

    def lr_at(self, step: int) -> float:
        """The rate for 0-based global step ``step``; past the last step it stays at the final rate."""
        if self.kind == "onecycle":
            return self._onecycle(step)
        w = self.warmup_steps
        if step < w:
            return self.peak_lr * (step + 1) / w  # reaches the peak at step w - 1
        if self.kind == "constant":
            return self.peak_lr
        frac = min(1.0, (step - w) / max(1, self.total_steps - w))  # the last step, total - 1, stays above 0
        return _cos_anneal(self.peak_lr, 0.0, frac)

    def _onecycle(self, step: int) -> float:
        last = self.total_steps - 1
        if step <= self._peak_step:  # never true when the run is too short to have a rising phase
            return _cos_anneal(self._initial_lr, self.peak_lr, step / self._peak_step)
        frac = min(1.0, (step - self._peak_step) / (last - self._peak_step))  # last > peak step always
        return _cos_anneal(self.peak_lr, self._final_lr, frac)

    @property
    def lr(self) -> float:
        """The rate for the next step."""
        return self.lr_at(self.step)

    def state_dict(self) -> dict[str, Any]:
        """The step counter, plus the settings it was made with (checked on load)."""
        return {"step": self.step, "kind": self.kind, "peak_lr": self.peak_lr, "total_steps": self.total_steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a saved step. A different kind or peak rate means another run: an error."""
        try:
            step = int(state["step"])
        except (KeyError, TypeError, ValueError):
            raise CheckpointError(f"The schedule state {state!r} has no integer 'step'.") from None
        for key in ("kind", "peak_lr"):
            if key in state and state[key] != getattr(self, key):
                raise CheckpointError(
                    f"The checkpoint's schedule has {key}={state[key]!r} but this run uses {getattr(self, key)!r}; "
                    "resume with the settings the run started with."
                )
        self.step = step

    def __repr__(self) -> str:
        return (
            f"LRSchedule({self.kind!r}, peak_lr={self.peak_lr:g}, total_steps={self.total_steps}, "
            f"warmup_steps={self.warmup_steps}, step={self.step})"
        )
