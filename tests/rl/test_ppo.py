"""PPO: the loop's records and hooks, GAE, discrete and continuous actions, and its errors."""

from __future__ import annotations

import math

import pytest
import torch
from rl_helpers import ppo_config

from traincraft.errors import RecipeError
from traincraft.rl import PPO
from traincraft.training import Callback, load_checkpoint, read_metrics


class Recorder(Callback):
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def on_fit_start(self, trainer):
        self.calls.append(("fit_start",))

    def on_epoch_start(self, trainer, epoch):
        self.calls.append(("epoch_start", epoch))

    def on_batch_end(self, trainer, step, loss):
        self.calls.append(("batch", step, loss))

    def on_epoch_end(self, trainer, epoch, logs):
        self.calls.append(("epoch_end", epoch, dict(logs)))

    def on_fit_end(self, trainer, result):
        self.calls.append(("fit_end", result.iterations))


def test_ppo_writes_namespaced_metrics_and_calls_every_hook(tmp_path):
    rec = Recorder()
    agent = PPO(ppo_config(), seed=0, run_dir=tmp_path, callbacks=[rec])
    result = agent.learn()
    assert result.iterations == 5 and result.env_steps == 320
    records = read_metrics(tmp_path / "metrics.jsonl")
    assert [r["epoch"] for r in records] == [1, 2, 3, 4, 5]
    assert [r["rl/steps"] for r in records] == [64, 128, 192, 256, 320]
    for key in ("rl/episode_return", "rl/episodes", "train/loss", "train/policy_loss", "train/value_loss",
                "train/entropy", "train/approx_kl", "train/clip_fraction", "lr", "perf/env_steps_per_s"):
        assert key in records[-1], key
    assert records[-1]["perf/env_steps_per_s"] > 0
    kinds = [c[0] for c in rec.calls]
    assert kinds[0] == "fit_start" and kinds[-1] == "fit_end"
    assert kinds.count("epoch_start") == kinds.count("epoch_end") == 5
    batches = [c for c in rec.calls if c[0] == "batch"]
    assert len(batches) == 5 * 2 * 2  # iterations x epochs x minibatches (64 / 32)
    assert [b[1] for b in batches] == list(range(1, 21)) and all(math.isfinite(b[2]) for b in batches)
    assert len(result.eval_returns) == 2 and (tmp_path / "checkpoints" / "last" / "state.json").exists()


def test_progress_log_lines_show_iterations_and_returns(caplog):
    with caplog.at_level("INFO", logger="traincraft.training.progress"):
        PPO(ppo_config(), seed=0, progress="log").learn()
    lines = [r.getMessage() for r in caplog.records if r.name == "traincraft.training.progress"]
    assert lines and lines[-1].startswith("epoch 5/5") and "rl/episode_return" in lines[-1]
    with pytest.raises(RecipeError, match="progress"):
        PPO(ppo_config(), progress="fancy")


def test_stop_training_from_a_callback_ends_after_that_iteration_and_saves_it(tmp_path):
    class StopAt(Callback):
        def on_epoch_end(self, trainer, epoch, logs):
            if epoch == 2:
                trainer.stop_training = True

    result = PPO(ppo_config(checkpoint_every=10_000), seed=0, run_dir=tmp_path, callbacks=[StopAt()]).learn()
    assert result.iterations == 2 and result.env_steps == 128
    assert load_checkpoint(tmp_path / "checkpoints" / "last").epoch == 2


def test_same_seed_same_run_and_another_seed_differs():
    a = PPO(ppo_config(), seed=3).learn()
    b = PPO(ppo_config(), seed=3).learn()
    c = PPO(ppo_config(), seed=4).learn()
    strip = lambda h: [{k: v for k, v in r.items() if not k.startswith("perf/")} for r in h]  # noqa: E731
    assert strip(a.history) == strip(b.history)
    assert a.eval_returns == b.eval_returns
    assert strip(a.history) != strip(c.history)


def test_total_steps_round_down_to_whole_iterations():
    result = PPO(ppo_config(total_steps=300), seed=0).learn()  # 64 steps per iteration
    assert result.iterations == 4 and result.env_steps == 256


def test_gae_matches_a_hand_computation():
    agent = PPO(ppo_config(gamma=0.9, ppo={"gae_lambda": 0.5}), seed=0)
    rewards = torch.tensor([[1.0], [1.0], [1.0]])
    values = torch.tensor([[0.5], [0.2], [0.4]])
    dones = torch.tensor([[0.0], [1.0], [0.0]])  # the episode ends after step 1
    last = torch.tensor([2.0])
    adv = agent._gae(rewards, values, dones, last)
    d2 = 1.0 + 0.9 * 2.0 - 0.4
    d1 = 1.0 - 0.2  # no bootstrap past the end
    d0 = 1.0 + 0.9 * 0.2 - 0.5
    expected = [d0 + 0.9 * 0.5 * d1, d1, d2]
    assert adv[:, 0].tolist() == pytest.approx(expected)


def test_continuous_actions_on_pendulum_with_normalisation():
    cfg = ppo_config(env="Pendulum-v1", total_steps=256, normalize_obs=True, normalize_reward=True, ppo={"log_std_init": -0.5})
    agent = PPO(cfg, seed=0)
    result = agent.learn()
    assert result.env_steps == 256
    assert agent.obs_norm.stats.count.item() == 256  # every observation the agent acted on
    assert agent.reward_scaler.stats.count.item() == 256
    assert agent.net.log_std.shape == (1,)
    assert all(-2000 < r <= 0 for r in result.eval_returns)  # Pendulum's rewards are negative
    assert math.isfinite(result.history[-1]["train/loss"])


def test_linear_schedules_reach_zero_at_the_end():
    cfg = ppo_config(lr_schedule="linear", ppo={"clip_schedule": "linear"})
    result = PPO(cfg, seed=0).learn()
    lrs = [r["lr"] for r in result.history]
    assert lrs[0] == pytest.approx(3e-3) and lrs[-1] == pytest.approx(3e-3 / 5)
    assert [r["train/clip_range"] for r in result.history][-1] == pytest.approx(0.2 / 5)


def test_target_kl_stops_an_update_early():
    result = PPO(ppo_config(lr=0.05, ppo={"epochs": 8, "target_kl": 1e-6}), seed=0).learn()
    assert any(r["train/updates"] < 16 for r in result.history)


def test_minibatch_larger_than_a_rollout_is_refused():
    with pytest.raises(RecipeError, match="minibatch_size"):
        PPO(ppo_config(ppo={"minibatch_size": 1000}), seed=0).learn()


def test_agent_takes_the_rl_section_and_callbacks_only():
    with pytest.raises(RecipeError, match="RLConfig"):
        PPO({"env": "CartPole-v1"}, seed=0)  # type: ignore[arg-type]
    with pytest.raises(RecipeError, match="Callback instances"):
        PPO(ppo_config(), callbacks=[object()])  # type: ignore[list-item]
    with pytest.raises(RecipeError, match="needs a run_dir"):
        PPO(ppo_config()).learn(resume=True)
