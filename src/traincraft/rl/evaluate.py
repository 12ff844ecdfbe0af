"""Evaluating a policy: whole episodes, deterministic actions, seeds apart from training's."""

from __future__ import annotations

from typing import Any

import numpy as np

from traincraft.errors import RecipeError
from traincraft.rl._gym import make_env
from traincraft.rl.policy import Policy
from traincraft.rl.vec_env import env_seed

__all__ = ["evaluate_policy", "EVAL_SEED_OFFSET", "EVAL_MAX_PARALLEL"]

EVAL_SEED_OFFSET = 1_000_003  # evaluation episodes are seeded from seed + this: never the training episodes' seeds
EVAL_MAX_PARALLEL = 32  # episodes run side by side: one forward pass serves all of them


def evaluate_policy(
    policy: Policy,
    env_id: str,
    *,
    episodes: int,
    seed: int = 0,
    env_kwargs: dict[str, Any] | None = None,
) -> list[float]:
    """The return of each of ``episodes`` episodes (in order), acting deterministically.

    Episode ``i`` starts from ``reset(seed=env_seed(seed + EVAL_SEED_OFFSET, i))``, so the same
    policy and seed give the same returns, and no evaluation episode repeats a training one.
    """
    if episodes < 1:
        raise RecipeError(f"The number of evaluation episodes must be at least 1, got {episodes}.")
    was_training = policy.training
    policy.eval()
    returns: list[float] = []
    try:
        for start in range(0, episodes, EVAL_MAX_PARALLEL):
            count = min(EVAL_MAX_PARALLEL, episodes - start)
            returns += _run_batch(policy, env_id, env_kwargs, [env_seed(seed + EVAL_SEED_OFFSET, start + i) for i in range(count)])
    finally:
        policy.train(was_training)
    return returns


def _run_batch(policy: Policy, env_id: str, env_kwargs: dict[str, Any] | None, seeds: list[int]) -> list[float]:
    space = policy.space
    envs = [make_env(env_id, env_kwargs) for _ in seeds]
    try:
        obs = np.stack([space.encode_obs(env.reset(seed=s)[0]) for env, s in zip(envs, seeds)])
        totals = np.zeros(len(envs), dtype=np.float64)
        active = np.ones(len(envs), dtype=bool)
        while active.any():
            rows = np.flatnonzero(active)
            actions = policy.act(obs[rows])
            for row, action in zip(rows, actions):
                o, r, term, trunc, _ = envs[row].step(space.env_action(action))
                totals[row] += float(r)
                obs[row] = space.encode_obs(o)
                if term or trunc:
                    active[row] = False
        return totals.tolist()
    finally:
        for env in envs:
            env.close()
