"""RL throughput: environment steps per second of traincraft's PPO beside a minimal single-file PPO.

Both run the same algorithm with the same settings on the same environment in the same process:
``--n-envs`` environments, ``--rollout`` steps each per update, ``--epochs`` passes of
``--minibatch``-row Adam steps, a 64-64 tanh actor and critic, GAE. Each is timed from its first
environment step to the end of its last update (set-up and evaluation excluded), interleaved in a
rotating order after a warm-up; every number is the median of ``--repeats`` runs, with
environment steps per CPU-second beside the wall-clock rate (other processes on a shared machine
steal wall time unevenly; with one thread the two agree when the machine is idle).

(a) minimal: the PPO below, written the way a single-file implementation usually is (cleanrl's
    style): gymnasium's own ``SyncVectorEnv``, ``torch.distributions.Categorical``, plain Adam.
(b) traincraft: ``traincraft.rl.PPO`` with the same settings, no run directory (no checkpoints
    or metrics file), progress off.

    python benchmarks/rl_throughput.py                   # CartPole-v1, 40,960 steps, 3 repeats
    python benchmarks/rl_throughput.py --steps 8192 --repeats 1
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time

import numpy as np
import torch
from torch import nn


# --- (a) a minimal single-file PPO ---------------------------------------------------------------
def _layer(layer: nn.Linear, gain: float) -> nn.Linear:
    nn.init.orthogonal_(layer.weight, gain)
    nn.init.zeros_(layer.bias)
    return layer


class MinimalAgent(nn.Module):
    def __init__(self, obs_dim: int, n_actions: int) -> None:
        super().__init__()
        self.critic = nn.Sequential(
            _layer(nn.Linear(obs_dim, 64), 2**0.5), nn.Tanh(), _layer(nn.Linear(64, 64), 2**0.5), nn.Tanh(), _layer(nn.Linear(64, 1), 1.0)
        )
        self.actor = nn.Sequential(
            _layer(nn.Linear(obs_dim, 64), 2**0.5), nn.Tanh(), _layer(nn.Linear(64, 64), 2**0.5), nn.Tanh(), _layer(nn.Linear(64, n_actions), 0.01)
        )

    def value(self, x: torch.Tensor) -> torch.Tensor:
        return self.critic(x).squeeze(-1)

    def act(self, x: torch.Tensor, action: torch.Tensor | None = None):
        dist = torch.distributions.Categorical(logits=self.actor(x))
        if action is None:
            action = dist.sample()
        return action, dist.log_prob(action), dist.entropy(), self.value(x)


def minimal_ppo(env_id: str, total_steps: int, n_envs: int, rollout: int, epochs: int, minibatch: int, seed: int) -> tuple[int, float, float]:
    """Train; return (environment steps, wall seconds, CPU seconds) of the training loop."""
    import gymnasium as gym

    torch.manual_seed(seed)
    envs = gym.vector.SyncVectorEnv(  # same-step reset, the semantics this GAE loop (and traincraft's) assumes
        [lambda: gym.make(env_id) for _ in range(n_envs)], autoreset_mode=gym.vector.AutoresetMode.SAME_STEP
    )
    agent = MinimalAgent(int(np.prod(envs.single_observation_space.shape)), int(envs.single_action_space.n))
    optimizer = torch.optim.Adam(agent.parameters(), lr=2.5e-4, eps=1e-5)
    gamma, lam, clip = 0.99, 0.95, 0.2
    obs_buf = torch.zeros((rollout, n_envs) + envs.single_observation_space.shape)
    act_buf = torch.zeros((rollout, n_envs), dtype=torch.long)
    logp_buf, rew_buf, done_buf, val_buf = (torch.zeros((rollout, n_envs)) for _ in range(4))
    next_obs = torch.tensor(envs.reset(seed=seed)[0], dtype=torch.float32)
    next_done = torch.zeros(n_envs)
    steps = 0
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(total_steps // (rollout * n_envs)):
        for t in range(rollout):
            obs_buf[t], done_buf[t] = next_obs, next_done
            with torch.no_grad():
                action, logp, _, value = agent.act(next_obs)
            val_buf[t], act_buf[t], logp_buf[t] = value, action, logp
            obs, reward, term, trunc, _ = envs.step(action.numpy())
            rew_buf[t] = torch.tensor(reward, dtype=torch.float32)
            next_obs = torch.tensor(obs, dtype=torch.float32)
            next_done = torch.tensor(np.logical_or(term, trunc), dtype=torch.float32)
            steps += n_envs
        with torch.no_grad():
            next_value = agent.value(next_obs)
            adv = torch.zeros_like(rew_buf)
            last = torch.zeros(n_envs)
            for t in reversed(range(rollout)):
                live = 1.0 - (next_done if t == rollout - 1 else done_buf[t + 1])
                nv = next_value if t == rollout - 1 else val_buf[t + 1]
                delta = rew_buf[t] + gamma * nv * live - val_buf[t]
                last = delta + gamma * lam * live * last
                adv[t] = last
            returns = adv + val_buf
        b_obs = obs_buf.reshape((-1,) + envs.single_observation_space.shape)
        b_act, b_logp, b_adv, b_ret = act_buf.reshape(-1), logp_buf.reshape(-1), adv.reshape(-1), returns.reshape(-1)
        for _ in range(epochs):
            for idx in torch.randperm(b_obs.shape[0]).split(minibatch):
                _, logp, entropy, value = agent.act(b_obs[idx], b_act[idx])
                ratio = (logp - b_logp[idx]).exp()
                a = (b_adv[idx] - b_adv[idx].mean()) / (b_adv[idx].std() + 1e-8)
                pg = torch.max(-a * ratio, -a * ratio.clamp(1 - clip, 1 + clip)).mean()
                loss = pg + 0.5 * 0.5 * (value - b_ret[idx]).pow(2).mean() - 0.0 * entropy.mean()
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(agent.parameters(), 0.5)
                optimizer.step()
    result = steps, time.perf_counter() - wall, time.process_time() - cpu
    envs.close()
    return result


# --- (b) traincraft ----------------------------------------------------------------------------------
def traincraft_ppo(env_id: str, total_steps: int, n_envs: int, rollout: int, epochs: int, minibatch: int, seed: int) -> tuple[int, float, float]:
    from traincraft.recipe._unsupervised import RLConfig
    from traincraft.rl import PPO
    from traincraft.training import Callback

    class Clock(Callback):
        def on_fit_start(self, trainer):
            self.wall, self.cpu = time.perf_counter(), time.process_time()

        def on_epoch_end(self, trainer, epoch, logs):
            self.wall_end, self.cpu_end = time.perf_counter(), time.process_time()

    clock = Clock()
    cfg = RLConfig(
        env=env_id, total_steps=total_steps, n_envs=n_envs, lr=2.5e-4, eval_episodes=1, threads=torch.get_num_threads(),
        ppo={"rollout_steps": rollout, "epochs": epochs, "minibatch_size": minibatch},
    )
    result = PPO(cfg, seed=seed, callbacks=[clock]).learn()
    return result.env_steps, clock.wall_end - clock.wall, clock.cpu_end - clock.cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="CartPole-v1")
    parser.add_argument("--steps", type=int, default=40_960)
    parser.add_argument("--n-envs", type=int, default=8)
    parser.add_argument("--rollout", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--minibatch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    runners = {"minimal": minimal_ppo, "traincraft": traincraft_ppo}
    settings = (args.env, args.steps, args.n_envs, args.rollout, args.epochs, args.minibatch)
    warm = (args.env, args.n_envs * args.rollout, args.n_envs, args.rollout, 1, args.minibatch)
    for run in runners.values():  # warm-up: imports, allocator, first-call costs
        run(*warm, 0)
    rates: dict[str, list[tuple[float, float]]] = {name: [] for name in runners}
    names = list(runners)
    for rep in range(args.repeats):
        for name in names[rep % len(names):] + names[: rep % len(names)]:
            steps, wall, cpu = runners[name](*settings, rep)
            rates[name].append((steps / wall, steps / cpu))
            print(f"  repeat {rep + 1} {name:<10} {steps:,} steps  {wall:6.2f} s wall  {cpu:6.2f} s CPU  {steps / wall:8,.0f} steps/s", flush=True)
    med = {name: (statistics.median(w for w, _ in r), statistics.median(c for _, c in r)) for name, r in rates.items()}
    print(f"\n{args.env}, {args.steps:,} steps, {args.n_envs} envs x {args.rollout} steps, {args.epochs} epochs of "
          f"{args.minibatch}-row minibatches, {args.threads} thread(s), median of {args.repeats}:")
    for name, (wall_rate, cpu_rate) in med.items():
        print(f"  {name:<10} {wall_rate:9,.0f} env steps/s   {cpu_rate:9,.0f} per CPU-second")
    ratio_wall = med["traincraft"][0] / med["minimal"][0]
    ratio_cpu = med["traincraft"][1] / med["minimal"][1]
    print(f"  traincraft / minimal: {ratio_wall:.2f}x (wall), {ratio_cpu:.2f}x (per CPU-second)")


if __name__ == "__main__":
    main()
