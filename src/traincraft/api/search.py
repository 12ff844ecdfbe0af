"""``search``: try settings from the recipe's ``search.space``, rank them on the validation split, and
train the best once more as the run that reads the test split, once.

The trials are ordinary training runs under ``runs/<name>-search/trial-NNN`` that leave the test
split unread (``train(read_test=False)``): choosing settings by test scores would make the test
estimate optimistic, which is what the validation split is for. Trial settings are drawn up front
from the recipe's seed, so a killed search resumed with ``resume=`` skips the trials already in
``trials.jsonl`` and draws the same settings for the rest. The final run uses the same split and
seed as the trials, so it reproduces the best trial's validation score (on the same device and
thread count) before it reads the test split.
"""

from __future__ import annotations

import copy
import itertools
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import BaseModel

from traincraft._util.atomic import atomic_write_json, atomic_write_text
from traincraft._util.suggest import did_you_mean
from traincraft.api._inputs import resolve_recipe
from traincraft.api.run_dir import new_run_dir
from traincraft.api.train import train
from traincraft.errors import RecipeError, TraincraftError
from traincraft.evaluation import jsonable, metric_mode
from traincraft.recipe import Recipe, recipe_from_dict
from traincraft.recipe._search import SearchConfig

__all__ = ["search", "draw_trials"]

log = logging.getLogger(__name__)

TRIALS_FILE = "trials.jsonl"
SEARCH_FILE = "search.json"
BEST_RECIPE_FILE = "best.yaml"
SUPERVISED = ("auto", "binary", "multiclass", "regression")


def draw_trials(space: SearchConfig, seed: int) -> list[dict[str, Any]]:
    """The settings of every trial, in order: the recipe's own (``{}``, when ``include_recipe``), then
    the grid's combinations or ``trials`` random draws.

    Random draws use their own generator seeded by the recipe's seed, so the same recipe gives the
    same trials (a resumed search continues the same sequence)."""
    paths = list(space.space)
    own: list[dict[str, Any]] = [{}] if space.include_recipe else []
    if space.method == "grid":
        combos = itertools.product(*(space.space[p].choice for p in paths))  # type: ignore[misc]
        return own + [dict(zip(paths, values)) for values in combos]
    rng = np.random.default_rng([seed, 0x5EA7C4])  # apart from the training seed's own streams
    return own + [{p: space.space[p].sample(rng) for p in paths} for _ in range(space.trials)]


def _set_path(full: dict[str, Any], sparse: dict[str, Any], path: str, value: Any) -> None:
    """Set ``path`` in ``sparse`` (the settings the user gave) after checking it exists in ``full``
    (every setting), so a typo is an error and untouched defaults stay unset (no 'ignored' warnings)."""
    node = full
    parts = path.split(".")
    for i, part in enumerate(parts[:-1]):
        child = node.get(part)
        if not isinstance(child, dict):
            where = ".".join(parts[: i + 1])
            raise RecipeError(
                f"search.space: '{path}' is not a recipe setting: '{where}' is not a section.{did_you_mean(part, list(node))}"
            )
        node = child
    if parts[-1] not in node:
        raise RecipeError(
            f"search.space: '{path}' is not a recipe setting.{did_you_mean(parts[-1], list(node))} "
            f"Settings in {'.'.join(parts[:-1]) or 'the recipe'}: {', '.join(sorted(node))}."
        )
    target = sparse
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = copy.deepcopy(value)


def _explicit(model: BaseModel) -> dict[str, Any]:
    """The settings given explicitly, at any depth, as JSON values. Unlike ``exclude_unset``, a nested
    field assigned after construction (``recipe.data.label = "y"``) counts even when its section does not."""
    out: dict[str, Any] = {}
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            nested = _explicit(value)
            if nested or name in model.model_fields_set:
                out[name] = nested
        elif name in model.model_fields_set:
            out[name] = model.model_dump(mode="json", include={name})[name]
    return out


def trial_recipe(base: Recipe, settings: dict[str, Any]) -> Recipe:
    """``base`` with each dotted path set; a value the recipe refuses is an error naming the path."""
    full, sparse = base.model_dump(mode="json"), _explicit(base)
    for path, value in settings.items():
        _set_path(full, sparse, path, value)
    sparse.pop("search", None)  # a trial is a plain run
    try:
        return recipe_from_dict(sparse)
    except RecipeError as exc:
        raise RecipeError(f"search.space gives a value the recipe refuses ({settings}):\n{exc}") from None


def _get_path(tree: dict[str, Any], path: str) -> Any:
    for part in path.split("."):
        tree = tree[part]
    return tree


def _check_space(base: Recipe) -> None:
    """Every path exists and accepts its extreme values, before any trial trains."""
    for path, dist in base.search.space.items():
        for value in dist.extremes():
            trial_recipe(base, {path: value})


