"""Small RL configs shared by the rl tests and the resume child script."""

from __future__ import annotations

from typing import Any

import torch

from traincraft.recipe._unsupervised import RLConfig


def ppo_config(**overrides: Any) -> RLConfig:
    """A PPO run of a few 64-step iterations on CartPole (4 envs x 16 steps), one thread."""
    base: dict[str, Any] = {
        "env": "CartPole-v1",
        "total_steps": 320,
        "n_envs": 4,
        "hidden": [16],
        "lr": 3e-3,
        "eval_episodes": 2,
        "checkpoint_every": 64,
        "threads": 1,
        "ppo": {"rollout_steps": 16, "epochs": 2, "minibatch_size": 32},
    }
    ppo = {**base["ppo"], **overrides.pop("ppo", {})}
    return RLConfig(**{**base, **overrides, "ppo": ppo})


def dqn_config(**overrides: Any) -> RLConfig:
    """A DQN run of a few 50-step iterations on CartPole (2 envs), learning after 40 steps, one thread."""
    base: dict[str, Any] = {
        "env": "CartPole-v1",
        "algorithm": "dqn",
        "total_steps": 300,
        "n_envs": 2,
        "hidden": [16],
        "activation": "relu",
        "lr": 1e-3,
        "eval_episodes": 2,
        "checkpoint_every": 50,
        "threads": 1,
        "dqn": {"buffer_size": 128, "learning_starts": 40, "batch_size": 16, "train_freq": 4, "gradient_steps": 2,
                "target_update_interval": 20, "iteration_steps": 50},
    }
    dqn = {**base["dqn"], **overrides.pop("dqn", {})}
    return RLConfig(**{**base, **overrides, "dqn": dqn})


def same_tensors(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def without_perf(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if not k.startswith("perf/")} for r in records]
