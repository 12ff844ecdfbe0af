"""Child process for test_resume.py: train a small PPO or DQN agent into RUN_DIR, optionally slowed down.

    python resume_child.py RUN_DIR --algorithm ppo [--delay-ms 50]

``--delay-ms`` sleeps at the end of each iteration so the parent can kill it between checkpoints.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from rl_helpers import dqn_config, ppo_config  # noqa: E402

from traincraft.rl import DQN, PPO  # noqa: E402
from traincraft.training import Callback  # noqa: E402

SEED = 11


def child_agent(algorithm: str, run_dir: Path, callbacks=()):
    if algorithm == "ppo":
        return PPO(ppo_config(total_steps=640), seed=SEED, run_dir=run_dir, callbacks=callbacks)
    return DQN(dqn_config(total_steps=500), seed=SEED, run_dir=run_dir, callbacks=callbacks)


class Slow(Callback):
    """Stretch each iteration so a kill lands between two checkpoints."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s

    def on_epoch_end(self, trainer, epoch, logs):
        time.sleep(self.delay_s)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir")
    parser.add_argument("--algorithm", choices=("ppo", "dqn"), default="ppo")
    parser.add_argument("--delay-ms", type=float, default=0.0)
    args = parser.parse_args()
    callbacks = [Slow(args.delay_ms / 1000)] if args.delay_ms else []
    child_agent(args.algorithm, Path(args.run_dir), callbacks).learn()
    return 0


if __name__ == "__main__":
    sys.exit(main())
