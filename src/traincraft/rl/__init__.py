"""Reinforcement learning on traincraft's machinery: PPO and DQN on Gymnasium environments.

Needs the ``rl`` extra (``pip install 'traincraft[rl]'``, which installs gymnasium).

    from traincraft.rl import PPO
    result = PPO(recipe.rl, seed=recipe.seed, run_dir="runs/cartpole").learn()
    result.eval_mean                     # mean return of the final evaluation episodes
"""

from traincraft.rl.agent import Agent, RLResult
from traincraft.rl.dqn import DQN
from traincraft.rl.evaluate import evaluate_policy
from traincraft.rl.policy import ActorCritic, Policy, QNetwork
from traincraft.rl.ppo import PPO
from traincraft.rl.vec_env import SpaceSpec, VecEnv

__all__ = ["DQN", "PPO", "ActorCritic", "Agent", "Policy", "QNetwork", "RLResult", "SpaceSpec", "VecEnv", "evaluate_policy"]
