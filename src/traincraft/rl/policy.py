"""The networks that act: PPO's actor-critic, DQN's Q-network, and :class:`Policy`, what a bundle holds.

A network is built from a JSON spec (``{"algorithm", "space", "hidden", "activation", ...}``),
so a bundle is ``model.safetensors`` + that spec, and loading one runs no code.

The action distributions are written out rather than taken from ``torch.distributions``: a
categorical over logits, or a diagonal Gaussian with a state-independent log std; each is a few
tensor operations, and sampling draws from torch's global generator, which checkpoints save.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from traincraft.errors import BundleError
from traincraft.rl.normalize import ObsNormalizer
from traincraft.rl.vec_env import SpaceSpec

__all__ = ["ActorCritic", "QNetwork", "Policy", "mlp", "build_network", "ACTIVATIONS"]

ACTIVATIONS: dict[str, type[nn.Module]] = {"tanh": nn.Tanh, "relu": nn.ReLU}
HIDDEN_GAIN = math.sqrt(2.0)  # orthogonal init gains from "The 37 implementation details of PPO"
ACTOR_GAIN = 0.01  # near-uniform initial policy
CRITIC_GAIN = 1.0
_LOG_2PI = math.log(2.0 * math.pi)


def mlp(in_dim: int, hidden: list[int], out_dim: int, activation: str, *, out_gain: float | None = None) -> nn.Sequential:
    """Linear layers with ``activation`` between them; orthogonal init when ``out_gain`` is given."""
    act = ACTIVATIONS[activation]
    layers: list[nn.Module] = []
    width = in_dim
    for h in hidden:
        layers += [nn.Linear(width, h), act()]
        width = h
    layers.append(nn.Linear(width, out_dim))
    if out_gain is not None:
        linears = [m for m in layers if isinstance(m, nn.Linear)]
        for i, layer in enumerate(linears):
            nn.init.orthogonal_(layer.weight, gain=out_gain if i == len(linears) - 1 else HIDDEN_GAIN)
            nn.init.zeros_(layer.bias)
    return nn.Sequential(*layers)


class ActorCritic(nn.Module):
    """Separate actor and critic MLPs over the (normalised) observation.

    Discrete actions: the actor gives logits ``(B, n)``. Box actions: the actor gives the mean
    ``(B, action_dim)`` of a Gaussian whose log std is a learned vector.
    """

    def __init__(self, space: SpaceSpec, hidden: list[int], activation: str, *, log_std_init: float = 0.0) -> None:
        super().__init__()
        self.discrete = space.action_kind == "discrete"
        out = int(space.action_n) if self.discrete else space.action_dim
        self.actor = mlp(space.obs_dim, hidden, out, activation, out_gain=ACTOR_GAIN)
        self.critic = mlp(space.obs_dim, hidden, 1, activation, out_gain=CRITIC_GAIN)
        if not self.discrete:
            self.log_std = nn.Parameter(torch.full((out,), float(log_std_init)))

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.critic(obs).squeeze(-1)  # (B,)

    def sample(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(action, log_prob, value)`` for a batch: a drawn action, its log-probability, the state value."""
        out = self.actor(obs)  # (B, n) logits or (B, action_dim) means
        if self.discrete:
            logp_all = F.log_softmax(out, dim=-1)
            action = torch.multinomial(logp_all.exp(), 1).squeeze(-1)  # (B,)
            logp = logp_all.gather(-1, action.unsqueeze(-1)).squeeze(-1)
        else:
            action = out + self.log_std.exp() * torch.randn_like(out)  # (B, action_dim)
            logp = self._gaussian_log_prob(out, action)
        return action, logp, self.value(obs)

    def evaluate(self, obs: torch.Tensor, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(log_prob, entropy, value)`` of given actions, with gradients, for the PPO update."""
        out = self.actor(obs)
        if self.discrete:
            logp_all = F.log_softmax(out, dim=-1)
            logp = logp_all.gather(-1, action.long().unsqueeze(-1)).squeeze(-1)
            entropy = -(logp_all.exp() * logp_all).sum(-1)
        else:
            logp = self._gaussian_log_prob(out, action)
            entropy = (0.5 + 0.5 * _LOG_2PI + self.log_std).sum().expand(out.shape[0])
        return logp, entropy, self.value(obs)

    def _gaussian_log_prob(self, mean: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        log_std = self.log_std
        z = (action - mean) * torch.exp(-log_std)
        return (-0.5 * z.pow(2) - log_std - 0.5 * _LOG_2PI).sum(-1)  # (B,)

    def act(self, obs: torch.Tensor) -> torch.Tensor:
        """The deterministic action: the most likely class, or the Gaussian's mean."""
        out = self.actor(obs)
        return out.argmax(-1) if self.discrete else out


class QNetwork(nn.Module):
    """``forward(obs) -> (B, n_actions)`` action values, for DQN (discrete actions only)."""

    def __init__(self, space: SpaceSpec, hidden: list[int], activation: str) -> None:
        super().__init__()
        self.net = mlp(space.obs_dim, hidden, int(space.action_n or 0), activation)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs)

    def act(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs).argmax(-1)


def build_network(spec: dict[str, Any]) -> nn.Module:
    """The network a policy spec describes (see :meth:`Policy.spec`)."""
    space = SpaceSpec.from_json(spec["space"])
    if spec["algorithm"] == "ppo":
        return ActorCritic(space, list(spec["hidden"]), spec["activation"], log_std_init=float(spec.get("log_std_init", 0.0)))
    if spec["algorithm"] == "dqn":
        return QNetwork(space, list(spec["hidden"]), spec["activation"])
    raise BundleError(f"Unknown policy algorithm {spec['algorithm']!r} in the bundle; this traincraft knows ppo and dqn.")


class Policy(nn.Module):
    """What acts in ``play``: the observation normaliser and the network, in eval mode, deterministic."""

    def __init__(self, spec: dict[str, Any], network: nn.Module | None = None, obs_norm: ObsNormalizer | None = None) -> None:
        super().__init__()
        self._spec = dict(spec)
        self.space = SpaceSpec.from_json(spec["space"])
        self.network = network if network is not None else build_network(spec)
        self.obs_norm = obs_norm if obs_norm is not None else ObsNormalizer(self.space.obs_dim, enabled=bool(spec["normalize_obs"]))

    def spec(self) -> dict[str, Any]:
        """The JSON this policy is rebuilt from."""
        return dict(self._spec)

    @torch.no_grad()
    def act(self, obs: np.ndarray | torch.Tensor) -> np.ndarray:
        """Deterministic actions for observations ``(B, obs_dim)``: ints ``(B,)`` or floats ``(B, action_dim)``."""
        x = torch.as_tensor(np.asarray(obs, dtype=np.float32))
        action = self.network.act(self.obs_norm(x))
        return action.cpu().numpy()
