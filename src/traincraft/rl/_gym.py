"""The one door to gymnasium: imported lazily, with the install command when it is missing."""

from __future__ import annotations

from typing import Any

from traincraft._util.suggest import did_you_mean
from traincraft.errors import MissingDependencyError, RecipeError

__all__ = ["import_gymnasium", "make_env"]


def import_gymnasium() -> Any:
    """The ``gymnasium`` module, or :class:`MissingDependencyError` with the pip command."""
    try:
        import gymnasium
    except ImportError:
        raise MissingDependencyError("gymnasium", "rl", "Reinforcement learning (task: rl)") from None
    return gymnasium


def make_env(env_id: str, env_kwargs: dict[str, Any] | None = None) -> Any:
    """``gymnasium.make(env_id, **env_kwargs)`` without the passive checker (it costs every step).

    An unknown id is a :class:`RecipeError` naming the closest registered ones.
    """
    gym = import_gymnasium()
    kwargs = dict(env_kwargs or {})
    if env_id not in gym.registry:
        hint = did_you_mean(env_id, gym.registry.keys())
        raise RecipeError(
            f"rl.env '{env_id}' is not a registered Gymnasium environment.{hint} "
            "Classic control ids: CartPole-v1, Acrobot-v1, MountainCar-v0, MountainCarContinuous-v0, Pendulum-v1."
        )
    try:
        return gym.make(env_id, disable_env_checker=True, **kwargs)
    except TypeError as exc:
        raise RecipeError(f"rl.env_kwargs {kwargs} do not fit the environment '{env_id}': {exc}.") from None
