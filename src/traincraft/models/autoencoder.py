"""AutoEncoder: squeeze a row's encoded features through a narrow code and rebuild them.

Built from the same JSON spec as :class:`~traincraft.models.tabular.TabularNet`
(``TableEncoder.model_spec()``) and fed the same batch keys: ``dense`` (N, D) floats and
``categorical`` (N, K) category indices. The input is the dense features next to a one-hot of
each categorical column; the output rebuilds the dense features (squared error) and gives logits
per categorical column (cross-entropy). A row's *reconstruction error* is the sum of those
terms divided by the number of input columns (D + K), so dense and categorical columns weigh
alike; :meth:`forward` returns it as ``(B, 1)``, which is what the trainer minimises (its mean)
and what anomaly detection scores.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from traincraft.errors import BundleError, SchemaError

__all__ = ["AutoEncoder", "auto_bottleneck"]

_ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU, "tanh": nn.Tanh}
BOTTLENECK_SHARE = 0.25  # `bottleneck: auto` keeps a quarter of the input width ...
BOTTLENECK_MIN, BOTTLENECK_MAX = 2, 32  # ... within these bounds


def auto_bottleneck(input_width: int) -> int:
    """The code width for ``bottleneck: auto``: a quarter of the input, between 2 and 32, below the input."""
    width = round(BOTTLENECK_SHARE * input_width)
    return max(1, min(input_width - 1, max(BOTTLENECK_MIN, min(BOTTLENECK_MAX, width))))


class AutoEncoder(nn.Module):
    """``forward(batch) -> (B, 1)`` reconstruction errors; :meth:`errors` gives them per column."""

    def __init__(
        self,
        spec: dict[str, Any],
        *,
        hidden: list[int],
        bottleneck: int | str = "auto",
        dropout: float = 0.0,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        if not isinstance(spec, dict) or "dense_dim" not in spec:
            raise BundleError(f"An autoencoder is built from a model spec with 'dense_dim'; got {spec!r:.200}.")
        if spec.get("text") or spec.get("image"):
            names = [item["name"] for item in [*spec.get("text", []), *spec.get("image", [])]]
            raise SchemaError(
                f"The anomaly autoencoder rebuilds numeric, boolean, datetime and categorical columns; {', '.join(names)} "
                "(text/image) cannot be rebuilt. Give those columns role: ignore (data.columns.<name>.role)."
            )
        self.dense_dim = int(spec["dense_dim"])
        self.cardinalities = [int(c["cardinality"]) for c in spec.get("categorical", [])]
        width = self.dense_dim + sum(self.cardinalities)
        if width < 2:
            raise SchemaError("An autoencoder needs at least two input features to compress; this table has fewer.")
        code = auto_bottleneck(width) if bottleneck == "auto" else int(bottleneck)
        if code >= width:
            raise SchemaError(
                f"anomaly.bottleneck is {code} but the rows have only {width} encoded features; the code must be narrower "
                "than the input, or the network can copy anomalies as easily as normal rows."
            )
        if activation not in _ACTIVATIONS:
            raise BundleError(f"Unknown activation {activation!r}; allowed: {', '.join(_ACTIVATIONS)}.")
        act = _ACTIVATIONS[activation]
        self.config = {"hidden": [int(h) for h in hidden], "bottleneck": code, "dropout": float(dropout), "activation": activation}
        self.spec = dict(spec)
        enc: list[nn.Module] = [nn.Dropout(dropout)] if dropout > 0 else []
        prev = width
        for h in hidden:
            enc += [nn.Linear(prev, h), act()] + ([nn.Dropout(dropout)] if dropout > 0 else [])
            prev = h
        enc.append(nn.Linear(prev, code))
        dec: list[nn.Module] = [act()]
        prev = code
        for h in reversed(hidden):
            dec += [nn.Linear(prev, h), act()]
            prev = h
        dec.append(nn.Linear(prev, width))
        self.encoder = nn.Sequential(*enc)
        self.decoder = nn.Sequential(*dec)

    @property
    def input_width(self) -> int:
        return self.dense_dim + sum(self.cardinalities)

    @property
    def n_columns(self) -> int:
        """Columns a row's error averages over: dense features plus categorical columns."""
        return self.dense_dim + len(self.cardinalities)

    def _inputs(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor]:
        dense = batch.get("dense") if self.dense_dim else None
        cats = batch.get("categorical") if self.cardinalities else None
        parts = []
        if self.dense_dim:
            if dense is None or dense.shape[1] != self.dense_dim:
                raise SchemaError(f"The autoencoder expects 'dense' with {self.dense_dim} columns.")
            parts.append(dense.float())
        if self.cardinalities:
            if cats is None or cats.shape[1] != len(self.cardinalities):
                raise SchemaError(f"The autoencoder expects 'categorical' with {len(self.cardinalities)} columns.")
            for j, card in enumerate(self.cardinalities):
                parts.append(F.one_hot(cats[:, j].long().clamp(0, card - 1), card).float())
        return dense, cats, torch.cat(parts, dim=1)  # (B, width)

    def errors(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """``(B, D + K)``: squared error per dense feature, cross-entropy per categorical column."""
        dense, cats, x = self._inputs(batch)
        out = self.decoder(self.encoder(x))  # (B, width)
        cols = []
        if self.dense_dim:
            assert dense is not None
            cols.append((out[:, : self.dense_dim] - dense.float()).pow(2))
        offset = self.dense_dim
        for j, card in enumerate(self.cardinalities):
            assert cats is not None
            logits = out[:, offset : offset + card]
            target = cats[:, j].long().clamp(0, card - 1)
            cols.append(F.cross_entropy(logits, target, reduction="none").unsqueeze(1))
            offset += card
        return torch.cat(cols, dim=1)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.errors(batch).mean(dim=1, keepdim=True)  # (B, 1)
