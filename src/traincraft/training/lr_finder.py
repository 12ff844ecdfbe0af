"""The learning-rate range test (Smith 2017), used when ``train.lr`` is ``auto``.

Train on random batches while the rate grows exponentially from ``LR_FIND_START`` to
``LR_FIND_END`` over ``LR_FIND_STEPS`` steps, smoothing the loss with a bias-corrected moving
average, and stop once the smoothed loss exceeds ``LR_FIND_DIVERGE`` times its minimum (or stops
being finite).

The rule for the chosen rate: the point of steepest descent of the smoothed loss against
log(lr), searched from the start up to the minimum of the curve, and never more than a tenth of
the rate at the minimum (beyond that point the next steps can already be on the way up). When
the curve falls for fewer than ``MIN_DESCENT_POINTS`` steps there is no slope to read, and the
rate at the minimum divided by 10 is used.

The test leaves no trace: the model's weights (and buffers, e.g. batch-norm statistics), its
train/eval mode and every random generator are restored afterwards, so a run with ``lr: auto``
is as reproducible as one with a fixed rate.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from traincraft.constants import LR_FIND_DIVERGE, LR_FIND_END, LR_FIND_START, LR_FIND_STEPS
from traincraft.errors import DataError, RecipeError
from traincraft.recipe import TrainConfig
from traincraft.training.device import autocast_factory
from traincraft.training.optim import build_optimizer
from traincraft.training.rng import capture_rng_state, restore_rng_state

__all__ = ["LRFindResult", "find_lr"]

log = logging.getLogger(__name__)

SMOOTHING = 0.9  # EMA factor of the loss; fastai's 0.98 lags ~50 of 100 steps, 0.9 about 10
MIN_DESCENT_POINTS = 5  # fewer falling points than this: no reliable slope, use min-loss / 10
RULE = "steepest descent of the smoothed loss before its minimum, at most lr(min loss) / 10"


@dataclass
class LRFindResult:
    """The range test's curve and its pick."""

    lrs: list[float]
    losses: list[float]  # smoothed, bias-corrected
    chosen: float
    raw_losses: list[float] = field(default_factory=list)
    rule: str = RULE

    def as_dict(self) -> dict[str, Any]:
        """JSON values: ``lrs``, ``losses``, ``chosen``, ``raw_losses``, ``rule``."""
        return {
            "lrs": list(self.lrs),
            "losses": list(self.losses),
            "chosen": self.chosen,
            "raw_losses": list(self.raw_losses),
            "rule": self.rule,
        }


def choose_lr(lrs: list[float], losses: list[float]) -> float:
    """The rate picked from a smoothed range-test curve (see the module docstring for the rule)."""
    if not lrs:
        raise ValueError("choose_lr needs at least one point")
    finite = [i for i, v in enumerate(losses) if math.isfinite(v)]
    if not finite:
        return lrs[0]
    lowest = min(finite, key=lambda i: losses[i])
    cap = lrs[lowest] / 10.0
    if lowest + 1 < MIN_DESCENT_POINTS:
        return cap
    x = np.log10(np.asarray(lrs[: lowest + 1], dtype=np.float64))
    y = np.asarray(losses[: lowest + 1], dtype=np.float64)
    slope = np.gradient(y, x)
    steepest = float(lrs[int(np.argmin(slope))])
    return min(steepest, cap)


def _rates(start: float, end: float, steps: int) -> list[float]:
    if steps == 1:
        return [start]
    ratio = end / start
    return [start * ratio ** (i / (steps - 1)) for i in range(steps)]


def find_lr(
    model: nn.Module,
    x: Mapping[str, torch.Tensor],
    y: torch.Tensor,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    config: TrainConfig,
    *,
    device: torch.device | str | None = None,
    seed: int = 0,
    steps: int = LR_FIND_STEPS,
    start: float = LR_FIND_START,
    end: float = LR_FIND_END,
) -> LRFindResult:
    """Run the range test on ``(x, y)`` with the optimiser, batch size and precision of ``config``.

    ``model`` should already be on ``device`` (default: the device of its first parameter); the
    batches are moved there. Returns the curve and the chosen rate; the model is left untouched.
    """
    if steps < 1 or not 0 < start < end:
        raise RecipeError(
            f"The range test needs steps >= 1 and 0 < start < end; got steps={steps}, start={start}, end={end}."
        )
    n = int(y.shape[0])
    if n == 0:
        raise DataError("The learning-rate range test got no training rows.")
    params = list(model.parameters())
    device = torch.device(device) if device is not None else (params[0].device if params else torch.device("cpu"))
    autocast = autocast_factory(device, config.precision)
    items = list(x.items())
    saved_weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
    saved_rng = capture_rng_state()
    was_training = model.training

    lrs = _rates(start, end, steps)
    optimizer = build_optimizer(model, config, lr=lrs[0])
    trainable = [p for g in optimizer.param_groups for p in g["params"]]
    batch = min(config.batch_size, n)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    tried: list[float] = []
    smoothed: list[float] = []
    raw: list[float] = []
    avg = 0.0
    best = math.inf
    try:
        model.train()
        pos = 0
        for i, lr in enumerate(lrs):
            if pos + batch > n:
                order = torch.randperm(n, generator=torch.Generator().manual_seed(seed + i + 1))
                pos = 0
            idx = order[pos : pos + batch]
            pos += batch
            xb = {k: v[idx.to(v.device)].to(device, non_blocking=True) for k, v in items}
            yb = y[idx.to(y.device)].to(device, non_blocking=True)
            for group in optimizer.param_groups:
                group["lr"] = lr * group.get("lr_scale", 1.0)
            with autocast():
                out = model(xb)
            loss = loss_fn(out.float(), yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip is not None:
                nn.utils.clip_grad_norm_(trainable, config.grad_clip)
            optimizer.step()
            value = float(loss.item())
            avg = SMOOTHING * avg + (1.0 - SMOOTHING) * value
            debiased = avg / (1.0 - SMOOTHING ** (i + 1))
            tried.append(lr)
            raw.append(value)
            smoothed.append(debiased)
            if not math.isfinite(debiased) or debiased > LR_FIND_DIVERGE * best:
                log.debug("Range test stopped at lr=%.3g: the loss diverged.", lr)
                break
            best = min(best, debiased)
    finally:
        model.load_state_dict(saved_weights)
        model.train(was_training)
        optimizer.zero_grad(set_to_none=True)
        restore_rng_state(saved_rng)
    if not any(math.isfinite(v) for v in raw):
        raise DataError(
            f"The learning-rate range test got a non-finite loss already at lr={tried[0]:.2g}; the model's outputs "
            "or the targets hold NaN/inf. Check the encoded features and the model's forward pass."
        )
    chosen = choose_lr(tried, smoothed)
    log.info(
        "Learning-rate range test: %d steps from %.2g to %.2g, chose lr=%.3g.", len(tried), tried[0], tried[-1], chosen
    )
    return LRFindResult(lrs=tried, losses=smoothed, chosen=chosen, raw_losses=raw)