def _metric(base: Recipe, task: str) -> str:
    if base.search.metric != "auto":
        return base.search.metric
    return "rmse" if task == "regression" else "accuracy"


def _read_trials(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    done = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            try:
                done.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut short by a kill: that trial runs again
                break
    return done


def _append(path: Path, record: dict[str, Any]) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(jsonable(record)) + "\n")
        f.flush()
        os.fsync(f.fileno())


def _write_best(path: Path, cfg: Recipe, best: dict[str, Any], metric: str) -> None:
    """The recipe with the best settings, as the user would write it: only what was set, the data path absolute."""
    tree = _explicit(cfg)
    tree.pop("name", None)
    source = tree.get("data", {}).get("source")
    if source and ":" not in source and not Path(source).is_absolute():
        tree["data"]["source"] = str(Path(source).resolve())
    chosen = ", ".join(f"{k}: {json.dumps(v)}" for k, v in best["settings"].items())
    header = f"# traincraft search: the best of the trials by validation {metric} ({best['value']:.4f}, trial {best['trial']})\n# {chosen}\n"
    atomic_write_text(path, header + yaml.safe_dump(tree, sort_keys=False))


def search(
    data: Any = None,
    *,
    label: str | None = None,
    recipe: Any = None,
    trials: int | None = None,
    final: bool | None = None,
    name: str | None = None,
    runs_dir: str | Path = "runs",
    resume: str | Path | None = None,
    progress: bool | str = False,
) -> dict[str, Any]:
    """Run the recipe's search; return the ranked trials, the best settings and the final run's metrics.

    ``data``, ``label`` and ``recipe`` are as for :func:`traincraft.train`; ``trials`` and ``final``
    override ``search.trials`` and ``search.final``. ``resume`` is the folder of a search to continue.
    """
    base, frame = resolve_recipe(data, label=label, recipe=recipe)
    if trials is not None:
        base.search.trials = trials
    if final is not None:
        base.search.final = final
    if base.task not in SUPERVISED:
        raise RecipeError(f"traincraft search tunes supervised models; this recipe's task is {base.task}.")
    if not base.search.space:
        raise RecipeError(
            "search.space is empty: say which settings to try, e.g.\n"
            "search:\n  trials: 12\n  space:\n    train.lr: {log_uniform: [1.0e-4, 1.0e-2]}\n"
            "    model.hidden: {choice: [[64], [256, 256]]}\n    model.dropout: {uniform: [0.0, 0.5]}"
        )
    if base.split.validation <= 0:
        raise RecipeError("traincraft search ranks trials on the validation split; split.validation is 0. Give it a share, e.g. 0.15.")
    _check_space(base)
    settings = draw_trials(base.search, base.seed)

    if resume is not None:
        folder = Path(resume)
        saved = folder / SEARCH_FILE
        if not saved.exists():
            raise RecipeError(f"{folder} is not a search folder (no {SEARCH_FILE}); start a new search without resume.")
        before = json.loads(saved.read_text(encoding="utf-8"))
        earlier_final = before.get("final")
        if before.get("settings") != jsonable(settings):
            raise RecipeError(f"The search in {folder} was started with other settings (space, method, trials or seed); start a new search.")
        for key, now in (("folds", base.search.folds), ("ranked_by", base.search.metric)):
            if before.get(key, now) != now:
                raise RecipeError(
                    f"The search in {folder} was started with search.{'metric' if key == 'ranked_by' else key}: {before[key]}, "
                    f"not {now}; its trials would not compare with new ones. Start a new search."
                )
    else:
        earlier_final = None
        stem = name or base.name or (Path(base.data.source.rpartition(":")[2]).stem if base.data.source else "frame")
        folder = new_run_dir(runs_dir, f"{stem}-search").root
    header = {"status": "running", "method": base.search.method, "folds": base.search.folds, "ranked_by": base.search.metric,
              "settings": jsonable(settings)}
    atomic_write_json(folder / SEARCH_FILE, header)
    trials_path = folder / TRIALS_FILE
    done = {r["trial"]: r for r in _read_trials(trials_path)}
    if done:
        log.info("search: %d of %d trials already done in %s", len(done), len(settings), folder)

    metric = None
    for i, setting in enumerate(settings):
        if i in done:
            metric = metric or done[i].get("metric")
            continue
        trial_cfg = trial_recipe(base, setting)
        run_name = f"trial-{i:03d}"
        log.info("search: %s of %d: %s", run_name, len(settings), ", ".join(f"{k}={v}" for k, v in setting.items()) or "the recipe's own settings")
        started = time.perf_counter()
        resolved = trial_cfg.model_dump(mode="json")
        values = {p: _get_path(resolved, p) for p in base.search.space}  # the recipe's own values for trial 0
        record: dict[str, Any] = {"trial": i, "settings": setting, "values": values, "run_dir": str(folder / run_name)}
        folds = base.search.folds
        runs = []
        try:
            for fold in range(folds or 1):  # one run on the recipe's split, or one per cross-validation fold
                fold_name = run_name if folds is None else f"{run_name}-fold{fold}"
                partial = folder / fold_name
                carry_on = partial if (partial / "checkpoints" / "last").exists() else None  # a run the kill cut short resumes exactly
                runs.append(train(
                    frame if frame is not None else trial_cfg,
                    recipe=_explicit(trial_cfg) if frame is not None else None,
                    name=fold_name,
                    runs_dir=folder,
                    progress=progress,
                    read_test=False,
                    resume=carry_on,
                    fold=None if folds is None else (folds, fold),
                ))
        except TraincraftError as exc:  # a setting that cannot train (e.g. a batch larger than the data) loses that trial only
            if not any(r["status"] == "finished" for r in done.values()):
                raise  # no trial has trained yet: the recipe itself is wrong, and every trial would fail the same way
            log.warning("search: %s failed: %s", run_name, exc)
            record.update(status="failed", error=str(exc), seconds=round(time.perf_counter() - started, 3))
            _append(trials_path, record)
            done[i] = record
            continue
        record["run_dir"] = str(runs[0].run_dir)
        metric = metric or _metric(base, runs[0].task)
        validation = runs[0].metrics.get("validation", {})
        if metric not in validation:
            raise RecipeError(
                f"search.metric '{metric}' is not a validation metric of this task.{did_you_mean(metric, validation)} "
                f"Validation metrics: {', '.join(validation)}."
            )
        scores = [r.metrics["validation"][metric] for r in runs]
        record.update(
            status="finished", metric=metric, value=float(np.mean(scores)), validation=validation,
            epochs=runs[0].fit.epochs_run, best_epoch=runs[0].fit.best_epoch, seconds=round(time.perf_counter() - started, 3),
        )
        if folds is not None:  # the mean over folds ranks; each fold's score and their spread are kept
            record.update(fold_values=scores, std=float(np.std(scores, ddof=1)), run_dirs=[str(r.run_dir) for r in runs],
                          epochs=float(np.mean([r.fit.epochs_run for r in runs])), validation=None)
        _append(trials_path, record)
        done[i] = record
        spread = f" ± {record['std']:.4f} over {folds} folds" if folds is not None else ""
        log.info("search: %s: validation %s %.4f%s", run_name, metric, record["value"], spread)

    finished = [r for r in done.values() if r["status"] == "finished"]
    if not finished:
        raise RecipeError(f"Every search trial failed; see {trials_path} for each error.")
    metric = finished[0]["metric"]
    mode = metric_mode(metric)
    ranked = sorted(finished, key=lambda r: r["value"], reverse=(mode == "max"))
    best = ranked[0]
    best_cfg = trial_recipe(base, best["settings"])
    best_cfg.name = None
    _write_best(folder / BEST_RECIPE_FILE, best_cfg, best, metric)
    result: dict[str, Any] = {
        "status": "finished",
        "search_dir": str(folder),
        "metric": metric,
        "mode": mode,
        "method": base.search.method,
        "folds": base.search.folds,
        "ranked_by": base.search.metric,
        "trials": [done[i] for i in sorted(done)],
        "ranking": [r["trial"] for r in ranked],
        "best": best,
        "best_recipe": str(folder / BEST_RECIPE_FILE),
        "settings": jsonable(settings),
        "space": list(base.search.space),
    }
    if base.search.final and earlier_final and earlier_final.get("trial") == best["trial"] and Path(earlier_final["run_dir"], "run.json").exists():
        log.info("search: the final run of trial-%03d's settings is already done: %s (the test split is not read again)", best["trial"], earlier_final["run_dir"])
        result["final"] = earlier_final
    elif base.search.final:
        log.info("search: the final run trains trial-%03d's settings and reads the test split once", best["trial"])
        final_run = train(
            frame if frame is not None else best_cfg,
            recipe=_explicit(best_cfg) if frame is not None else None,
            name="final",
            runs_dir=folder,
            progress=progress,
        )
        reproduced = final_run.metrics["validation"].get(metric)
        result["final"] = {
            "trial": best["trial"],
            "run_dir": str(final_run.run_dir),
            "bundle": str(final_run.bundle_dir),
            "validation": final_run.metrics["validation"],
            "test": final_run.metrics["test"],
            # trials scored on the recipe's own split must come out the same again; cross-validated ones used other splits
            "reproduces_best_trial": None if base.search.folds else (reproduced is not None and abs(reproduced - best["value"]) <= 1e-9),
        }
        if result["final"]["reproduces_best_trial"] is False:
            log.warning(
                "search: the final run's validation %s is %.6f, the best trial's %.6f: training is not bitwise repeatable "
                "here (another device or thread count?)", metric, reproduced if reproduced is not None else float("nan"), best["value"],
            )
    atomic_write_json(folder / SEARCH_FILE, jsonable(result))
    return jsonable(result)
