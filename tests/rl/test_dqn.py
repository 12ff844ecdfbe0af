"""DQN: epsilon schedule, replay buffer, target updates, learning on CartPole, and its errors."""

from __future__ import annotations

import math

import pytest
import torch
from rl_helpers import dqn_config

from traincraft.errors import RecipeError
from traincraft.rl import DQN
from traincraft.rl.replay import ReplayBuffer


def test_dqn_runs_and_logs(tmp_path):
    agent = DQN(dqn_config(dqn={"exploration_fraction": 1.0}), seed=0, run_dir=tmp_path)
    result = agent.learn()
    assert result.iterations == 6 and result.env_steps == 300
    last = result.history[-1]
    assert last["rl/replay_size"] == 128  # full: 300 transitions through a 128-slot ring
    assert last["train/updates"] > 0 and math.isfinite(last["train/loss"]) and math.isfinite(last["train/q_mean"])
    assert result.history[0]["train/epsilon"] > last["train/epsilon"]


def test_epsilon_falls_linearly_then_stays():
    agent = DQN(dqn_config(total_steps=1000, dqn={"exploration_fraction": 0.5, "exploration_final_eps": 0.1}), seed=0)
    for step, eps in ((0, 1.0), (250, 0.55), (500, 0.1), (900, 0.1)):
        agent.global_step = step
        assert agent.epsilon() == pytest.approx(eps)


def test_target_network_follows_the_online_one():
    agent = DQN(dqn_config(dqn={"target_update_interval": 10_000}), seed=0)
    agent.setup()
    with torch.no_grad():
        for p in agent.q.parameters():
            p.add_(1.0)
    assert not all(torch.equal(a, b) for a, b in zip(agent.q.parameters(), agent.target.parameters()))
    agent._update_target()
    assert all(torch.equal(a, b) for a, b in zip(agent.q.parameters(), agent.target.parameters()))
    soft = DQN(dqn_config(dqn={"tau": 0.5}), seed=0)
    soft.setup()
    before = [p.clone() for p in soft.target.parameters()]
    with torch.no_grad():
        for p in soft.q.parameters():
            p.add_(2.0)
    soft._update_target()
    for old, new in zip(before, soft.target.parameters()):
        assert torch.allclose(new, old + 1.0)


def test_replay_buffer_wraps_around_and_samples_what_it_holds():
    buf = ReplayBuffer(4, 2)
    for i in range(6):
        obs = torch.full((1, 2), float(i))
        buf.add(obs, torch.tensor([i]), torch.tensor([float(i)]), obs + 0.5, torch.tensor([0.0]))
    assert len(buf) == 4 and int(buf.cursor) == 2
    assert sorted(buf.rewards.tolist()) == [2.0, 3.0, 4.0, 5.0]
    batch = buf.sample(64)
    assert set(batch["rewards"].tolist()) <= {2.0, 3.0, 4.0, 5.0}
    assert torch.equal(batch["next_obs"], batch["obs"] + 0.5)
    assert torch.equal(batch["obs"][:, 0], batch["actions"].float())


def test_dqn_refuses_continuous_actions():
    with pytest.raises(RecipeError, match="DQN needs discrete actions"):
        DQN(dqn_config(env="Pendulum-v1"), seed=0).learn()


def test_reward_normalisation_is_ignored_with_a_warning(caplog):
    with caplog.at_level("WARNING"):
        DQN(dqn_config(normalize_reward=True, total_steps=50), seed=0).learn()
    assert "normalize_reward is ignored by DQN" in caplog.text
