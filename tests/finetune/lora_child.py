"""Child process for test_lora_resume.py: a LoRA run on the tiny BERT, slowed so it can be killed mid-run.

    python lora_child.py MODEL_DIR SPAM_FILE RUNS_DIR NAME [--delay-ms 20]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from finetune_helpers import lora_resume_recipe, small_spam  # noqa: E402

import traincraft as tc  # noqa: E402
from traincraft.training import Callback  # noqa: E402


class Slow(Callback):
    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s

    def on_batch_end(self, trainer, step, loss):
        time.sleep(self.delay_s)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("model_dir")
    parser.add_argument("spam_file")
    parser.add_argument("runs_dir")
    parser.add_argument("name")
    parser.add_argument("--delay-ms", type=float, default=0.0)
    args = parser.parse_args()
    callbacks = [Slow(args.delay_ms / 1000.0)] if args.delay_ms else []
    tc.train(
        small_spam(Path(args.spam_file)),
        label="label",
        recipe=lora_resume_recipe(Path(args.model_dir)),
        name=args.name,
        runs_dir=args.runs_dir,
        callbacks=callbacks,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
