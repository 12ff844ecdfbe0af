"""Child process for test_trainer_resume.py: train TinyNet with a run_dir, optionally slowed down.

    python resume_child.py RUN_DIR --epochs 4 [--delay-ms 10] [--resume]

``--delay-ms`` sleeps in on_batch_end so the parent can kill it in mid-epoch.
Exit code 130 when training was interrupted (TrainingInterrupted), 0 when it finished.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from training_helpers import accuracy, classification_data, config, make_net, split  # noqa: E402

from traincraft.errors import TrainingInterrupted  # noqa: E402
from traincraft.recipe import EarlyStoppingConfig  # noqa: E402
from traincraft.training import Callback, Trainer  # noqa: E402

ROWS = 600
TRAIN_ROWS = 500
BATCH = 16  # 32 steps per epoch


class Slow(Callback):
    """Stretch each step so a kill lands in the middle of an epoch."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s

    def on_batch_end(self, trainer, step, loss):
        time.sleep(self.delay_s)


def child_config(epochs: int):
    es = EarlyStoppingConfig(enabled=True, monitor="val/accuracy", patience=50)
    return config(epochs=epochs, batch_size=BATCH, lr=0.02, early_stopping=es)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()
    x, y = classification_data(ROWS)
    x_train, y_train, x_val, y_val = split(x, y, TRAIN_ROWS)
    callbacks = []
    if args.delay_ms:
        callbacks.append(Slow(args.delay_ms / 1000.0))
    trainer = Trainer(
        make_net(),
        child_config(args.epochs),
        task="multiclass",
        seed=7,
        metrics_fn=accuracy,
        run_dir=args.run_dir,
        callbacks=callbacks,
    )
    try:
        trainer.fit(x_train, y_train, x_val, y_val, resume=args.resume)
    except TrainingInterrupted as exc:
        print(exc, file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
