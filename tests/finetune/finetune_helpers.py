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


VIT_SIZE = 32  # pixels; 4 x 4 patches of 8


def write_tiny_vit(path: Path, *, seed: int = 0) -> Path:
    """A tiny ViT directory (2 layers, 32 wide, random weights): config.json, model.safetensors, preprocessor_config.json."""
    from transformers import ViTConfig, ViTImageProcessor, ViTModel

    path.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    config = ViTConfig(
        image_size=VIT_SIZE, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64
    )
    ViTModel(config).save_pretrained(str(path))
    ViTImageProcessor(size={"height": VIT_SIZE, "width": VIT_SIZE}).save_pretrained(str(path))
    assert (path / "model.safetensors").is_file() and (path / "preprocessor_config.json").is_file()
    return path


def write_tiny_resnet(path: Path, *, seed: int = 0) -> Path:
    """A tiny ResNet directory (convolutions and batch norm, no linear layer): what LoRA on a CNN meets."""
    from transformers import ConvNextImageProcessor, ResNetConfig, ResNetModel

    path.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    ResNetModel(ResNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1])).save_pretrained(str(path))
    ConvNextImageProcessor(size={"shortest_edge": VIT_SIZE}, crop_pct=1.0).save_pretrained(str(path))
    return path


def write_digit_images(root: Path, *, per_class: int, offset: int = 0, digits=range(10)) -> Path:
    """Real handwritten digits (scikit-learn's 8 x 8 scans) as PNG files in one folder per class."""
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    d = load_digits()
    for digit in digits:
        folder = root / str(digit)
        folder.mkdir(parents=True, exist_ok=True)
        for i in np.flatnonzero(d.target == digit)[offset : offset + per_class]:
            pixels = (d.images[i] * 255 / 16).astype(np.uint8)
            Image.fromarray(pixels, mode="L").resize((16, 16)).save(folder / f"{i}.png")
    return root


def image_recipe(source: Path, model_dir: Path, tune: str, **model) -> dict:
    """A recipe for a few quick steps with a tiny vision model on an image folder."""
    return {
        "data": {"source": str(source), "label": "label"},
        "model": {"pretrained": str(model_dir), "tune": tune, "hidden": [16], **model},
        "train": {"epochs": 2, "batch_size": 32, "lr": 1e-3, "threads": 1},
        "evaluate": {"bootstrap": 0},
    }
