"""Sentence embeddings: a text column → one unit-length vector per row from a frozen pretrained encoder.

    embedder = SentenceEmbedder.fit(series, pretrained=resolve_pretrained("minilm").to_json())
    vectors = embedder.transform(series)          # (N, H) float32, each row of length 1

The vectors are the encoder's token vectors averaged over the real tokens and scaled to unit
length, which is how all-MiniLM-L6-v2 was trained to be compared (cosine similarity); on unit
vectors the Euclidean distance k-means uses ranks pairs as the cosine does. Nothing is learned
from the data, so the JSON is the base-model reference (name, path, sha256 of the weights, checked
when the encoder is loaded) and ``max_length``.
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
import torch

from traincraft.errors import BundleError, RecipeError
from traincraft.features._common import check_fitted, check_kind, missing_mask
from traincraft.models.pretrained import INFERENCE_CHUNK, load_hf_encoder, load_hf_tokenizer, pretrained_dir, weights_sha256

__all__ = ["SentenceEmbedder"]

log = logging.getLogger(__name__)


class SentenceEmbedder:
    """``transform(series)`` → ``(N, H)`` float32 unit vectors (mean-pooled, L2-normalised) for one text column."""

    kind = "sentence_embedding"

    def __init__(self, name: str, pretrained: dict[str, Any], max_length: int = 128) -> None:
        self.name = name
        self.pretrained = dict(pretrained)  # {"name", "path", "sha256"}
        self.max_length = int(max_length)
        self.fitted = False
        self._tokenizer: Any = None
        self._encoder: torch.nn.Module | None = None

    @classmethod
    def fit(cls, series: pd.Series, *, pretrained: dict[str, Any], max_length: int = 128) -> SentenceEmbedder:
        """Nothing is learned; loads the encoder so that a bad directory fails before any work."""
        embedder = cls(str(series.name), pretrained, max_length)
        embedder._load()
        embedder.fitted = True
        return embedder

    @property
    def dim(self) -> int:
        return int(self._load()[1].config.hidden_size)

    def _load(self) -> tuple[Any, torch.nn.Module]:
        if self._encoder is None:
            path = pretrained_dir(self.pretrained)
            expected = self.pretrained.get("sha256")
            if expected and weights_sha256(path) != expected:
                raise BundleError(
                    f"The pretrained encoder in {path} is not the one the embeddings of column '{self.name}' were made with "
                    f"(weights sha256 {weights_sha256(path)[:19]}..., expected {str(expected)[:19]}...). Install the same "
                    "model there, or fit again."
                )
            self._tokenizer = load_hf_tokenizer(path)
            self._encoder = load_hf_encoder(path).eval()
        return self._tokenizer, self._encoder

    @torch.inference_mode()
    def transform(self, series: pd.Series) -> torch.Tensor:
        """``(N, H)`` unit vectors; a missing value is embedded as the empty text."""
        check_fitted(self)
        tokenizer, encoder = self._load()
        missing = missing_mask(series)
        texts = series.astype(object).where(~missing, "").astype(str).tolist()
        out = torch.zeros((len(texts), int(encoder.config.hidden_size)), dtype=torch.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths share a pass: less padding
        for start in range(0, len(order), INFERENCE_CHUNK):
            rows = order[start : start + INFERENCE_CHUNK]
            batch = tokenizer(
                [texts[i] for i in rows], truncation=True, max_length=self.max_length, padding=True, return_tensors="pt"
            )
            hidden = encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state  # (B, L, H)
            mask = batch["attention_mask"].unsqueeze(-1).to(torch.float32)  # (B, L, 1)
            pooled = (hidden.float() * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)  # (B, H)
            out[torch.tensor(rows)] = torch.nn.functional.normalize(pooled, dim=1)
        return out

    def to_json(self) -> dict[str, Any]:
        check_fitted(self)
        return {"type": self.kind, "name": self.name, "pretrained": dict(self.pretrained), "max_length": self.max_length}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> SentenceEmbedder:
        check_kind(d, cls.kind, cls.__name__)
        if not isinstance(d.get("pretrained"), dict):
            raise RecipeError(f"A sentence embedding needs its base-model reference ('pretrained'); got {d!r:.200}.")
        embedder = cls(str(d["name"]), d["pretrained"], int(d.get("max_length", 128)))
        embedder.fitted = True
        return embedder
