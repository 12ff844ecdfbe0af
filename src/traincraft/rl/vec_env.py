"""A synchronous vector of Gymnasium environments whose whole state can be saved as JSON.

``VecEnv(env_id, n, seed=s)`` steps ``n`` copies in one process (classic-control steps take
microseconds, so worker processes would cost more than they save). Finished episodes are reset in
the same step (``final_obs`` keeps the last observation of a truncated episode, so the learner
can bootstrap from it), and each finished episode's return and length are reported.

Exact resume needs the environments' inner state: :func:`capture_env_state` walks the wrapper
chain and keeps every plain value (numbers, strings, NumPy arrays and generators), which is the
whole state of the classic-control environments. An environment holding anything else (a physics
engine object, say) is *opaque*: its state cannot be saved, and a resumed run resets it instead,
with a warning that the run will differ from a straight one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from traincraft.errors import CheckpointError, RecipeError
from traincraft.rl._gym import import_gymnasium, make_env

__all__ = ["VecEnv", "StepResult", "SpaceSpec", "capture_env_state", "restore_env_state", "env_seed"]

log = logging.getLogger(__name__)

# Attributes that describe an environment rather than hold its changing state; never saved.
_STATIC = frozenset(
    {
        "env", "_saved_kwargs", "spec", "_cached_spec", "metadata", "_metadata", "action_space",
        "observation_space", "_action_space", "_observation_space", "render_mode", "screen", "clock",
        "_previous_data", "viewer", "window", "surf",
    }
)


def env_seed(seed: int, index: int) -> int:
    """A well-mixed 32-bit seed for environment ``index`` of a run seeded ``seed``."""
    return int(np.random.SeedSequence([seed & (2**63 - 1), index]).generate_state(1)[0])


@dataclass(frozen=True)
class SpaceSpec:
    """What the learner needs to know of the spaces, as JSON: observation size and the action kind."""

    obs_dim: int
    obs_kind: str  # "box" (flattened floats) or "discrete" (one-hot of n)
    obs_n: int | None
    action_kind: str  # "discrete" or "box"
    action_n: int | None  # number of discrete actions
    action_shape: tuple[int, ...] = ()
    action_low: tuple[float, ...] = ()
    action_high: tuple[float, ...] = ()

    @property
    def action_dim(self) -> int:
        return int(np.prod(self.action_shape)) if self.action_kind == "box" else 1

    def to_json(self) -> dict[str, Any]:
        return {
            "obs_dim": self.obs_dim,
            "obs_kind": self.obs_kind,
            "obs_n": self.obs_n,
            "action_kind": self.action_kind,
            "action_n": self.action_n,
            "action_shape": list(self.action_shape),
            "action_low": list(self.action_low),
            "action_high": list(self.action_high),
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> SpaceSpec:
        return cls(
            obs_dim=int(d["obs_dim"]),
            obs_kind=str(d["obs_kind"]),
            obs_n=None if d.get("obs_n") is None else int(d["obs_n"]),
            action_kind=str(d["action_kind"]),
            action_n=None if d.get("action_n") is None else int(d["action_n"]),
            action_shape=tuple(int(v) for v in d.get("action_shape", [])),
            action_low=tuple(float(v) for v in d.get("action_low", [])),
            action_high=tuple(float(v) for v in d.get("action_high", [])),
        )

    @classmethod
    def of(cls, env: Any, env_id: str) -> SpaceSpec:
        """The spec of ``env``'s spaces; spaces other than Box and Discrete are a RecipeError."""
        spaces = import_gymnasium().spaces
        obs_space, act_space = env.observation_space, env.action_space
        if isinstance(obs_space, spaces.Box):
            obs_kind, obs_dim, obs_n = "box", int(np.prod(obs_space.shape)), None
        elif isinstance(obs_space, spaces.Discrete):
            obs_kind, obs_dim, obs_n = "discrete", int(obs_space.n), int(obs_space.n)
        else:
            raise RecipeError(
                f"The environment '{env_id}' has a {type(obs_space).__name__} observation space; traincraft's "
                "agents take Box (vectors) or Discrete observations. Wrap it (e.g. FlattenObservation) first."
            )
        if isinstance(act_space, spaces.Discrete):
            return cls(obs_dim, obs_kind, obs_n, "discrete", int(act_space.n))
        if isinstance(act_space, spaces.Box):
            low, high = act_space.low.reshape(-1), act_space.high.reshape(-1)
            if not (np.isfinite(low).all() and np.isfinite(high).all()):
                raise RecipeError(
                    f"The environment '{env_id}' has an unbounded Box action space; PPO here needs finite "
                    "action bounds to clip its Gaussian actions into."
                )
            return cls(
                obs_dim, obs_kind, obs_n, "box", None,
                tuple(int(s) for s in act_space.shape), tuple(float(v) for v in low), tuple(float(v) for v in high),
            )
        raise RecipeError(
            f"The environment '{env_id}' has a {type(act_space).__name__} action space; traincraft's agents take "
            "Discrete (PPO, DQN) or Box (PPO) actions."
        )

    def encode_obs(self, obs: Any) -> np.ndarray:
        """One observation as float32 ``(obs_dim,)``: flattened, or one-hot for a Discrete space."""
        if self.obs_kind == "discrete":
            out = np.zeros(self.obs_dim, dtype=np.float32)
            out[int(obs)] = 1.0
            return out
        return np.asarray(obs, dtype=np.float32).reshape(-1)

    def env_action(self, action: np.ndarray) -> Any:
        """What ``env.step`` takes for one row of the learner's actions: an int, or a clipped array."""
        if self.action_kind == "discrete":
            return int(action)
        low = np.asarray(self.action_low, dtype=np.float32)
        high = np.asarray(self.action_high, dtype=np.float32)
        return np.clip(np.asarray(action, dtype=np.float32).reshape(-1), low, high).reshape(self.action_shape)


