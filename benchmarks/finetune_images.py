"""Image fine-tuning, end to end: a Hugging Face vision model from a local directory on real digit scans.

No pretrained image model installs offline here, so the base model is a small ViT with random
weights written by this script (``save_pretrained``, as any Hugging Face directory): the numbers
check the machinery (every tuning mode trains, the bundle reproduces the trainer's test scores,
LoRA bundles are small), not the value of pretraining. scikit-learn's 1,797 digit scans are
written as PNG files in one folder per class and read as an image folder, like a user's photos.

For each of ``tune: head | lora | full`` and traincraft's from-scratch CNN (no ``model.pretrained``):
test accuracy, seconds, the bundle's weights in bytes, and whether ``tc.load(bundle).predict`` on
the test split gives the trainer's test accuracy and log loss.

    python benchmarks/finetune_images.py [--epochs 10] [--hidden 64] [--layers 4]
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def write_digits(root: Path) -> Path:
    from PIL import Image
    from sklearn.datasets import load_digits

    d = load_digits()
    for i, (pixels, digit) in enumerate(zip(d.images, d.target)):
        folder = root / str(digit)
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray((pixels * 255 / 16).astype(np.uint8), mode="L").resize((16, 16)).save(folder / f"{i}.png")
    return root


def write_vit(path: Path, *, hidden: int, layers: int) -> Path:
    from transformers import ViTConfig, ViTImageProcessor, ViTModel

    torch.manual_seed(0)
    config = ViTConfig(image_size=32, patch_size=8, hidden_size=hidden, num_hidden_layers=layers,
                       num_attention_heads=4, intermediate_size=2 * hidden)
    ViTModel(config).save_pretrained(str(path))
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(str(path))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--hidden", type=int, default=64, help="ViT width")
    parser.add_argument("--layers", type=int, default=4, help="ViT blocks")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(1)

    from sklearn.metrics import accuracy_score, log_loss

    import traincraft as tc
    from traincraft.data import Splits, read_table

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        digits = write_digits(tmp / "digits")
        vit = write_vit(tmp / "vit", hidden=args.hidden, layers=args.layers)
        print(f"ViT: {args.layers} blocks, {args.hidden} wide, random weights; {args.epochs} epochs, 1 thread")
        print(f"{'model':<8} {'test acc':>8} {'seconds':>8} {'bundle B':>10}  bundle reproduces the trainer")
        for tune in ("scratch", "head", "lora", "full"):
            recipe = {
                "data": {"source": str(digits), "label": "label"},
                "model": {"hidden": [64]} if tune == "scratch" else {"pretrained": str(vit), "tune": tune, "hidden": [64]},
                "train": {"epochs": args.epochs, "batch_size": 64, "lr": 2e-3 if tune != "full" else 5e-4, "threads": 1,
                          "early_stopping": {"enabled": False}},
                "evaluate": {"bootstrap": 0},
            }
            started = time.perf_counter()
            run = tc.train(recipe, name=tune, runs_dir=tmp / "runs")
            seconds = time.perf_counter() - started
            table = read_table(str(digits))
            rows = table.loc[Splits.load(run.run_dir / "data" / "splits.json").test]
            model = tc.load(run.bundle_dir)
            out = model.predict(rows.drop(columns=["label"]))
            proba = out[[f"proba_{c}" for c in model.classes]].to_numpy()
            proba = proba / proba.sum(axis=1, keepdims=True)
            truth = rows["label"].astype(str)
            same_acc = accuracy_score(truth, out["prediction"].astype(str)) == run.metrics["test"]["accuracy"]
            loss_gap = abs(log_loss(truth, proba, labels=[str(c) for c in model.classes]) - run.metrics["test"]["log_loss"])
            size = (run.bundle_dir / "model.safetensors").stat().st_size
            print(f"{tune:<8} {run.metrics['test']['accuracy']:>8.4f} {seconds:>8.1f} {size:>10,}  "
                  f"accuracy {'equal' if same_acc else 'DIFFERS'}, log loss within {loss_gap:.1e}")


if __name__ == "__main__":
    main()
