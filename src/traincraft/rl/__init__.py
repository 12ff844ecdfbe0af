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

from traincraft.rl.agent import Agent, RLResult
from traincraft.rl.bundle import PolicyBundle, load_policy, save_policy_bundle
from traincraft.rl.dqn import DQN
from traincraft.rl.evaluate import evaluate_policy
from traincraft.rl.policy import ActorCritic, Policy, QNetwork
from traincraft.rl.ppo import PPO
from traincraft.rl.vec_env import SpaceSpec, VecEnv

__all__ = [
    "DQN",
    "PPO",
    "ActorCritic",
    "Agent",
    "Policy",
    "PolicyBundle",
    "QNetwork",
    "RLResult",
    "SpaceSpec",
    "VecEnv",
    "evaluate_policy",
    "load_policy",
    "save_policy_bundle",
]