@dataclass
class StepResult:
    """One step of every environment."""

    obs: np.ndarray  # (n, obs_dim) float32: the next observations (after a reset where an episode ended)
    reward: np.ndarray  # (n,) float64
    terminated: np.ndarray  # (n,) bool: the episode reached a terminal state (no bootstrap)
    truncated: np.ndarray  # (n,) bool: the episode was cut (time limit): bootstrap from final_obs
    final_obs: np.ndarray  # (n, obs_dim) float32: the last observation of an episode that ended here, else obs
    episodes: list[tuple[float, int]] = field(default_factory=list)  # (return, length) of episodes ending here


# --- saving an environment's state --------------------------------------------------------------
def _encode(value: Any) -> tuple[bool, Any]:
    """``(ok, json)`` for one attribute value; ok is False for a value that cannot be saved."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return True, value
    if isinstance(value, np.generic):
        return True, {"__np_scalar__": value.item(), "dtype": str(value.dtype)}
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            return False, None
        return True, {"__ndarray__": value.tolist(), "dtype": str(value.dtype), "shape": list(value.shape)}
    if isinstance(value, np.random.Generator):
        return True, {"__generator__": value.bit_generator.state}
    if isinstance(value, (tuple, list)):
        parts = [_encode(v) for v in value]
        if not all(ok for ok, _ in parts):
            return False, None
        return True, {"__seq__": [v for _, v in parts], "tuple": isinstance(value, tuple)}
    return False, None


def _decode(value: Any, current: Any) -> Any:
    if not isinstance(value, dict):
        return value
    if "__ndarray__" in value:
        return np.asarray(value["__ndarray__"], dtype=value["dtype"]).reshape(value["shape"])
    if "__np_scalar__" in value:
        return np.dtype(value["dtype"]).type(value["__np_scalar__"])
    if "__generator__" in value:
        gen = current if isinstance(current, np.random.Generator) else np.random.Generator(np.random.PCG64())
        gen.bit_generator.state = value["__generator__"]
        return gen
    if "__seq__" in value:
        items = [_decode(v, None) for v in value["__seq__"]]
        return tuple(items) if value["tuple"] else items
    raise CheckpointError(f"Unexpected saved environment value {value!r:.200}.")


def _layers(env: Any) -> list[Any]:
    layers = [env]
    while hasattr(layers[-1], "env"):
        layers.append(layers[-1].env)
    return layers


def capture_env_state(env: Any) -> dict[str, Any]:
    """``{"layers": [{attr: json}...], "opaque": [names]}`` for ``env`` and every wrapper around it.

    ``opaque`` lists attributes whose values could not be saved; when it is not empty the state is
    incomplete and :func:`restore_env_state` refuses it.
    """
    layers = []
    opaque: list[str] = []
    for depth, layer in enumerate(_layers(env)):
        saved: dict[str, Any] = {"class": type(layer).__name__, "attrs": {}}
        for name, value in vars(layer).items():
            if name in _STATIC:
                continue
            ok, encoded = _encode(value)
            if ok:
                saved["attrs"][name] = encoded
            else:
                opaque.append(f"{type(layer).__name__}.{name} ({type(value).__name__})")
        layers.append(saved)
    return {"layers": layers, "opaque": opaque}


def restore_env_state(env: Any, state: dict[str, Any]) -> None:
    """Put a state from :func:`capture_env_state` back into a freshly made ``env`` of the same id."""
    layers = _layers(env)
    saved_layers = state.get("layers", [])
    classes = [type(layer).__name__ for layer in layers]
    saved_classes = [s.get("class") for s in saved_layers]
    if classes != saved_classes:
        raise CheckpointError(
            f"The saved environment has wrappers {saved_classes} but this one has {classes}; "
            "resume with the same rl.env and rl.env_kwargs."
        )
    for layer, saved in zip(layers, saved_layers):
        for name, value in saved["attrs"].items():
            setattr(layer, name, _decode(value, getattr(layer, name, None)))


# --- the vector -----------------------------------------------------------------------------------
class VecEnv:
    """``n`` environments stepped together; ``reset()`` once, then ``step(actions)`` forever."""

    def __init__(self, env_id: str, n: int, *, seed: int, env_kwargs: dict[str, Any] | None = None) -> None:
        if n < 1:
            raise RecipeError(f"rl.n_envs must be at least 1, got {n}.")
        self.env_id = env_id
        self.n = n
        self.seed = int(seed)
        self.envs = [make_env(env_id, env_kwargs) for _ in range(n)]
        self.spec = SpaceSpec.of(self.envs[0], env_id)
        self.obs = np.zeros((n, self.spec.obs_dim), dtype=np.float32)
        self.episode_return = np.zeros(n, dtype=np.float64)
        self.episode_length = np.zeros(n, dtype=np.int64)

    def reset(self) -> np.ndarray:
        """Reset every environment with its own seed; returns the observations ``(n, obs_dim)``."""
        for i, env in enumerate(self.envs):
            obs, _ = env.reset(seed=env_seed(self.seed, i))
            self.obs[i] = self.spec.encode_obs(obs)
        self.episode_return[:] = 0.0
        self.episode_length[:] = 0
        return self.obs.copy()

    def step(self, actions: np.ndarray) -> StepResult:
        """Step environment ``i`` with ``actions[i]``; episodes that end are reset at once."""
        n = self.n
        reward = np.zeros(n, dtype=np.float64)
        terminated = np.zeros(n, dtype=bool)
        truncated = np.zeros(n, dtype=bool)
        final_obs = np.empty_like(self.obs)
        episodes: list[tuple[float, int]] = []
        for i, env in enumerate(self.envs):
            obs, r, term, trunc, _ = env.step(self.spec.env_action(actions[i]))
            reward[i] = float(r)
            terminated[i] = bool(term)
            truncated[i] = bool(trunc) and not bool(term)
            encoded = self.spec.encode_obs(obs)
            final_obs[i] = encoded
            self.episode_return[i] += reward[i]
            self.episode_length[i] += 1
            if term or trunc:
                episodes.append((float(self.episode_return[i]), int(self.episode_length[i])))
                self.episode_return[i] = 0.0
                self.episode_length[i] = 0
                obs, _ = env.reset()
                encoded = self.spec.encode_obs(obs)
            self.obs[i] = encoded
        return StepResult(self.obs.copy(), reward, terminated, truncated, final_obs, episodes)

    # --- exact resume ---------------------------------------------------------------------------
    @property
    def opaque(self) -> list[str]:
        """Attributes of the environments that cannot be saved (empty for classic control)."""
        return capture_env_state(self.envs[0])["opaque"]

    def state_dict(self) -> dict[str, Any]:
        """Every environment's state, the current observations and the running episodes, as JSON."""
        return {
            "env_id": self.env_id,
            "n": self.n,
            "envs": [capture_env_state(env) for env in self.envs],
            "obs": self.obs.tolist(),
            "episode_return": self.episode_return.tolist(),
            "episode_length": self.episode_length.tolist(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> bool:
        """Restore :meth:`state_dict`; returns False (after resetting) when the state was incomplete."""
        if state.get("env_id") != self.env_id or state.get("n") != self.n:
            raise CheckpointError(
                f"The checkpoint holds {state.get('n')} '{state.get('env_id')}' environments but this run has "
                f"{self.n} '{self.env_id}'; resume with the same rl.env and rl.n_envs."
            )
        opaque = sorted({name for env in state["envs"] for name in env.get("opaque", [])})
        if opaque:
            log.warning(
                "The state of '%s' cannot be saved (%s); the environments restart from a reset, so this resumed "
                "run will not equal a straight one.",
                self.env_id,
                ", ".join(opaque[:5]),
            )
            self.reset()
            return False
        for env, saved in zip(self.envs, state["envs"]):
            restore_env_state(env, saved)
        self.obs[:] = np.asarray(state["obs"], dtype=np.float32)
        self.episode_return[:] = np.asarray(state["episode_return"], dtype=np.float64)
        self.episode_length[:] = np.asarray(state["episode_length"], dtype=np.int64)
        return True

    def close(self) -> None:
        for env in self.envs:
            env.close()
