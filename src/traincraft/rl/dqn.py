"""DQN: a Q-network learned from a replay buffer against a target network, epsilon-greedy exploration.

Per environment step: act epsilon-greedily (random actions until ``learning_starts``), store the
transition (the observation after a time-limit cut is the episode's final one, and only a real
termination stops the bootstrap). Every ``train_freq`` steps, ``gradient_steps`` Adam steps on
the Huber loss between ``Q(s, a)`` and ``r + gamma * Q_target(s', argmax_a' Q(s', a'))`` (double
Q-learning; plain DQN takes the target's own max). Every ``target_update_interval`` steps the
target moves to the online network (a copy, or a Polyak blend when ``tau`` < 1).
"""

from __future__ import annotations

import copy
import logging
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from traincraft.errors import RecipeError
from traincraft.rl.agent import Agent
from traincraft.rl.normalize import ObsNormalizer
from traincraft.rl.policy import Policy, QNetwork
from traincraft.rl.replay import ReplayBuffer

__all__ = ["DQN"]

log = logging.getLogger(__name__)


class DQN(Agent):
    """Deep Q-learning for discrete actions; see the module docstring. ``DQN(recipe.rl, seed=...).learn()``."""

    algorithm = "dqn"

    @property
    def steps_per_iteration(self) -> int:
        return self._vector_steps * self.config.n_envs

    @property
    def _vector_steps(self) -> int:
        return max(1, -(-self.config.dqn.iteration_steps // self.config.n_envs))

    def _build(self) -> None:
        cfg = self.config
        assert self.envs is not None
        space = self.envs.spec
        if space.action_kind != "discrete":
            raise RecipeError(
                f"DQN needs discrete actions, but '{cfg.env}' has a Box (continuous) action space. "
                "Use rl.algorithm: ppo for continuous actions."
            )
        if cfg.normalize_reward:
            log.warning("rl.normalize_reward is ignored by DQN (its Huber loss bounds large errors); it applies to PPO.")
        self.q = QNetwork(space, list(cfg.hidden), cfg.activation)
        self.target = copy.deepcopy(self.q)
        self.target.requires_grad_(False)
        self.obs_norm = ObsNormalizer(space.obs_dim, enabled=cfg.normalize_obs)
        self.replay = ReplayBuffer(cfg.dqn.buffer_size, space.obs_dim)
        self.model = nn.ModuleDict({"q": self.q, "target": self.target, "obs_norm": self.obs_norm, "replay": self.replay})
        self.optimizer = torch.optim.Adam(self.q.parameters(), lr=cfg.lr, fused=True)
        self._since_train = 0
        self._since_target = 0

    def policy(self) -> Policy:
        assert self.envs is not None
        spec = {
            "algorithm": "dqn",
            "space": self.envs.spec.to_json(),
            "hidden": list(self.config.hidden),
            "activation": self.config.activation,
            "normalize_obs": self.config.normalize_obs,
        }
        return Policy(spec, network=self.q, obs_norm=self.obs_norm)

    def _state(self) -> dict[str, Any]:
        return {"since_train": self._since_train, "since_target": self._since_target}

    def _load_state(self, state: dict[str, Any]) -> None:
        self._since_train = int(state.get("since_train", 0))
        self._since_target = int(state.get("since_target", 0))

    def epsilon(self) -> float:
        """Exploration rate after ``global_step`` steps: linear from the initial to the final value."""
        dqn = self.config.dqn
        span = dqn.exploration_fraction * self.config.total_steps
        share = min(1.0, self.global_step / span) if span > 0 else 1.0
        return dqn.exploration_initial_eps + share * (dqn.exploration_final_eps - dqn.exploration_initial_eps)

    # --- one iteration ----------------------------------------------------------------------------
    def _iteration(self, iteration: int) -> dict[str, float]:
        cfg, dqn = self.config, self.config.dqn
        assert self.envs is not None and self.optimizer is not None
        envs, dev, n = self.envs, self.device, self.config.n_envs
        lr = self._lr_at(iteration)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        n_actions = int(envs.spec.action_n or 0)
        loss_sum = torch.zeros((), dtype=torch.float64)
        q_sum = torch.zeros((), dtype=torch.float64)
        updates = 0
        for _ in range(self._vector_steps):
            raw = torch.tensor(envs.obs, device=dev)  # a copy: envs.step overwrites envs.obs in place
            self.obs_norm.update(raw)
            random_actions = torch.randint(0, n_actions, (n,), device=dev)
            if self.global_step < dqn.learning_starts:
                actions = random_actions
            else:
                explore = torch.rand(n, device=dev) < self.epsilon()
                with torch.no_grad():
                    greedy = self.q.act(self.obs_norm(raw))
                actions = torch.where(explore, random_actions, greedy)
            result = envs.step(actions.cpu().numpy())
            self._record_episodes(result.episodes)
            self.replay.add(
                raw,
                actions,
                torch.from_numpy(result.reward).float(),
                torch.from_numpy(result.final_obs),
                torch.from_numpy(result.terminated).float(),
            )
            self.global_step += n
            if self.global_step < dqn.learning_starts:
                continue
            self._since_train += n
            while self._since_train >= dqn.train_freq:
                self._since_train -= dqn.train_freq
                for _ in range(dqn.gradient_steps):
                    loss, q_mean = self._gradient_step()
                    loss_sum += loss.detach().double()
                    q_sum += q_mean.double()
                    updates += 1
            self._since_target += n
            while self._since_target >= dqn.target_update_interval:
                self._since_target -= dqn.target_update_interval
                self._update_target()
        out: dict[str, float] = {"train/epsilon": self.epsilon(), "train/updates": updates, "rl/replay_size": len(self.replay)}
        out["train/loss"] = float(loss_sum / updates) if updates else math.nan
        out["train/q_mean"] = float(q_sum / updates) if updates else math.nan
        return out

    def _gradient_step(self) -> tuple[torch.Tensor, torch.Tensor]:
        cfg, dqn = self.config, self.config.dqn
        assert self.optimizer is not None
        batch = self.replay.sample(dqn.batch_size)
        obs = self.obs_norm(batch["obs"])
        next_obs = self.obs_norm(batch["next_obs"])
        with torch.no_grad():
            next_target = self.target(next_obs)  # (B, n_actions)
            if dqn.double_q:
                best = self.q(next_obs).argmax(-1, keepdim=True)
                next_value = next_target.gather(-1, best).squeeze(-1)
            else:
                next_value = next_target.max(-1).values
            target = batch["rewards"] + cfg.gamma * (1.0 - batch["terminated"]) * next_value
        q_taken = self.q(obs).gather(-1, batch["actions"].unsqueeze(-1)).squeeze(-1)  # (B,)
        loss = F.smooth_l1_loss(q_taken, target)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.q.parameters(), dqn.max_grad_norm)
        self.optimizer.step()
        self._batch_end(loss)
        return loss, q_taken.detach().mean()

    @torch.no_grad()
    def _update_target(self) -> None:
        tau = self.config.dqn.tau
        for target, online in zip(self.target.parameters(), self.q.parameters()):
            if tau >= 1.0:
                target.copy_(online)
            else:
                target.lerp_(online, tau)
