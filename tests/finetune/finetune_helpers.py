"""Helpers for the fine-tuning tests: a tiny BERT directory and quick recipes."""

from __future__ import annotations

from pathlib import Path

import torch

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = (
    "free call now win won prize claim txt text reply stop cash urgent mobile new offer award guaranteed "
    "ok i you u me my the a to is in it and for of that have be will can get go got at are not do so what "
    "love home later sorry see how lol good day night tomorrow today come going know think want need"
).split()
CHARS = list("abcdefghijklmnopqrstuvwxyz0123456789.,!?'&:;-/£$%()*+=@#")


def write_tiny_bert(path: Path, *, seed: int = 0, layers: int = 2, hidden: int = 32) -> Path:
    """A tiny BERT directory: config.json, model.safetensors, vocab.txt, tokenizer_config.json."""
    from transformers import BertConfig, BertModel

    path.mkdir(parents=True, exist_ok=True)
    vocab = SPECIAL + CHARS + [f"##{c}" for c in CHARS] + WORDS
    (path / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    (path / "tokenizer_config.json").write_text(
        '{"tokenizer_class": "BertTokenizer", "do_lower_case": true, "model_max_length": 128}', encoding="utf-8"
    )
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=2 * hidden,
        max_position_embeddings=128,
    )
    BertModel(config).save_pretrained(str(path))
    assert (path / "model.safetensors").is_file()
    return path


def tiny_recipe(model_dir: Path, tune: str, **train) -> dict:
    """A recipe for a few quick steps with the tiny model."""
    return {
        "model": {"pretrained": str(model_dir), "tune": tune, "hidden": [8], "max_length": 32},
        "train": {"epochs": 2, "batch_size": 16, "lr": 1e-3, "threads": 1, **train},
        "evaluate": {"bootstrap": 0},
    }


def small_spam(spam_file: Path):
    """160 SMS messages (a third spam), fixed: enough for a few steps of every tuning mode."""
    import pandas as pd

    frame = pd.read_csv(spam_file, sep="\t", header=None, names=["label", "text"], dtype=str, keep_default_na=False)
    frame = frame.drop_duplicates(subset="text")
    spam = frame[frame["label"] == "spam"].sample(55, random_state=0)
    ham = frame[frame["label"] == "ham"].sample(105, random_state=0)
    return pd.concat([spam, ham]).sample(frac=1.0, random_state=1).reset_index(drop=True)


RESUME_EPOCHS = 3


def lora_resume_recipe(model_dir: Path) -> dict:
    """LoRA on the tiny BERT with every source of randomness in play: dropout in the encoder and the adapters."""
    recipe = tiny_recipe(model_dir, "lora", epochs=RESUME_EPOCHS, batch_size=16)
    recipe["model"]["lora"] = {"rank": 4, "alpha": 8, "dropout": 0.2}
    recipe["model"]["dropout"] = 0.2
    recipe["train"]["early_stopping"] = {"enabled": True, "monitor": "val/loss", "patience": 50}
    return recipe
