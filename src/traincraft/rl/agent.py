"""The loop every agent shares: iterations, traincraft callbacks, metrics, progress, exact-resume checkpoints.

An *iteration* is one round of collecting experience and learning from it (PPO: a rollout and
its update epochs; DQN: ``dqn.iteration_steps`` environment steps). Callbacks see an agent where
the supervised trainer would be: ``on_epoch_start(agent, iteration)``, ``on_batch_end(agent,
gradient_step, loss)``, ``on_epoch_end(agent, iteration, logs)``; ``agent.stop_training = True``
ends training after the current iteration. ``logs`` holds namespaced keys: ``rl/steps``,
``rl/episode_return`` (mean of the last ``EPISODE_WINDOW`` finished episodes), ``rl/episodes``,
``train/...`` losses, ``lr``, ``perf/env_steps_per_s`` and, when evaluated, ``rl/eval_return``.

A checkpoint (``run_dir/checkpoints/last``, every ``rl.checkpoint_every`` steps at an iteration
boundary and at the end) holds the agent's tensors (networks, normalisers, the replay buffer),
the optimiser, every random generator, the environments' inner states and current observations,
and the loop's counters, so a resumed run equals a straight one on the CPU. The first Ctrl-C
stops at the end of the current iteration and saves; a second stops at once and keeps the last
checkpoint.
"""

from __future__ import annotations

import contextlib
import logging
import math
import signal
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from traincraft._util.seed import seed_everything, set_threads
from traincraft.errors import CheckpointError, RecipeError, TrainingInterrupted
from traincraft.recipe._unsupervised import RLConfig
from traincraft.rl.evaluate import evaluate_policy
from traincraft.rl.policy import Policy
from traincraft.rl.vec_env import VecEnv
from traincraft.training.callbacks import Callback, overrides
from traincraft.training.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from traincraft.training.device import pick_device
from traincraft.training.metrics_log import METRICS_FILE, MetricsLog
from traincraft.training.progress import ProgressDisplay, resolve_progress
from traincraft.training.rng import capture_rng_state

__all__ = ["Agent", "RLResult", "EPISODE_WINDOW", "CHECKPOINTS_DIR"]

log = logging.getLogger(__name__)

EPISODE_WINDOW = 20  # rl/episode_return averages this many most recent episodes (the acceptance eval uses 20)
CHECKPOINTS_DIR = "checkpoints"
LOG_LINES = 20  # progress lines (or log records) per run; every iteration would flood the terminal


@dataclass
class RLResult:
    """What :meth:`Agent.learn` did."""

    iterations: int
    """Iterations completed, counting those before a resume."""
    env_steps: int
    """Environment steps taken, summed over environments, counting those before a resume."""
    history: list[dict[str, float]]
    """One record per iteration (the lines of metrics.jsonl)."""
    eval_returns: list[float]
    """Returns of the final evaluation episodes (deterministic policy)."""
    seconds: float
    """Wall-clock seconds of this call."""
    env_steps_per_s: float
    """Environment steps per second over this call, updates included, evaluations excluded."""
    device: str
    resumed_from_iteration: int | None = None
    episodes: int = 0
    """Training episodes finished."""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def eval_mean(self) -> float:
        return float(np.mean(self.eval_returns)) if self.eval_returns else math.nan

    @property
    def eval_std(self) -> float:
        return float(np.std(self.eval_returns)) if self.eval_returns else math.nan


