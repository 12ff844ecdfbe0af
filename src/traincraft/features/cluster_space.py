"""The k-means space: raw rows → one float matrix whose Euclidean distances clustering uses.

    space = ClusterSpace.fit(df, schema, recipe.model, scale="shared", text_embedding="minilm")
    x = space.transform(df)                                   # (N, F) float32
    ClusterSpace.from_json(space.to_json()).transform(df)     # the same, from a bundle

Numeric, boolean, datetime and categorical columns go through a :class:`TableEncoder` and
:class:`ClusterFeatures` (dense columns rescaled per ``scale``, one-hot categories). Text columns
need ``cluster.text_embedding``: each becomes the unit-length sentence embedding of a pretrained
encoder (:class:`SentenceEmbedder`), appended to the matrix. Fitting and applying the space are
the same code in training and in serving.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import pandas as pd
import torch

from traincraft.errors import BundleError, DataError, RecipeError, SchemaError
from traincraft.features.sentence_embedding import SentenceEmbedder
from traincraft.features.table import EncodedTable, TableEncoder
from traincraft.recipe import ModelConfig

__all__ = ["ClusterFeatures", "ClusterSpace", "ONE_HOT_SCALE", "CLUSTER_SPACE_FORMAT_VERSION"]

log = logging.getLogger(__name__)

CLUSTER_SPACE_FORMAT_VERSION = 1  # bumped when the JSON below changes incompatibly
ONE_HOT_SCALE = 1.0 / math.sqrt(2.0)  # two different categories end 1 apart, like values 1 std apart
_DENSE_KINDS = ("numeric", "boolean", "datetime")


class ClusterFeatures:
    """Encoded table → one float matrix for distances: dense columns (rescaled per ``scale``) + scaled one-hots.

    ``column`` keeps the encoders' per-column standardisation. ``shared`` multiplies each numeric
    column back by its training std and divides all of them by one common scale (the root mean
    square of those stds), so columns in the same unit keep their relative spread.
    """

    def __init__(self, dense_factors: list[float], cardinalities: list[int], scale: str) -> None:
        self.dense_factors = [float(f) for f in dense_factors]
        self.cardinalities = [int(c) for c in cardinalities]
        self.scale = scale

    @classmethod
    def fit(cls, encoder: TableEncoder, *, scale: str = "column") -> ClusterFeatures:
        if scale not in ("column", "shared"):
            raise RecipeError(f"cluster.scale is {scale!r}; allowed: column, shared.")
        unsupported = [f"{enc.name} ({enc.kind})" for enc in encoder.encoders if enc.kind in ("text", "image")]
        if unsupported:
            raise SchemaError(
                f"Clustering uses numeric, boolean, datetime and categorical columns; {', '.join(unsupported)} cannot be "
                "placed in its distance space as encoded. Give those columns role: ignore (data.columns.<name>.role); "
                "text columns can be embedded instead with cluster.text_embedding: minilm."
            )
        dense = [enc for enc in encoder.encoders if enc.kind in _DENSE_KINDS]
        stds = [float(enc.std) for enc in dense if enc.kind == "numeric"]
        common = math.sqrt(float(np.mean(np.square(stds)))) if stds and scale == "shared" else None
        factors: list[float] = []
        for enc in dense:
            for j in range(enc.dim):  # a numeric encoder's first column is the value, the second its missing flag
                value_column = enc.kind == "numeric" and j == 0
                factors.append(float(enc.std) / common if common and value_column else 1.0)
        cards = [enc.cardinality for enc in encoder.encoders if enc.kind == "categorical"]
        return cls(factors, cards, scale)

    @property
    def dim(self) -> int:
        return len(self.dense_factors) + sum(self.cardinalities)

    def transform(self, table: EncodedTable) -> torch.Tensor:
        """``(N, dim)`` float32 features from an encoded table."""
        parts = []
        if self.dense_factors:
            dense = table["dense"].float()
            if dense.shape[1] != len(self.dense_factors):
                raise DataError(f"The encoded table has {dense.shape[1]} dense columns; the clustering expects {len(self.dense_factors)}.")
            parts.append(dense * torch.tensor(self.dense_factors))
        if self.cardinalities:
            cats = table["categorical"]
            for j, card in enumerate(self.cardinalities):
                parts.append(torch.nn.functional.one_hot(cats[:, j].clamp(0, card - 1), card).float() * ONE_HOT_SCALE)
        if not parts:
            raise SchemaError("There are no feature columns to cluster on.")
        return torch.cat(parts, dim=1).contiguous()

    def to_json(self) -> dict[str, Any]:
        return {"scale": self.scale, "dense_factors": self.dense_factors, "cardinalities": self.cardinalities}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ClusterFeatures:
        return cls(list(d["dense_factors"]), list(d["cardinalities"]), str(d["scale"]))


class ClusterSpace:
    """Raw rows → ``(N, F)`` float32 points: the tabular part (encoder + :class:`ClusterFeatures`), then one
    sentence embedding per text column."""

    def __init__(self, encoder: TableEncoder | None, features: ClusterFeatures | None, text: list[SentenceEmbedder]) -> None:
        if (encoder is None) != (features is None) or (encoder is None and not text):
            raise BundleError("A cluster space needs a table encoder with its features, text embeddings, or both.")
        self.encoder = encoder
        self.features = features
        self.text = list(text)

    @classmethod
    def fit(
        cls,
        frame: pd.DataFrame,
        schema: Any,
        model_config: ModelConfig | dict | None = None,
        *,
        scale: str = "column",
        text_embedding: dict[str, Any] | None = None,
        text_max_length: int = 128,
    ) -> ClusterSpace:
        """Fit on ``frame``'s role=feature columns; ``text_embedding`` is the base-model reference
        (``resolve_pretrained(name).to_json()``) that text columns are embedded with."""
        columns = [c for c in (schema["columns"] if isinstance(schema, dict) else schema.columns)]
        features = [c for c in columns if _field(c, "role") == "feature"]
        text_columns = [str(_field(c, "name")) for c in features if _field(c, "type") == "text"]
        if text_columns and text_embedding is None:
            raise SchemaError(
                f"Clustering cannot place text column(s) {', '.join(text_columns)} in its distance space as they are. "
                "Set cluster.text_embedding: minilm to embed them with a pretrained sentence encoder, or give them "
                "role: ignore (data.columns.<name>.role)."
            )
        if text_embedding is not None and not text_columns:
            log.warning("cluster.text_embedding is set but no feature column is text; it is ignored.")
        rest = [c for c in features if _field(c, "type") != "text"]
        encoder = feats = None
        if rest:
            encoder = TableEncoder.fit(frame, {"columns": rest}, model_config)
            feats = ClusterFeatures.fit(encoder, scale=scale)
        elif not text_columns:
            raise SchemaError("There are no feature columns to cluster on; give at least one column the role 'feature'.")
        text = [SentenceEmbedder.fit(frame[name], pretrained=text_embedding, max_length=text_max_length) for name in text_columns]  # type: ignore[arg-type]
        return cls(encoder, feats, text)

    @property
    def columns(self) -> list[str]:
        """The input columns, tabular ones first."""
        return [*(self.encoder.columns if self.encoder is not None else []), *(e.name for e in self.text)]

    def transform(self, frame: pd.DataFrame) -> torch.Tensor:
        """``(N, F)`` float32 points of the rows of ``frame``."""
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise SchemaError(
                f"The data lacks the column(s) the clustering was fitted on: {', '.join(missing[:20])}. "
                f"It expects: {', '.join(self.columns[:20])}."
            )
        parts = []
        if self.encoder is not None and self.features is not None:
            parts.append(self.features.transform(self.encoder.transform(frame)))  # (N, D + sum K)
        parts += [embedder.transform(frame[embedder.name]) for embedder in self.text]  # (N, H) each
        return torch.cat(parts, dim=1).contiguous() if len(parts) > 1 else parts[0].contiguous()

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "cluster_space",
            "format_version": CLUSTER_SPACE_FORMAT_VERSION,
            "encoder": self.encoder.to_json() if self.encoder is not None else None,
            "features": self.features.to_json() if self.features is not None else None,
            "text": [e.to_json() for e in self.text],
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ClusterSpace:
        if not isinstance(d, dict) or d.get("type") != "cluster_space":
            raise BundleError(f"A cluster space is a dict with \"type\": \"cluster_space\"; got {d!r:.200}.")
        if d.get("format_version") != CLUSTER_SPACE_FORMAT_VERSION:
            raise BundleError(
                f"The cluster space has format version {d.get('format_version')}; this traincraft reads {CLUSTER_SPACE_FORMAT_VERSION}."
            )
        encoder = TableEncoder.from_json(d["encoder"]) if d.get("encoder") is not None else None
        features = ClusterFeatures.from_json(d["features"]) if d.get("features") is not None else None
        return cls(encoder, features, [SentenceEmbedder.from_json(t) for t in d.get("text") or []])


def _field(column: Any, key: str) -> Any:
    return column[key] if isinstance(column, dict) else getattr(column, key)
