"""Fairness mitigation in training: a second model fitted with Kamiran & Calders reweighing.

With ``evaluate.fairness.reweighting: true`` (binary task, ``data.sensitive`` set) ``train`` fits the
same network a second time on the same encoded training split, each row weighted by
P(group)·P(label) / P(group, label) of the ``mitigate_on`` column (counted on the training split),
with the same settings, seed and validation split. Only its test outputs are kept: the evaluation
sets its accuracy and disparities beside the unmitigated model's and the per-group thresholds'.
The bundle keeps the unweighted model.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import pandas as pd
import torch

from traincraft._util.seed import seed_everything
from traincraft.errors import RecipeError
from traincraft.evaluation import reweighing_weights
from traincraft.evaluation.fairness import group_labels
from traincraft.models import build_model
from traincraft.recipe import Recipe
from traincraft.training import Trainer

__all__ = ["reweighted_outputs"]

log = logging.getLogger(__name__)


def _wanted(cfg: Recipe, task: str, has_test: bool) -> bool:
    if not cfg.evaluate.fairness.reweighting:
        return False
    why = None
    if task != "binary":
        why = f"it needs a binary task, and this one is {task}"
    elif not cfg.data.sensitive:
        why = "the recipe names no data.sensitive columns"
    elif cfg.model.pretrained:
        why = "it does not support model.pretrained yet"
    elif not has_test:
        why = "there is no test split to judge it on"
    if why:
        log.warning("evaluate.fairness.reweighting is ignored: %s.", why)
        return False
    return True


def reweighted_outputs(
    cfg: Recipe,
    *,
    trainer: Trainer,
    model_spec: dict[str, Any],
    out_dim: int,
    classes: list[Any],
    train_df: pd.DataFrame,
    train: tuple[dict[str, torch.Tensor], torch.Tensor],
    validation: tuple[dict[str, torch.Tensor] | None, torch.Tensor | None],
    x_test: dict[str, torch.Tensor] | None,
) -> dict[str, Any] | None:
    """Fit the reweighted model like ``trainer``'s (class weights, metrics, settings) and return
    ``{"attribute", "weights", "training", "test": outputs on x_test}`` for ``evaluate_run``; None
    when the recipe does not ask for it (or it cannot apply, with a warning)."""
    if not _wanted(cfg, trainer.task, x_test is not None):
        return None
    sensitive = list(cfg.data.sensitive)
    on = cfg.evaluate.fairness.mitigate_on or sensitive[0]
    if on not in sensitive:
        raise RecipeError(
            f"evaluate.fairness.mitigate_on '{on}' is not one of data.sensitive ({', '.join(sensitive)}); "
            "name one of those columns or leave it empty for the first."
        )
    x_train, y_train = train
    groups = group_labels(train_df, [on], intersectional=False)[on].to_numpy()
    weights, cells = reweighing_weights(y_train.cpu().numpy(), groups)
    for cell in cells:
        cell["label"] = classes[int(cell["label"])]
    seed_everything(cfg.seed)
    model = build_model(model_spec, cfg.model, out_dim)
    second = Trainer(model, cfg.train, task=trainer.task, seed=cfg.seed, class_weights=trainer.class_weights, metrics_fn=trainer.metrics_fn)
    started = time.perf_counter()
    log.info("fairness reweighting: training a second model with row weights balancing '%s' and the label", on)
    fit = second.fit(x_train, y_train, *validation, sample_weight=torch.as_tensor(weights))
    return {
        "attribute": on,
        "weights": cells,
        "training": {"epochs": fit.epochs_run, "best_epoch": fit.best_epoch, "seconds": round(time.perf_counter() - started, 3)},
        "test": second.predict(x_test),
    }
