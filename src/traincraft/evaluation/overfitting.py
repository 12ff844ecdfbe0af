"""Over- and underfitting, read from the learning curves (``metrics.jsonl``).

The verdict is about the model that was delivered:

- **overfitting from epoch N** — after epoch N the validation loss rose by at least
  ``OVERFIT_RISE`` (smoothed over ``SMOOTH_EPOCHS`` epochs, for at least ``OVERFIT_MIN_EPOCHS``
  epochs) while the training loss kept falling, and the delivered weights come from after the rise.
  When early stopping restored the epoch-N weights, the rise is reported but the verdict is
  *fitting well*: the delivered model is from before it.
- **underfitting** — the training loss stays near the loss of guessing the label distribution
  (``UNDERFIT_BASELINE_SHARE``), or both losses were still falling fast when training ended.
- **fitting well** — neither.

Each verdict carries the numbers behind it (evidence) and what to do about it (advice).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

__all__ = [
    "diagnose_learning_curves",
    "OVERFIT_RISE",
    "OVERFIT_MIN_EPOCHS",
    "SMOOTH_EPOCHS",
    "UNDERFIT_BASELINE_SHARE",
    "STILL_IMPROVING",
]

SMOOTH_EPOCHS = 3  # trailing mean: a 270-row validation set moves its loss ±10% epoch to epoch
OVERFIT_RISE = 0.10  # smoothed validation loss 10% above its minimum: beyond that noise, a trend
OVERFIT_MIN_EPOCHS = 3  # the rise must last this many epochs after the minimum
UNDERFIT_BASELINE_SHARE = 0.9  # training loss within 10% of the label-distribution loss: the features taught it almost nothing (noisy tasks like Adult sit near 0.6)
STILL_IMPROVING = 0.02  # smoothed validation loss still falling 2% per epoch at the end: not converged
MIN_EPOCHS = 3  # fewer epochs than this cannot show a trend


def _series(history: Sequence[dict[str, Any]], key: str) -> tuple[np.ndarray, np.ndarray]:
    epochs, values = [], []
    for record in history:
        value = record.get(key)
        if isinstance(value, (int, float)) and math.isfinite(value) and isinstance(record.get("epoch"), int):
            epochs.append(record["epoch"])
            values.append(float(value))
    return np.asarray(epochs, dtype=np.int64), np.asarray(values, dtype=np.float64)


def _smooth(values: np.ndarray, window: int) -> np.ndarray:
    csum = np.cumsum(np.r_[0.0, values])
    starts = np.maximum(np.arange(len(values)) + 1 - window, 0)
    return (csum[1:] - csum[starts]) / (np.arange(len(values)) + 1 - starts)


def diagnose_learning_curves(
    history: Sequence[dict[str, Any]],
    *,
    best_epoch: int | None = None,
    restored_best: bool = False,
    baseline_loss: float | None = None,
    settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The verdict from per-epoch records holding ``train/loss`` and ``val/loss``.

    ``restored_best`` says the delivered weights are those of ``best_epoch`` (early stopping
    restores them); ``baseline_loss`` is the loss of predicting the training label distribution
    (the entropy for classification); ``settings`` (dropout, weight_decay, hidden, epochs,
    early_stopping) make the advice concrete.
    """
    settings = settings or {}
    t_epochs, train = _series(history, "train/loss")
    v_epochs, val = _series(history, "val/loss")
    base = {"verdict": "undetermined", "from_epoch": None, "evidence": [], "advice": [], "numbers": {}}
    if len(v_epochs) < MIN_EPOCHS or len(t_epochs) < MIN_EPOCHS:
        base["summary"] = (
            f"Not enough epochs with both a training and a validation loss to judge ({min(len(t_epochs), len(v_epochs))}; "
            f"at least {MIN_EPOCHS} are needed)."
        )
        if not len(v_epochs):
            base["advice"].append("Keep a validation split (split.validation > 0) so over- and underfitting can be seen.")
        return base
    train_at = dict(zip(t_epochs.tolist(), train.tolist()))
    smooth = _smooth(val, SMOOTH_EPOCHS)
    i_min = int(np.argmin(smooth))
    raw_min = int(np.argmin(val))
    min_epoch = int(v_epochs[raw_min])
    rise = float((smooth[-1] - smooth[i_min]) / max(smooth[i_min], 1e-12))
    epochs_after = int(v_epochs[-1] - v_epochs[i_min])
    last_epoch = int(v_epochs[-1])
    train_last = train_at.get(last_epoch, float(train[-1]))
    train_at_min = train_at.get(min_epoch, float("nan"))
    delivered = best_epoch if (restored_best and best_epoch is not None) else last_epoch
    numbers = {
        "epochs": int(len(v_epochs)),
        "val_loss_min": float(val[raw_min]),
        "val_loss_min_epoch": min_epoch,
        "val_loss_last": float(val[-1]),
        "val_loss_rise": rise,
        "train_loss_last": float(train_last),
        "train_loss_at_val_min": float(train_at_min),
        "gap_at_val_min": float(val[raw_min] - train_at_min),
        "delivered_epoch": int(delivered),
        "baseline_loss": None if baseline_loss is None else float(baseline_loss),
    }
    evidence = [
        f"Validation loss was lowest at epoch {min_epoch} ({val[raw_min]:.4f}); at the last epoch, {last_epoch}, "
        f"it was {val[-1]:.4f} ({rise:+.1%} on the {SMOOTH_EPOCHS}-epoch mean)."
    ]
    if math.isfinite(train_at_min):
        evidence.append(
            f"Training loss went from {train_at_min:.4f} at epoch {min_epoch} to {train_last:.4f} at epoch {last_epoch}; "
            f"the train/validation gap at epoch {min_epoch} was {val[raw_min] - train_at_min:.4f}."
        )
    train_falling = train_last < train_at_min if math.isfinite(train_at_min) else bool(train[-1] < train[0])
    overfit = rise >= OVERFIT_RISE and epochs_after >= OVERFIT_MIN_EPOCHS and train_falling
    verdict, from_epoch, advice = "fitting_well", None, []

    if overfit:
        caught = restored_best and best_epoch is not None and best_epoch <= min_epoch + SMOOTH_EPOCHS
        if caught:
            summary = (
                f"Fitting well: the network began to overfit after epoch {min_epoch} (validation loss up {rise:.0%} "
                f"while training loss kept falling), and early stopping restored the epoch-{best_epoch} weights, "
                "so the delivered model is from before the overfitting."
            )
            evidence.append(f"Early stopping restored the weights of epoch {best_epoch}.")
            advice.append(_regularise(settings))
            advice.append("More training rows would let later epochs help: run traincraft curve RECIPE to see how much.")
        else:
            verdict, from_epoch = "overfitting", min_epoch
            summary = (
                f"Overfitting from epoch {min_epoch}: validation loss rose {rise:.0%} over the last {epochs_after} epochs "
                f"while training loss fell to {train_last:.4f}; the delivered weights are from epoch {delivered}."
            )
            if not settings.get("early_stopping", False):
                advice.append(f"Stop earlier: turn on train.early_stopping (it would have kept epoch {min_epoch}).")
            else:
                advice.append(f"Stop earlier: lower train.early_stopping.patience; validation loss was lowest at epoch {min_epoch}.")
            advice.append(_regularise(settings))
            advice.append("Get more data: run traincraft curve RECIPE to estimate what twice the rows would gain.")
            if settings.get("hidden"):
                advice.append(f"Use a smaller network than model.hidden {settings['hidden']}.")
    else:
        summary, underfit = _underfitting(smooth, val, train_last, baseline_loss, evidence, numbers)
        if underfit:
            verdict = "underfitting"
            if underfit == "not_converged":
                advice.append(f"Train longer: raise train.epochs (now {settings.get('epochs', '?')}); the losses were still falling.")
            advice.append(f"Use a bigger network than model.hidden {settings.get('hidden', '?')}, or fewer regularisers "
                          f"(model.dropout {settings.get('dropout', '?')}, train.weight_decay {settings.get('weight_decay', '?')}).")
            advice.append("Check the learning rate: train.lr: auto runs a range test.")
        else:
            if rise > 0 and epochs_after > 0:
                evidence.append(
                    f"After epoch {min_epoch} the smoothed validation loss moved {rise:+.1%}, below the {OVERFIT_RISE:.0%} "
                    "that would count as overfitting."
                )
            summary = (
                f"Fitting well: validation loss reached {val[raw_min]:.4f} at epoch {min_epoch} and stayed within "
                f"{OVERFIT_RISE:.0%} of it; the delivered weights are from epoch {delivered}."
            )
            advice.append("More data may still help: run traincraft curve RECIPE to see whether the metric has flattened.")
    base.update(verdict=verdict, from_epoch=from_epoch, summary=summary, evidence=evidence, advice=advice, numbers=numbers)
    return base