class Agent:
    """Base class of :class:`~traincraft.rl.PPO` and :class:`~traincraft.rl.DQN`; subclasses fill in the hooks below.

    ``Agent(config, seed=0, run_dir=None, callbacks=(), progress=False)`` then ``learn()``.
    With ``run_dir``, checkpoints go to ``run_dir/checkpoints/last`` and one record per iteration
    to ``run_dir/metrics.jsonl``; without it nothing is written.
    """

    algorithm = ""

    def __init__(
        self,
        config: RLConfig,
        *,
        seed: int = 0,
        run_dir: str | Path | None = None,
        callbacks: Sequence[Callback] = (),
        progress: bool | str = False,
    ) -> None:
        if not isinstance(config, RLConfig):
            raise RecipeError(f"An RL agent takes the recipe's rl section (an RLConfig), got {type(config).__name__}.")
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise RecipeError(f"callbacks must be traincraft Callback instances, got {type(cb).__name__}.")
        self.config = config
        self.seed = int(seed)
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.callbacks = list(callbacks)
        self._progress_mode = resolve_progress(progress)
        self.device = pick_device(config.device)
        self.stop_training = False
        """Set to True (e.g. in a callback) to stop after the current iteration."""
        self.epoch = 0
        """Iterations completed (named like the trainer's, so its callbacks work here)."""
        self.global_step = 0
        """Environment steps taken, summed over environments."""
        self.gradient_steps = 0
        self.resumed_from_epoch: int | None = None
        self.history: list[dict[str, float]] = []
        self.episodes = 0
        self.recent_returns: deque[float] = deque(maxlen=EPISODE_WINDOW)
        self.recent_lengths: deque[int] = deque(maxlen=EPISODE_WINDOW)
        self.envs: VecEnv | None = None
        self.model: nn.Module | None = None
        """Every tensor of the agent (networks, normalisers, replay buffer): what a checkpoint's weights hold."""
        self.optimizer: torch.optim.Optimizer | None = None
        self._active: list[Callback] = []
        self._batch_callbacks: list[Callback] = []
        self._sigint = False
        self._built = False

    # --- subclass hooks ---------------------------------------------------------------------------
    def _build(self) -> None:
        """Create the networks, ``self.model`` and ``self.optimizer`` (after seeding, before any resume)."""
        raise NotImplementedError

    @property
    def steps_per_iteration(self) -> int:
        raise NotImplementedError

    def _iteration(self, iteration: int) -> dict[str, float]:
        """Collect and learn for one iteration; return its ``train/...`` logs."""
        raise NotImplementedError

    def policy(self) -> Policy:
        """The acting policy (sharing this agent's modules), for evaluation and the bundle."""
        raise NotImplementedError

    def _state(self) -> dict[str, Any]:
        """Algorithm-specific JSON state to checkpoint (beyond tensors, optimiser and generators)."""
        return {}

    def _load_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`_state`."""

    # --- derived sizes ----------------------------------------------------------------------------
    @property
    def total_iterations(self) -> int:
        """Whole iterations that fit in ``rl.total_steps`` (at least one): a run never takes more steps than asked."""
        return max(1, self.config.total_steps // self.steps_per_iteration)

    def _lr_at(self, iteration: int) -> float:
        """The learning rate of ``iteration`` (1-based): a pure function of it, so resume needs no state."""
        if self.config.lr_schedule == "linear":
            return self.config.lr * (1.0 - (iteration - 1) / self.total_iterations)
        return self.config.lr

    def _progress_share(self, iteration: int) -> float:
        """Share of training done before ``iteration`` (1-based), for linear schedules."""
        return (iteration - 1) / self.total_iterations

    # --- bookkeeping shared by the algorithms ------------------------------------------------------
    def _record_episodes(self, episodes: list[tuple[float, int]]) -> None:
        for ret, length in episodes:
            self.recent_returns.append(ret)
            self.recent_lengths.append(length)
            self.episodes += 1

    def _batch_end(self, loss: torch.Tensor) -> None:
        """Count a gradient step and tell the callbacks that want each one."""
        self.gradient_steps += 1
        if self._batch_callbacks:
            value = float(loss.item())
            for cb in self._batch_callbacks:
                cb.on_batch_end(self, self.gradient_steps, value)  # type: ignore[arg-type]

    # --- paths ------------------------------------------------------------------------------------
    @property
    def last_checkpoint_dir(self) -> Path | None:
        return self.run_dir / CHECKPOINTS_DIR / "last" if self.run_dir is not None else None

    # --- the loop ---------------------------------------------------------------------------------
    def setup(self) -> None:
        """Threads, seeds, environments and networks; :meth:`learn` calls it, tests and benchmarks may too."""
        set_threads(self.config.threads)
        seed_everything(self.seed)
        self.envs = VecEnv(self.config.env, self.config.n_envs, seed=self.seed, env_kwargs=self.config.env_kwargs)
        self.envs.reset()
        self._build()
        assert self.model is not None and self.optimizer is not None
        self.model.to(self.device)
        self._built = True

    def learn(self, *, resume: bool = False) -> RLResult:
        """Train for ``rl.total_steps`` environment steps, evaluate, and return what happened.

        ``resume=True`` continues from ``run_dir/checkpoints/last``. Ctrl-C saves the iteration in
        progress once it ends and raises :class:`~traincraft.errors.TrainingInterrupted`.
        """
        started = time.perf_counter()
        if resume and self.run_dir is None:
            raise RecipeError("resume=True needs a run_dir: the checkpoint lives in run_dir/checkpoints/last.")
        ckpt = load_checkpoint(self.last_checkpoint_dir) if resume else None
        try:
            self.setup()
            self._assemble_callbacks()
            if ckpt is not None:
                self._restore(ckpt)
            train_seconds, steps_this_call = self._run_loop()
            eval_returns = evaluate_policy(
                self.policy(), self.config.env, episodes=self.config.eval_episodes, seed=self.seed, env_kwargs=self.config.env_kwargs
            )
        finally:
            if self.envs is not None:
                self.envs.close()
        result = RLResult(
            iterations=self.epoch,
            env_steps=self.global_step,
            history=[dict(h) for h in self.history],
            eval_returns=eval_returns,
            seconds=time.perf_counter() - started,
            env_steps_per_s=steps_this_call / train_seconds if train_seconds > 0 else 0.0,
            device=str(self.device),
            resumed_from_iteration=self.resumed_from_epoch,
            episodes=self.episodes,
        )
        log.info(
            "%s on %s: %d steps, evaluation return %.1f ± %.1f over %d episodes",
            self.algorithm.upper(), self.config.env, self.global_step, result.eval_mean, result.eval_std, len(eval_returns),
        )
        for cb in self._active:
            cb.on_fit_end(self, result)  # type: ignore[arg-type]
        return result

    def _run_loop(self) -> tuple[float, int]:
        """The iterations under the Ctrl-C guard, with the progress display; returns (seconds, steps) of this call."""
        display = None
        if self._progress_mode is not None:
            display = ProgressDisplay(
                self._progress_mode,
                epochs=self.total_iterations,
                steps_per_epoch=self.steps_per_iteration,
                monitor="rl/episode_return",
            )
        try:
            with self._sigint_guard():
                try:
                    return self._loop(display)
                except KeyboardInterrupt:
                    raise self._interrupted() from None
        finally:
            if display is not None:
                display.close()

    def _loop(self, display: ProgressDisplay | None) -> tuple[float, int]:
        cfg = self.config
        for cb in self._active:
            cb.on_fit_start(self)  # type: ignore[arg-type]
        log_every = max(1, self.total_iterations // LOG_LINES)
        train_seconds = 0.0
        steps_this_call = 0
        next_eval = self._next_multiple(cfg.eval_every) if cfg.eval_every else None
        next_ckpt = self._next_multiple(cfg.checkpoint_every)
        for iteration in range(self.epoch + 1, self.total_iterations + 1):
            if self.stop_training:
                break
            for cb in self._active:
                cb.on_epoch_start(self, iteration)  # type: ignore[arg-type]
            if display is not None:
                display.start_epoch(iteration, self.global_step)
            tick = time.perf_counter()
            steps_before = self.global_step
            logs: dict[str, float] = {"epoch": iteration, "step": 0}
            logs.update(self._iteration(iteration))
            seconds = time.perf_counter() - tick
            train_seconds += seconds
            steps_this_call += self.global_step - steps_before
            logs["step"] = self.global_step
            logs["rl/steps"] = self.global_step
            logs["rl/episodes"] = self.episodes
            logs["rl/episode_return"] = float(np.mean(self.recent_returns)) if self.recent_returns else math.nan
            logs["rl/episode_length"] = float(np.mean(self.recent_lengths)) if self.recent_lengths else math.nan
            logs["lr"] = self._lr_at(iteration)
            logs["perf/env_steps_per_s"] = (self.global_step - steps_before) / seconds if seconds > 0 else 0.0
            if next_eval is not None and (self.global_step >= next_eval or iteration == self.total_iterations):
                returns = evaluate_policy(
                    self.policy(), cfg.env, episodes=cfg.eval_episodes, seed=self.seed, env_kwargs=cfg.env_kwargs
                )
                logs["rl/eval_return"] = float(np.mean(returns))
                next_eval = self._next_multiple(cfg.eval_every)
            self.history.append(logs)
            for cb in self._active:
                cb.on_epoch_end(self, iteration, logs)  # type: ignore[arg-type]
            self.epoch = iteration
            if display is not None:
                display.update(self.global_step, float(logs.get("train/loss", math.nan)))
                if iteration % log_every == 0 or iteration == self.total_iterations:
                    display.end_epoch(iteration, logs)
            if self.last_checkpoint_dir is not None and (
                self.global_step >= next_ckpt or iteration == self.total_iterations or self._sigint or self.stop_training
            ):  # a run stopped by a callback or Ctrl-C is saved where it stopped
                self._save(self.last_checkpoint_dir)
                next_ckpt = self._next_multiple(cfg.checkpoint_every)
            if self._sigint:
                raise KeyboardInterrupt
        return train_seconds, steps_this_call

    def _next_multiple(self, every: int) -> int:
        """The first multiple of ``every`` above the steps taken."""
        return (self.global_step // every + 1) * every

    def _assemble_callbacks(self) -> None:
        active = list(self.callbacks)
        if self.run_dir is not None:
            active.append(MetricsLog(self.run_dir / METRICS_FILE))
        self._active = active
        self._batch_callbacks = [cb for cb in active if overrides(cb, "on_batch_end")]

    def _callback_keys(self) -> list[str]:
        counts: dict[str, int] = {}
        keys = []
        for cb in self._active:
            base = cb.state_key or type(cb).__name__
            counts[base] = counts.get(base, 0) + 1
            keys.append(base if counts[base] == 1 else f"{base}#{counts[base]}")
        return keys

    # --- checkpoints ------------------------------------------------------------------------------
    def _run_info(self) -> dict[str, Any]:
        cfg = self.config.model_dump(mode="json")
        cfg.pop("total_steps")
        for key in ("eval_every", "eval_episodes", "checkpoint_every", "device", "threads"):
            cfg.pop(key)  # may change between a run and its resume without changing what is learned
        return {"algorithm": self.algorithm, "seed": self.seed, "config": cfg, "total_steps": self.config.total_steps}

    def _save(self, directory: Path) -> Path:
        assert self.model is not None and self.optimizer is not None and self.envs is not None
        keys = self._callback_keys()
        extra = {
            "run": self._run_info(),
            "envs": self.envs.state_dict(),
            "history": self.history,
            "episodes": self.episodes,
            "recent_returns": list(self.recent_returns),
            "recent_lengths": list(self.recent_lengths),
            "gradient_steps": self.gradient_steps,
            "agent": self._state(),
        }
        return save_checkpoint(
            directory,
            model=self.model,
            optimizer=self.optimizer,
            epoch=self.epoch,
            step=self.global_step,
            rng=capture_rng_state(),
            callbacks={key: cb.state_dict() for key, cb in zip(keys, self._active)},
            extra=extra,
        )

    def _restore(self, ckpt: Checkpoint) -> None:
        assert self.model is not None and self.optimizer is not None and self.envs is not None
        saved = ckpt.extra.get("run") or {}
        now = self._run_info()
        for key in ("algorithm", "seed", "config"):
            if saved.get(key) != now[key]:
                diffs = key
                if key == "config" and isinstance(saved.get(key), dict):
                    diffs = ", ".join(f"rl.{k}" for k in sorted(set(now[key]) | set(saved[key])) if now[key].get(k) != saved[key].get(k))
                raise CheckpointError(
                    f"The checkpoint {ckpt.path} was written by a run with different settings ({diffs}). Resume with "
                    "the recipe the run started with (only rl.total_steps, eval and checkpoint settings may change), "
                    "or start a new run."
                )
        if saved.get("total_steps") != now["total_steps"] and self.config.lr_schedule == "linear":
            log.warning(
                "rl.total_steps changed from %s to %s: the linear schedules are rescaled, so the result will differ "
                "from a straight run.", saved.get("total_steps"), now["total_steps"],
            )
        ckpt.restore_model(self.model)
        ckpt.restore_optimizer(self.optimizer)
        exact = self.envs.load_state_dict(ckpt.extra["envs"])
        self.history = [dict(h) for h in ckpt.extra.get("history", [])]
        self.episodes = int(ckpt.extra.get("episodes", 0))
        self.recent_returns = deque((float(v) for v in ckpt.extra.get("recent_returns", [])), maxlen=EPISODE_WINDOW)
        self.recent_lengths = deque((int(v) for v in ckpt.extra.get("recent_lengths", [])), maxlen=EPISODE_WINDOW)
        self.gradient_steps = int(ckpt.extra.get("gradient_steps", 0))
        self._load_state(ckpt.extra.get("agent") or {})
        self.epoch = ckpt.epoch
        self.global_step = ckpt.step
        self.resumed_from_epoch = ckpt.epoch
        saved_states = ckpt.callbacks
        for key, cb in zip(self._callback_keys(), self._active):
            if key in saved_states:
                cb.load_state_dict(saved_states[key])
            elif cb.state_dict():
                log.warning("The checkpoint has no state for callback %s; it starts afresh.", key)
        ckpt.restore_rng()
        log.info(
            "Resuming %s from %s: iteration %d, %d environment steps%s.",
            self.algorithm.upper(), ckpt.path, ckpt.epoch, ckpt.step, "" if exact else " (environments reset)",
        )

    # --- interruption -----------------------------------------------------------------------------
    @contextlib.contextmanager
    def _sigint_guard(self) -> Iterator[None]:
        """First Ctrl-C: finish the iteration, save, stop; second: stop at once."""
        self._sigint = False
        if (
            threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
        ):
            yield
            return

        def handler(signum: int, frame: Any) -> None:
            if self._sigint:
                raise KeyboardInterrupt
            self._sigint = True
            log.warning("Interrupted: stopping after this iteration to save a checkpoint (Ctrl-C again stops at once).")

        previous = signal.signal(signal.SIGINT, handler)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def _interrupted(self) -> TrainingInterrupted:
        last = self.last_checkpoint_dir
        if last is None:
            return TrainingInterrupted(
                f"Training was interrupted after iteration {self.epoch} ({self.global_step} steps). There is no run "
                "directory, so nothing was saved; the agent holds the weights reached so far."
            )
        if last.exists():
            return TrainingInterrupted(
                f"Training was interrupted after iteration {self.epoch} ({self.global_step} steps); {last} holds the "
                "last saved iteration. Resume with learn(resume=True) (traincraft train --resume).",
                checkpoint_dir=str(last),
            )
        return TrainingInterrupted("Training was interrupted before its first checkpoint; nothing was saved.")
