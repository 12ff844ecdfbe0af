"""The vectorised environments: seeding, same-step reset, time-limit bootstrapping data, exact state capture."""

from __future__ import annotations

import numpy as np
import pytest

from traincraft.errors import CheckpointError, RecipeError
from traincraft.rl.vec_env import SpaceSpec, VecEnv, capture_env_state, restore_env_state


def _rollout(envs: VecEnv, steps: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(steps):
        result = envs.step(rng.integers(0, 2, size=envs.n))
        out.append(np.concatenate([result.obs.ravel(), result.reward, result.terminated, result.final_obs.ravel()]))
    return out


def test_reset_is_seeded_and_each_env_differs():
    a, b = VecEnv("CartPole-v1", 3, seed=5), VecEnv("CartPole-v1", 3, seed=5)
    obs_a, obs_b = a.reset(), b.reset()
    assert np.array_equal(obs_a, obs_b)
    assert not np.array_equal(obs_a[0], obs_a[1])
    assert not np.array_equal(VecEnv("CartPole-v1", 3, seed=6).reset(), obs_a)


def test_finished_episodes_reset_in_the_same_step_and_are_reported():
    envs = VecEnv("CartPole-v1", 2, seed=0)
    envs.reset()
    finished = []
    for _ in range(200):
        result = envs.step(np.zeros(2, dtype=np.int64))  # always push left: episodes end within ~10 steps
        finished += result.episodes
        done = result.terminated | result.truncated
        if done.any():
            row = int(np.flatnonzero(done)[0])
            assert not np.array_equal(result.final_obs[row], result.obs[row])  # the next obs is a fresh reset
    assert len(finished) > 10
    assert all(length == ret for ret, length in finished)  # CartPole pays 1 per step
    assert all(envs.episode_length < 20)


def test_time_limit_is_a_truncation_with_the_final_observation():
    envs = VecEnv("Pendulum-v1", 1, seed=0)
    envs.reset()
    for step in range(1, 201):
        result = envs.step(np.zeros((1, 1), dtype=np.float32))
        if step < 200:
            assert not result.truncated.any() and not result.terminated.any()
    assert result.truncated.all() and not result.terminated.any()
    assert result.episodes and result.episodes[0][1] == 200


def test_state_dict_round_trip_continues_exactly():
    envs = VecEnv("CartPole-v1", 3, seed=1)
    envs.reset()
    _rollout(envs, 37, seed=1)
    state = envs.state_dict()
    expected = _rollout(envs, 60, seed=2)
    fresh = VecEnv("CartPole-v1", 3, seed=99)  # another seed: everything must come from the state
    fresh.reset()
    assert fresh.load_state_dict(state) is True
    got = _rollout(fresh, 60, seed=2)
    assert all(np.array_equal(a, b) for a, b in zip(expected, got))


def test_pendulum_state_round_trip_includes_its_generator():
    envs = VecEnv("Pendulum-v1", 2, seed=3)
    envs.reset()
    state = envs.state_dict()
    assert state["envs"][0]["opaque"] == []
    layers = state["envs"][0]["layers"]
    assert any("__generator__" in str(layer["attrs"].get("_np_random")) for layer in layers)
    fresh = VecEnv("Pendulum-v1", 2, seed=0)
    fresh.reset()
    fresh.load_state_dict(state)
    assert np.array_equal(fresh.obs, envs.obs)
    for _ in range(250):  # crosses the 200-step time limit, so the reset draws from the restored generator
        action = np.full((2, 1), 0.5, dtype=np.float32)
        assert np.array_equal(envs.step(action).obs, fresh.step(action).obs)


def test_an_opaque_environment_resets_with_a_warning(caplog):
    envs = VecEnv("CartPole-v1", 1, seed=0)
    envs.reset()
    envs.envs[0].unwrapped.engine = object()  # stands in for a physics engine handle
    state = envs.state_dict()
    assert any("engine" in name for name in state["envs"][0]["opaque"])
    other = VecEnv("CartPole-v1", 1, seed=0)
    with caplog.at_level("WARNING"):
        assert other.load_state_dict(state) is False
    assert "cannot be saved" in caplog.text


def test_loading_state_of_another_env_is_refused():
    cart = VecEnv("CartPole-v1", 2, seed=0)
    cart.reset()
    with pytest.raises(CheckpointError, match="resume with the same rl.env and rl.n_envs"):
        VecEnv("CartPole-v1", 3, seed=0).load_state_dict(cart.state_dict())
    env = VecEnv("Pendulum-v1", 1, seed=0).envs[0]
    with pytest.raises(CheckpointError, match="wrappers"):
        restore_env_state(env, {"layers": [{"class": "Nope", "attrs": {}}]})


def test_capture_keeps_plain_values_only():
    env = VecEnv("CartPole-v1", 1, seed=0).envs[0]
    env.reset(seed=0)
    state = capture_env_state(env)
    names = {name for layer in state["layers"] for name in layer["attrs"]}
    assert {"state", "_np_random", "_elapsed_steps"} <= names
    assert not names & {"action_space", "observation_space", "spec", "env"}


def test_unknown_env_id_suggests_the_closest():
    with pytest.raises(RecipeError, match="Did you mean 'CartPole-v1'"):
        VecEnv("CartPole-v2", 1, seed=0)


def test_env_kwargs_that_do_not_fit_are_a_recipe_error():
    with pytest.raises(RecipeError, match="rl.env_kwargs"):
        VecEnv("CartPole-v1", 1, seed=0, env_kwargs={"no_such_option": 1})


def test_unsupported_spaces_are_refused():
    import gymnasium as gym

    class TupleObs:
        observation_space = gym.spaces.Tuple((gym.spaces.Discrete(2), gym.spaces.Discrete(2)))
        action_space = gym.spaces.Discrete(2)

    with pytest.raises(RecipeError, match="Tuple observation space"):
        SpaceSpec.of(TupleObs(), "Fake-v0")

    class MultiAction:
        observation_space = gym.spaces.Box(-1, 1, (3,))
        action_space = gym.spaces.MultiBinary(2)

    with pytest.raises(RecipeError, match="MultiBinary action space"):
        SpaceSpec.of(MultiAction(), "Fake-v0")

    class Unbounded:
        observation_space = gym.spaces.Box(-1, 1, (3,))
        action_space = gym.spaces.Box(-np.inf, np.inf, (1,))

    with pytest.raises(RecipeError, match="unbounded Box action space"):
        SpaceSpec.of(Unbounded(), "Fake-v0")


def test_discrete_observations_are_one_hot_and_box_actions_clipped():
    spec = SpaceSpec(4, "discrete", 4, "box", None, (2,), (-1.0, -2.0), (1.0, 2.0))
    assert spec.encode_obs(2).tolist() == [0.0, 0.0, 1.0, 0.0]
    assert spec.env_action(np.array([5.0, -5.0])).tolist() == [1.0, -2.0]
    assert SpaceSpec.from_json(spec.to_json()) == spec


def test_vec_env_needs_an_environment():
    with pytest.raises(RecipeError, match="at least 1"):
        VecEnv("CartPole-v1", 0, seed=0)


def test_missing_gymnasium_names_the_extra(monkeypatch):
    import sys

    from traincraft.errors import MissingDependencyError
    from traincraft.rl._gym import import_gymnasium

    monkeypatch.setitem(sys.modules, "gymnasium", None)  # what an uninstalled package looks like to import
    with pytest.raises(MissingDependencyError, match=r"pip install 'traincraft\[rl\]'"):
        import_gymnasium()