def _regularise(settings: dict[str, Any]) -> str:
    return (
        f"Regularise more: raise model.dropout (now {settings.get('dropout', '?')}) or train.weight_decay "
        f"(now {settings.get('weight_decay', '?')})."
    )


def _underfitting(
    smooth: np.ndarray, val: np.ndarray, train_last: float, baseline_loss: float | None, evidence: list[str], numbers: dict
) -> tuple[str, str | None]:
    """(summary, reason or None): does the model fall short of what it could learn?"""
    if baseline_loss is not None and baseline_loss > 0 and train_last >= UNDERFIT_BASELINE_SHARE * baseline_loss:
        evidence.append(
            f"Final training loss {train_last:.4f} is {train_last / baseline_loss:.0%} of {baseline_loss:.4f}, the loss of "
            "predicting the label distribution without looking at the features."
        )
        return (
            f"Underfitting: the training loss ({train_last:.4f}) stays close to that of guessing from the label "
            f"distribution ({baseline_loss:.4f}); the model has not learnt much from the features.",
            "high_bias",
        )
    if len(smooth) >= 2 * SMOOTH_EPOCHS:
        recent = float((smooth[-1 - SMOOTH_EPOCHS] - smooth[-1]) / max(smooth[-1 - SMOOTH_EPOCHS], 1e-12)) / SMOOTH_EPOCHS
        numbers["val_loss_fall_per_epoch_at_end"] = recent
        if recent >= STILL_IMPROVING and int(np.argmin(val)) >= len(val) - SMOOTH_EPOCHS:
            evidence.append(
                f"Over the last {SMOOTH_EPOCHS} epochs the smoothed validation loss still fell {recent:.1%} per epoch."
            )
            return (
                f"Underfitting: training ended while the validation loss was still falling ({recent:.1%} per epoch); "
                "the model has not converged.",
                "not_converged",
            )
    return "", None
