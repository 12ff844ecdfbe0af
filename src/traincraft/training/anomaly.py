"""Anomaly detection with an autoencoder: fit it with the trainer, score rows, set the threshold.

    model = AutoEncoder(encoder.model_spec(), hidden=[64])
    fit = fit_autoencoder(model, x_train, x_val, recipe.train, seed=0, run_dir=run)   # the usual loop
    scores = anomaly_scores(model, encoder.transform(df))                             # (N,) reconstruction errors
    threshold = contamination_threshold(scores[train_rows], recipe.anomaly.contamination)

The autoencoder trains in :class:`~traincraft.training.Trainer` like any model, as a regression
whose loss is the mean reconstruction error (the targets are unused), so it gets the trainer's
checkpoints, exact resume, early stopping on the validation error, metrics log and progress bar.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from traincraft.errors import DataError, RecipeError
from traincraft.recipe import TrainConfig
from traincraft.training.callbacks import Callback
from traincraft.training.trainer import EVAL_BATCH_SIZE, FitResult, Trainer

__all__ = ["fit_autoencoder", "anomaly_scores", "contamination_threshold", "reconstruction_loss"]

log = logging.getLogger(__name__)


def reconstruction_loss(outputs: torch.Tensor, _targets: torch.Tensor) -> torch.Tensor:
    """The trainer's loss for an autoencoder: the mean of the per-row errors it outputs ``(B, 1)``."""
    return outputs[:, 0].float().mean()


def _rows(x: Mapping[str, torch.Tensor], name: str) -> int:
    if not isinstance(x, Mapping) or not x:
        raise DataError(f"{name} must be a non-empty dict of tensors (an encoded table), got {type(x).__name__}.")
    return int(next(iter(x.values())).shape[0])


def fit_autoencoder(
    model: nn.Module,
    x_train: Mapping[str, torch.Tensor],
    x_val: Mapping[str, torch.Tensor] | None,
    config: TrainConfig,
    *,
    seed: int = 0,
    run_dir: str | Path | None = None,
    callbacks: Sequence[Callback] = (),
    progress: bool | str = False,
    resume: bool = False,
) -> FitResult:
    """Train ``model`` (whose output is a per-row error) to minimise its mean error on ``x_train``.

    With ``x_val``, the trainer's early stopping watches ``val/loss``, the mean validation error,
    and the model ends on its best epoch's weights.
    """
    n_train = _rows(x_train, "x_train")
    trainer = Trainer(
        model,
        config,
        task="regression",
        seed=seed,
        loss_fn=reconstruction_loss,
        run_dir=run_dir,
        callbacks=callbacks,
        progress=progress,
    )
    y_val = None if x_val is None else torch.zeros(_rows(x_val, "x_val"))
    return trainer.fit(x_train, torch.zeros(n_train), x_val, y_val, resume=resume)


@torch.no_grad()
def anomaly_scores(model: nn.Module, x: Mapping[str, torch.Tensor], *, batch_size: int = EVAL_BATCH_SIZE) -> torch.Tensor:
    """``(N,)`` float32 reconstruction errors of every row (eval mode, no gradients, on the model's device)."""
    n = _rows(x, "x")
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        out = []
        for start in range(0, n, batch_size):
            batch = {k: v[start : start + batch_size].to(device) for k, v in x.items()}
            out.append(model(batch)[:, 0].float().cpu())
    finally:
        model.train(was_training)
    return torch.cat(out) if out else torch.zeros(0)


def contamination_threshold(scores: torch.Tensor | np.ndarray, contamination: float) -> float:
    """The score above which a share ``contamination`` of ``scores`` lies: their (1 - contamination) quantile."""
    if not 0.0 < contamination < 0.5:
        raise RecipeError(f"anomaly.contamination must be between 0 and 0.5 (exclusive), got {contamination}.")
    values = np.asarray(scores.cpu() if isinstance(scores, torch.Tensor) else scores, dtype=np.float64)
    if values.size == 0:
        raise DataError("There are no scores to set a threshold from.")
    if not np.isfinite(values).all():
        raise DataError("Some anomaly scores are NaN/inf; the autoencoder diverged. Lower train.lr or check the features.")
    return float(np.quantile(values, 1.0 - contamination))  # linear interpolation, as scikit-learn's detectors
