"""``curve``: would more data help? Train on growing shares of the training split and fit a power law.

Each share (default 10/20/40/70/100%) is a nested, stratified subset of the same training split;
validation and test rows are the same for every run. The validation metric against training rows
is fitted with :func:`traincraft.evaluation.fit_power_law`, which estimates the gain from twice
the data with a 95% interval and says whether the curve has flattened. The result is written to
``<curve dir>/curve.json`` and into the full-data run, whose report then shows the curve.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Sequence

from traincraft._util.atomic import atomic_write_json
from traincraft.api._inputs import resolve_recipe
from traincraft.api.run_dir import new_run_dir
from traincraft.api.train import train
from traincraft.errors import RecipeError
from traincraft.evaluation import EvaluationOptions, fit_power_law, jsonable, metric_mode
from traincraft.recipe._evaluate import CurveConfig
from traincraft.report import CURVE_FILE, build_report

__all__ = ["curve"]

log = logging.getLogger(__name__)


def curve(
    data: Any = None,
    *,
    label: str | None = None,
    recipe: Any = None,
    fractions: Sequence[float] | None = None,
    metric: str | None = None,
    name: str | None = None,
    runs_dir: str | Path = "runs",
    progress: bool | str = False,
) -> dict[str, Any]:
    """Train once per share of the training split; return the points, the power-law fit and paths.

    ``data``, ``label`` and ``recipe`` are as for :func:`traincraft.train`; ``fractions`` and
    ``metric`` override the recipe's ``evaluate.curve``.
    """
    cfg, frame = resolve_recipe(data, label=label, recipe=recipe)
    options = EvaluationOptions.from_recipe(cfg).curve
    if fractions is not None:
        try:
            options = CurveConfig(fractions=list(fractions), metric=options.metric)
        except ValueError as exc:
            raise RecipeError(f"curve fractions {list(fractions)}: {exc}") from None
    base = name or cfg.name or (Path(cfg.data.source.rpartition(":")[2]).stem if cfg.data.source else "frame")
    folder = new_run_dir(runs_dir, f"{base}-curve").root
    points, full_run = [], None
    for fraction in options.fractions:
        run_name = f"p{round(fraction * 100):03d}"
        log.info("curve: training on %.0f%% of the training split (%s)", fraction * 100, run_name)
        run = train(
            frame if frame is not None else cfg,
            recipe=cfg.model_dump(mode="json") if frame is not None else None,
            name=run_name,
            runs_dir=folder,
            progress=progress,
            train_fraction=fraction,
        )
        chosen = metric or options.metric or ("rmse" if run.task == "regression" else "accuracy")
        validation = run.metrics.get("validation", {})
        if chosen not in validation:
            raise RecipeError(
                f"curve metric '{chosen}' is not among the validation metrics ({', '.join(validation) or 'none: keep a validation split'})."
            )
        points.append({
            "fraction": fraction,
            "train_rows": run.split_sizes["train"],
            "metric": validation[chosen],
            "test_metric": run.metrics.get("test", {}).get(chosen),
            "epochs": run.fit.epochs_run,
            "run_dir": str(run.run_dir),
        })
        if fraction == 1.0:
            full_run = run
    fit = fit_power_law([p["train_rows"] for p in points], [p["metric"] for p in points],
                        higher_is_better=metric_mode(chosen) == "max", seed=cfg.seed)
    result = {
        "metric": chosen,
        "split": "validation",
        "validation_rows": full_run.split_sizes["validation"] if full_run else None,
        "points": points,
        "fit": fit,
        "curve_dir": str(folder),
    }
    atomic_write_json(folder / CURVE_FILE, jsonable(result))
    if full_run is not None:  # the full-data run's card shows the curve
        atomic_write_json(full_run.run_dir / CURVE_FILE, jsonable(result))
        result["report"] = str(build_report(full_run.run_dir)["html"])
    log.info("curve: %s", fit.get("verdict", fit.get("reason")))
    return result
