"""Running statistics that scale what the networks see: observations and rewards.

Both are ``nn.Module``s whose statistics are buffers, so they travel in checkpoints and (the
observation one) in the policy bundle with the weights, as safetensors. They update only while
training; evaluation and ``play`` use them frozen.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["RunningMeanStd", "ObsNormalizer", "RewardScaler", "OBS_CLIP", "NORM_EPS"]

OBS_CLIP = 10.0  # normalised observations are clipped to ±10 std (as in SB3's VecNormalize)
NORM_EPS = 1e-8  # added to the variance before the square root


class RunningMeanStd(nn.Module):
    """Mean and variance of everything seen so far, merged batch by batch (Chan et al.'s parallel rule)."""

    def __init__(self, shape: tuple[int, ...] = ()) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(shape, dtype=torch.float64))
        self.register_buffer("var", torch.ones(shape, dtype=torch.float64))
        self.register_buffer("count", torch.tensor(0.0, dtype=torch.float64))

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        """Merge a batch ``x`` of shape ``(B, *shape)``."""
        x = x.to(torch.float64)
        n = x.shape[0]
        if n == 0:
            return
        batch_mean = x.mean(dim=0)
        batch_var = x.var(dim=0, unbiased=False)
        total = self.count + n
        delta = batch_mean - self.mean
        m2 = self.var * self.count + batch_var * n + delta.pow(2) * self.count * n / total
        self.mean.add_(delta * n / total)
        self.var.copy_(m2 / total)
        self.count.fill_(float(total))


class ObsNormalizer(nn.Module):
    """``forward(obs)``: ``(obs - mean) / std`` clipped to ±``OBS_CLIP``, or ``obs`` unchanged when disabled."""

    def __init__(self, obs_dim: int, *, enabled: bool) -> None:
        super().__init__()
        self.enabled = enabled
        self.stats = RunningMeanStd((obs_dim,))

    def update(self, obs: torch.Tensor) -> None:
        if self.enabled:
            self.stats.update(obs)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        if not self.enabled:
            return obs
        std = torch.sqrt(self.stats.var + NORM_EPS)
        return ((obs.to(torch.float64) - self.stats.mean) / std).clamp(-OBS_CLIP, OBS_CLIP).to(torch.float32)


class RewardScaler(nn.Module):
    """Divide rewards by the running std of the discounted return (per environment), as VecNormalize does.

    Large, long returns (Pendulum's -1,200 per episode) otherwise give the value network targets in
    the hundreds and gradients that swamp the policy's.
    """

    def __init__(self, n_envs: int, gamma: float, *, enabled: bool) -> None:
        super().__init__()
        self.enabled = enabled
        self.gamma = gamma
        self.stats = RunningMeanStd(())
        self.register_buffer("returns", torch.zeros(n_envs, dtype=torch.float64))

    @torch.no_grad()
    def scale(self, reward: torch.Tensor, done: torch.Tensor) -> torch.Tensor:
        """Scaled rewards ``(n_envs,)``; ``done`` marks episodes that ended with this reward."""
        if not self.enabled:
            return reward.to(torch.float32)
        self.returns.mul_(self.gamma).add_(reward.to(torch.float64))
        self.stats.update(self.returns)
        scaled = reward.to(torch.float64) / torch.sqrt(self.stats.var + NORM_EPS)
        self.returns.masked_fill_(done, 0.0)
        return scaled.to(torch.float32)
