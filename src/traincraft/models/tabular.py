"""TabularNet: one encoder per input kind, concatenated, into an MLP head.

Built from the JSON ``spec`` that :meth:`traincraft.features.TableEncoder.model_spec` writes::

    {"dense_dim": D,
     "categorical": [{"name", "cardinality", "dim"}],
     "text": [{"name", "buckets", "dim"}],
     "image": [{"name", "channels", "size", "conv_channels"}]}

and fed the matching batch keys (``dense``, ``categorical``, ``text:<col>`` with ``text_w:<col>``,
``image:<col>``). Inputs are encoders in spec order (a ``ModuleList``, since column names may hold
dots that ``ModuleDict`` refuses), so the state_dict keys depend only on the spec.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from traincraft.errors import BundleError, SchemaError
from traincraft.models.cnn import SmallCNN
from traincraft.recipe import ModelConfig

__all__ = ["TabularNet", "ACTIVATIONS", "TEXT_EMBEDDING_INIT_STD", "TEXT_NGRAM_DROPOUT", "dense_and_categorical"]

# Measured on SMS spam (stratified 80/20 split, seed 0; AdamW with TrainConfig's defaults, early
# stopping on validation loss; mean of 3-5 seeds; default TextConfig). With EmbeddingBag's N(0, 1)
# init a text starts as a unit-scale random projection that the head memorises in two epochs:
# test accuracy 0.966, spam F1 0.86. Starting the n-gram embeddings near zero, as fastText does,
# lets the learned ones carry the signal: 0.989 / 0.959 (worst seed 0.985 / 0.943). Dropping
# n-grams while training keeps a rare n-gram from deciding a text alone: 0.992 / 0.968 (worst
# seed 0.991 / 0.964), level with TF-IDF + logistic regression on the same split (0.99 / 0.96).
TEXT_EMBEDDING_INIT_STD = 0.01
TEXT_NGRAM_DROPOUT = 0.7  # share of a text's n-grams dropped at each training step (weights rescaled)

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU, "tanh": nn.Tanh}
_SPEC_KEYS = {
    "categorical": ("name", "cardinality", "dim"),
    "text": ("name", "buckets", "dim"),
    "image": ("name", "channels", "size", "conv_channels"),
}


def _check_spec(spec: Any) -> None:
    if not isinstance(spec, dict) or "dense_dim" not in spec:
        raise BundleError(f"A model spec is a dict with 'dense_dim', 'categorical', 'text' and 'image'; got {spec!r:.200}.")
    for kind, keys in _SPEC_KEYS.items():
        for item in spec.get(kind, []):
            lacking = [k for k in keys if k not in item]
            if lacking:
                raise BundleError(f"Model spec entry {item!r:.200} under '{kind}' lacks {', '.join(lacking)}.")


def dense_and_categorical(net: nn.Module, batch: dict[str, torch.Tensor]) -> list[torch.Tensor]:
    """The head's inputs from the numeric block and the categorical embeddings of ``net`` (a network
    with ``dense_dim``, ``categorical_names``, ``categorical`` and ``_input``): [(B, D), (B, d_j)...]."""
    parts: list[torch.Tensor] = []
    if net.dense_dim:
        parts.append(net._input(batch, "dense"))  # (B, D)
    if net.categorical_names:
        codes = net._input(batch, "categorical")  # (B, K)
        for j, embedding in enumerate(net.categorical):
            parts.append(embedding(codes[:, j]))  # (B, d_j)
    return parts


class TabularNet(nn.Module):
    """``forward(batch) -> (B, out_dim)`` logits (or regression values)."""

    def __init__(self, spec: dict[str, Any], config: ModelConfig | dict | None, out_dim: int) -> None:
        super().__init__()
        _check_spec(spec)
        config = config if isinstance(config, ModelConfig) else ModelConfig.model_validate(config or {})
        if out_dim < 1:
            raise BundleError(f"out_dim must be at least 1, got {out_dim}.")
        self.dense_dim = int(spec["dense_dim"])
        self.categorical_names = [c["name"] for c in spec.get("categorical", [])]
        self.text_names = [t["name"] for t in spec.get("text", [])]
        self.image_names = [i["name"] for i in spec.get("image", [])]

        self.categorical = nn.ModuleList(nn.Embedding(c["cardinality"], c["dim"]) for c in spec.get("categorical", []))
        self.text = nn.ModuleList(
            nn.EmbeddingBag(t["buckets"] + 1, t["dim"], mode="sum", padding_idx=0)  # id 0 is padding
            for t in spec.get("text", [])
        )
        for bag in self.text:
            nn.init.normal_(bag.weight, std=TEXT_EMBEDDING_INIT_STD)
            with torch.no_grad():
                bag.weight[0].zero_()  # padding stays zero (and gets no gradient)
        self.ngram_dropout = TEXT_NGRAM_DROPOUT
        self.image = nn.ModuleList(SmallCNN(i["channels"], list(i["conv_channels"])) for i in spec.get("image", []))

        width = (
            self.dense_dim
            + sum(e.embedding_dim for e in self.categorical)
            + sum(b.embedding_dim for b in self.text)
            + sum(c.out_dim for c in self.image)
        )
        if width == 0:
            raise SchemaError("The model has no inputs: the table has no feature columns that produce features.")
        self.in_dim = width

        layers: list[nn.Module] = []
        for hidden in config.hidden:
            layers += [nn.Linear(width, hidden), ACTIVATIONS[config.activation](), nn.Dropout(config.dropout)]
            width = hidden
        layers.append(nn.Linear(width, out_dim))
        self.head = nn.Sequential(*layers)
        self.out_dim = out_dim

    def _input(self, batch: dict[str, torch.Tensor], key: str) -> torch.Tensor:
        try:
            return batch[key]
        except KeyError:
            raise SchemaError(
                f"The batch lacks '{key}'; this model reads {', '.join(self.input_keys)}. "
                "Encode the data with the TableEncoder the model was built from."
            ) from None

    @property
    def input_keys(self) -> list[str]:
        keys = ["dense"] if self.dense_dim else []
        keys += ["categorical"] if self.categorical_names else []
        for name in self.text_names:
            keys += [f"text:{name}", f"text_w:{name}"]
        keys += [f"image:{name}" for name in self.image_names]
        return keys

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        parts = dense_and_categorical(self, batch)
        for name, bag in zip(self.text_names, self.text):
            ids = self._input(batch, f"text:{name}")  # (B, L)
            weights = self._input(batch, f"text_w:{name}")  # (B, L)
            if self.training and self.ngram_dropout > 0:
                keep = torch.rand(weights.shape, device=weights.device) >= self.ngram_dropout  # (B, L)
                weights = weights * keep / (1.0 - self.ngram_dropout)  # drop n-grams, keep the expected sum
            parts.append(bag(ids, per_sample_weights=weights.to(bag.weight.dtype)))  # (B, d_text)
        for name, cnn in zip(self.image_names, self.image):
            parts.append(cnn(self._input(batch, f"image:{name}")))  # (B, C_last)
        h = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]  # (B, in_dim)
        return self.head(h)  # (B, out_dim)
