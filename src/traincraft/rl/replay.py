"""DQN's replay buffer: a ring of transitions held as module buffers, so checkpoints save it as safetensors.

Observations are stored raw (before normalisation) and normalised when sampled, with the current
statistics. The buffer is preallocated: its size in a checkpoint is fixed by ``capacity``,
``capacity * (2 * obs_dim + 3) * 4`` bytes (2 MB for 50,000 CartPole transitions).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ReplayBuffer"]


class ReplayBuffer(nn.Module):
    """A fixed-capacity ring: ``add`` a batch of transitions, ``sample`` uniformly with torch's generator."""

    def __init__(self, capacity: int, obs_dim: int) -> None:
        super().__init__()
        self.capacity = int(capacity)
        self.register_buffer("obs", torch.zeros((capacity, obs_dim)))
        self.register_buffer("next_obs", torch.zeros((capacity, obs_dim)))
        self.register_buffer("actions", torch.zeros(capacity, dtype=torch.int64))
        self.register_buffer("rewards", torch.zeros(capacity))
        self.register_buffer("terminated", torch.zeros(capacity))
        self.register_buffer("cursor", torch.zeros((), dtype=torch.int64))  # next slot to write
        self.register_buffer("filled", torch.zeros((), dtype=torch.int64))  # slots holding a transition

    def __len__(self) -> int:
        return int(self.filled)

    @torch.no_grad()
    def add(
        self,
        obs: torch.Tensor,
        actions: torch.Tensor,
        rewards: torch.Tensor,
        next_obs: torch.Tensor,
        terminated: torch.Tensor,
    ) -> None:
        """Append ``B`` transitions (``obs (B, D)``, ``actions (B,)``, ...), overwriting the oldest when full."""
        b = obs.shape[0]
        slots = (int(self.cursor) + torch.arange(b, device=self.obs.device)) % self.capacity
        self.obs[slots] = obs.to(self.obs)
        self.next_obs[slots] = next_obs.to(self.next_obs)
        self.actions[slots] = actions.to(self.actions)
        self.rewards[slots] = rewards.to(self.rewards)
        self.terminated[slots] = terminated.to(self.terminated)
        self.cursor.fill_((int(self.cursor) + b) % self.capacity)
        self.filled.fill_(min(self.capacity, int(self.filled) + b))

    def sample(self, batch_size: int) -> dict[str, torch.Tensor]:
        """``batch_size`` transitions drawn uniformly (with replacement) from those stored."""
        idx = torch.randint(0, int(self.filled), (batch_size,), device=self.obs.device)
        return {
            "obs": self.obs[idx],
            "actions": self.actions[idx],
            "rewards": self.rewards[idx],
            "next_obs": self.next_obs[idx],
            "terminated": self.terminated[idx],
        }
