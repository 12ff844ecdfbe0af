"""``train_rl`` and ``play``: a ``task: rl`` recipe → run directory with checkpoints, metrics and a policy bundle.

    runs/<name>/
      recipe.yaml         resolved recipe
      checkpoints/last/   weights, optimiser, generators, environment states (exact resume)
      metrics.jsonl       one record per iteration: rl/steps, rl/episode_return, train/..., perf/env_steps_per_s
      episodes.json       the final evaluation episodes' returns (evaluation.json is supervised evaluation's)
      bundle/             model.safetensors + bundle.json (policy spec, env id, metrics)
      run.json            summary
      report.html         the model card with the reward curves (card.json: the same for machines)
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from traincraft._util.atomic import atomic_write_json
from traincraft.api._run_summary import write_run_summary
from traincraft.api.run_dir import existing_run_dir, new_run_dir
from traincraft.errors import RecipeError
from traincraft.recipe import Recipe, load_recipe, recipe_from_dict, save_recipe
from traincraft.report import build_report
from traincraft.rl import DQN, PPO, RLResult
from traincraft.rl.bundle import load_policy, save_policy_bundle
from traincraft.rl.evaluate import evaluate_policy
from traincraft.training import Callback

__all__ = ["RLRun", "train_rl", "play", "EPISODES_FILE", "EPISODES_FORMAT"]

log = logging.getLogger(__name__)

EPISODES_FILE = "episodes.json"  # its own name: evaluation.json is the supervised test evaluation, another shape
EPISODES_FORMAT = "traincraft-rl-episodes"
_AGENTS = {"ppo": PPO, "dqn": DQN}


@dataclass
class RLRun:
    """What an RL run produced: where it lives and how the final policy did."""

    run_dir: Path
    bundle_dir: Path
    recipe: Recipe
    result: RLResult
    metrics: dict[str, float]
    seconds: float

    def summary(self) -> dict[str, Any]:
        return {
            "run_dir": str(self.run_dir),
            "bundle": str(self.bundle_dir),
            "task": "rl",
            "env": self.recipe.rl.env,
            "algorithm": self.recipe.rl.algorithm,
            "metrics": self.metrics,
            "env_steps": self.result.env_steps,
            "iterations": self.result.iterations,
            "episodes": self.result.episodes,
            "resumed_from_iteration": self.result.resumed_from_iteration,
            "device": self.result.device,
            "env_steps_per_s": round(self.result.env_steps_per_s, 1),
            "seconds": round(self.seconds, 3),
        }


def _as_recipe(recipe: Recipe | dict | str | Path) -> Recipe:
    if isinstance(recipe, Recipe):
        return recipe.model_copy(deep=True)
    if isinstance(recipe, dict):
        return recipe_from_dict(recipe)
    if isinstance(recipe, (str, Path)):
        return load_recipe(recipe)
    raise RecipeError(f"train_rl takes a recipe file, a dict or a Recipe, got {type(recipe).__name__}.")


def train_rl(
    recipe: Recipe | dict | str | Path,
    *,
    name: str | None = None,
    runs_dir: str | Path = "runs",
    resume: str | Path | None = None,
    progress: bool | str = False,
    callbacks: Sequence[Callback] = (),
) -> RLRun:
    """Train the recipe's ``rl`` section and write a run directory (see the module docstring).

    ``resume`` continues the run in that directory from its last checkpoint; only ``rl.total_steps``
    and the evaluation and checkpoint settings may differ from the recipe it started with.
    """
    started = time.perf_counter()
    cfg = _as_recipe(recipe)
    if cfg.task != "rl":
        raise RecipeError(f"train_rl runs task: rl recipes, but this one has task: {cfg.task}. Set task: rl.")
    if cfg.data.source or cfg.data.label:
        log.warning("data.source and data.label are ignored by task: rl; experience comes from the environment rl.env.")
    if name:
        cfg.name = name
    if resume is not None:
        paths = existing_run_dir(resume)
        saved = load_recipe(paths.recipe)
        cfg.name = saved.name
    else:
        paths = new_run_dir(runs_dir, cfg.name, stem=cfg.rl.env)
        cfg.name = cfg.name or paths.root.name
    save_recipe(cfg, paths.recipe)
    log.info("run directory: %s", paths.root)
    agent = _AGENTS[cfg.rl.algorithm](cfg.rl, seed=cfg.seed, run_dir=paths.root, callbacks=callbacks, progress=progress)
    result = agent.learn(resume=resume is not None)
    returns = np.asarray(result.eval_returns)
    metrics = {
        "eval_return_mean": float(returns.mean()),
        "eval_return_std": float(returns.std()),
        "eval_return_min": float(returns.min()),
        "eval_return_max": float(returns.max()),
        "eval_episodes": int(returns.size),
        "env_steps": int(result.env_steps),
    }
    atomic_write_json(
        paths.root / EPISODES_FILE,
        {"format": EPISODES_FORMAT, "task": "rl", "env": cfg.rl.env, "seed": cfg.seed, "deterministic": True,
         "returns": result.eval_returns, **metrics},
    )
    bundle_dir = save_policy_bundle(
        paths.bundle,
        agent.policy(),
        env_id=cfg.rl.env,
        env_kwargs=cfg.rl.env_kwargs,
        metrics=metrics,
        recipe=cfg.model_dump(mode="json"),
        extra={"training": {"env_steps": result.env_steps, "iterations": result.iterations, "seed": cfg.seed}},
    )
    run = RLRun(paths.root, bundle_dir, cfg, result, metrics, time.perf_counter() - started)
    write_run_summary(paths, cfg.name, run.summary(), device=result.device, seconds=run.seconds)
    build_report(paths.root)
    log.info(
        "%s on %s: evaluation return %.1f ± %.1f over %d episodes",
        cfg.rl.algorithm.upper(), cfg.rl.env, metrics["eval_return_mean"], metrics["eval_return_std"], metrics["eval_episodes"],
    )
    return run


def play(bundle: str | Path, *, episodes: int = 10, seed: int = 0) -> dict[str, Any]:
    """Run a trained policy for ``episodes`` episodes (deterministic actions) and report the returns.

    Episodes are seeded from ``seed`` apart from the training episodes; the same bundle and seed
    give the same returns.
    """
    if episodes < 1:
        raise RecipeError(f"--episodes must be at least 1, got {episodes}.")
    loaded = load_policy(bundle)
    started = time.perf_counter()
    returns = evaluate_policy(loaded.policy, loaded.env_id, episodes=episodes, seed=seed, env_kwargs=loaded.env_kwargs)
    values = np.asarray(returns)
    return {
        "bundle": str(loaded.path),
        "env": loaded.env_id,
        "algorithm": loaded.meta["policy"]["algorithm"],
        "episodes": episodes,
        "seed": seed,
        "returns": [round(float(r), 4) for r in returns],
        "mean": float(values.mean()),
        "std": float(values.std()),
        "min": float(values.min()),
        "max": float(values.max()),
        "seconds": round(time.perf_counter() - started, 3),
    }
