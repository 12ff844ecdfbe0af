"""Reinforcement learning on traincraft's machinery: PPO and DQN on Gymnasium environments.

Needs the ``rl`` extra (``pip install 'traincraft[rl]'``, which installs gymnasium).

    from traincraft.rl import PPO
    result = PPO(recipe.rl, seed=recipe.seed, run_dir="runs/cartpole").learn()
    result.eval_mean                     # mean return of the final evaluation episodes

    agent.py      the loop every agent shares: callbacks, metrics, progress, exact-resume checkpoints
    ppo.py, dqn.py, replay.py            the algorithms
    vec_env.py    vectorised environments whose state can be saved as JSON
    normalize.py  running observation and reward statistics
    policy.py     the networks; Policy is what a bundle holds
    bundle.py     the policy bundle (safetensors + JSON) and its loader
    evaluate.py   deterministic evaluation episodes
"""

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {  # imported on first use (PEP 562): loading a policy bundle (serving) pulls in no training code
    "Agent": "traincraft.rl.agent",
    "RLResult": "traincraft.rl.agent",
    "PolicyBundle": "traincraft.rl.bundle",
    "load_policy": "traincraft.rl.bundle",
    "save_policy_bundle": "traincraft.rl.bundle",
    "DQN": "traincraft.rl.dqn",
    "evaluate_policy": "traincraft.rl.evaluate",
    "ActorCritic": "traincraft.rl.policy",
    "Policy": "traincraft.rl.policy",
    "QNetwork": "traincraft.rl.policy",
    "PPO": "traincraft.rl.ppo",
    "SpaceSpec": "traincraft.rl.vec_env",
    "VecEnv": "traincraft.rl.vec_env",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'traincraft.rl' has no attribute '{name}'")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:
    from traincraft.rl.agent import Agent, RLResult
    from traincraft.rl.bundle import PolicyBundle, load_policy, save_policy_bundle
    from traincraft.rl.dqn import DQN
    from traincraft.rl.evaluate import evaluate_policy
    from traincraft.rl.policy import ActorCritic, Policy, QNetwork
    from traincraft.rl.ppo import PPO
    from traincraft.rl.vec_env import SpaceSpec, VecEnv
