"""A whole table to tensors: one encoder per feature column, fitted on the training split only.

``TableEncoder.fit(df_train, schema, model_config)`` builds the encoders; ``transform(df)`` gives
an :data:`EncodedTable`, a dict of tensors that all have N rows, so a batch is an index slice::

    "dense"         float32 (N, D)      numeric, boolean and datetime features, in schema order
    "categorical"   int64   (N, K)      one index per categorical column (0 unknown/rare, 1 missing)
    "text:<col>"    int64   (N, L)      hashed n-gram ids, 0 = padding
    "text_w:<col>"  float32 (N, L)      their weights, 0 for padding
    "image:<col>"   float32 (N, C, H, W)

A key is absent when no column feeds it. ``model_spec()`` is the JSON the network is built from
(:func:`traincraft.models.build_model`), and ``to_json()`` / ``from_json()`` carry the fitted
encoders into a bundle.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any, Union

import numpy as np
import pandas as pd
import torch

from traincraft._util.suggest import did_you_mean
from traincraft.errors import BundleError, DataError, SchemaError
from traincraft.features.boolean import BooleanEncoder
from traincraft.features.categorical import CategoricalEncoder
from traincraft.features.datetime import DatetimeEncoder
from traincraft.features.image import ImageEncoder
from traincraft.features.numeric import NumericEncoder
from traincraft.features.text import TextEncoder
from traincraft.recipe import ModelConfig

__all__ = ["EncodedTable", "TableEncoder", "categorical_embedding_dim", "TABLE_FORMAT_VERSION"]

log = logging.getLogger(__name__)

EncodedTable = dict[str, torch.Tensor]
ColumnEncoder = Union[NumericEncoder, BooleanEncoder, DatetimeEncoder, CategoricalEncoder, TextEncoder, ImageEncoder]

TABLE_FORMAT_VERSION = 1  # bumped when the JSON below changes incompatibly
_DENSE_KINDS = ("numeric", "boolean", "datetime")
_ENCODERS: dict[str, type] = {
    "numeric": NumericEncoder,
    "boolean": BooleanEncoder,
    "datetime": DatetimeEncoder,
    "categorical": CategoricalEncoder,
    "text": TextEncoder,
    "image": ImageEncoder,
}
_MAX_CATEGORICAL_DIM = 32  # fastai's rule of thumb below; wider embeddings rarely pay on tabular data
_SHOWN_COLUMNS = 20  # column names listed in a "missing columns" message


def categorical_embedding_dim(cardinality: int) -> int:
    """fastai's rule of thumb: min(32, round(1.6 * cardinality ** 0.56)), at least 1."""
    return max(1, min(_MAX_CATEGORICAL_DIM, round(1.6 * cardinality**0.56)))


def _attr(column: Any, key: str) -> Any:
    """A schema column's field, whether the column is an object or (from JSON) a dict."""
    return column[key] if isinstance(column, dict) else getattr(column, key)


def _schema_columns(schema: Any) -> list[Any]:
    return list(schema["columns"] if isinstance(schema, dict) else schema.columns)


def _names(names: list[str]) -> str:
    shown = ", ".join(str(n) for n in names[:_SHOWN_COLUMNS])
    return shown + (f" ... ({len(names)} in all)" if len(names) > _SHOWN_COLUMNS else "")


class TableEncoder:
    """The fitted encoders of a table's feature columns; see the module docstring for the output."""

    def __init__(
        self,
        encoders: list[ColumnEncoder],
        *,
        categorical_dim: int | None = None,
        text_dim: int = 64,
        conv_channels: list[int] | None = None,
    ) -> None:
        self.encoders = list(encoders)
        self.categorical_dim = categorical_dim
        self.text_dim = text_dim
        self.conv_channels = list(conv_channels if conv_channels is not None else [32, 64])

    # --- fitting ------------------------------------------------------------------------------
    @classmethod
    def fit(cls, df_train: pd.DataFrame, schema: Any, model_config: ModelConfig | dict | None = None) -> TableEncoder:
        """Fit one encoder per role=feature column of ``schema`` on the training rows ``df_train``."""
        config = ModelConfig.model_validate(model_config or {}) if not isinstance(model_config, ModelConfig) else model_config
        features = [c for c in _schema_columns(schema) if _attr(c, "role") == "feature"]
        if not features:
            raise SchemaError(
                "The schema has no feature columns, so there is nothing to learn from. "
                "Give at least one column the role 'feature' (data.columns.<name>.role)."
            )
        if len(df_train) == 0:
            raise DataError("The training split is empty; the encoders cannot be fitted. Check the data and the split.")
        encoder = cls(
            [],
            categorical_dim=config.categorical_dim,
            text_dim=config.text.embedding_dim,
            conv_channels=list(config.image.conv_channels),
        )
        names = [str(_attr(c, "name")) for c in features]
        encoder._check_columns(df_train, names)
        for column, name in zip(features, names):
            kind = _attr(column, "type")
            if kind not in _ENCODERS:
                raise SchemaError(
                    f"Column '{name}' has type {kind!r}; feature columns must be one of {', '.join(_ENCODERS)}."
                )
            if kind == "text":
                enc = TextEncoder(name, config.text)
            elif kind == "image":
                enc = ImageEncoder(name, config.image)
            else:
                enc = _ENCODERS[kind](name)
            encoder.encoders.append(enc.fit(df_train[name]))
        log.debug("Fitted %d column encoders on %d training rows", len(encoder.encoders), len(df_train))
        return encoder

    # --- what it needs and gives ---------------------------------------------------------------
    @property
    def columns(self) -> list[str]:
        """The input columns ``transform`` requires, in schema order."""
        return [enc.name for enc in self.encoders]

    @property
    def dense_names(self) -> list[str]:
        """A name per column of ``"dense"`` (``<col>``, ``<col>__missing``, ``<col>__month_sin`` ...)."""
        return [name for enc in self.encoders if enc.kind in _DENSE_KINDS for name in enc.feature_names]

    def model_spec(self) -> dict[str, Any]:
        """JSON description of the inputs, for :func:`traincraft.models.build_model`."""
        categorical = []
        text = []
        image = []
        for enc in self.encoders:
            if enc.kind == "categorical":
                dim = self.categorical_dim or categorical_embedding_dim(enc.cardinality)
                categorical.append({"name": enc.name, "cardinality": enc.cardinality, "dim": dim})
            elif enc.kind == "text":
                text.append({"name": enc.name, "buckets": enc.buckets, "dim": self.text_dim})
            elif enc.kind == "image":
                image.append(
                    {"name": enc.name, "channels": enc.channels, "size": enc.size, "conv_channels": list(self.conv_channels)}
                )
        return {"dense_dim": len(self.dense_names), "categorical": categorical, "text": text, "image": image}

    # --- transforming --------------------------------------------------------------------------
    def _check_columns(self, df: pd.DataFrame, names: list[str]) -> None:
        missing = [n for n in names if n not in df.columns]
        if missing:
            have = [str(c) for c in df.columns]
            hints = "".join(did_you_mean(m, have) for m in missing[:3])
            raise SchemaError(
                f"The data lacks {len(missing)} required column{'s' if len(missing) > 1 else ''}: {_names(missing)}. "
                f"Columns present: {_names(have)}.{hints}"
            )
        duplicated = sorted({str(c) for c in df.columns[df.columns.duplicated()]} & set(names))
        if duplicated:
            raise SchemaError(
                f"The data has more than one column named {', '.join(repr(d) for d in duplicated)}; rename them so each is unique."
            )

    def transform(self, df: pd.DataFrame, *, strict: bool = True) -> EncodedTable:
        """Encode ``df`` (extra columns are ignored).

        ``strict`` (default) refuses a value of the wrong type (``"abc"`` in a numeric column, an
        unreadable image path) with an error naming the row, column and value; ``strict=False``
        treats such values as missing and logs a warning.
        """
        self._check_columns(df, self.columns)
        return self._encode(df, self.encoders, strict=strict)

    def transform_batches(
        self, df: pd.DataFrame, *, batch_size: int, strict: bool = True
    ) -> Iterator[tuple[np.ndarray, EncodedTable]]:
        """``df`` encoded ``batch_size`` rows at a time: ``(row positions, batch)`` pairs, for inference.

        Without text columns the batches are slices of :meth:`transform` in row order. With text,
        the rows are taken in order of their text length (stable), each text column is hashed once
        for the whole table, and each batch is padded only to its own longest text: a batch
        of short messages does not carry the padding of the longest text in the table (on SMS
        spam, 39% of the ids the table-wide padding gives). The caller puts each batch's
        results back at its row positions.
        """
        self._check_columns(df, self.columns)
        n = len(df)
        texts = [enc for enc in self.encoders if enc.kind == "text"]
        if not texts:
            x = self._encode(df, self.encoders, strict=strict)
            for start in range(0, n, batch_size):
                yield np.arange(start, min(start + batch_size, n)), {k: v[start : start + batch_size] for k, v in x.items()}
            return
        chars = sum(df[enc.name].astype(str).str.len().to_numpy() for enc in texts)  # (N,)
        order = np.argsort(chars, kind="stable")  # a text's n-grams grow with its length
        ordered = df.iloc[order]
        rest = self._encode(ordered, [enc for enc in self.encoders if enc.kind != "text"], strict=strict)
        weights = {enc.name: enc.weights_matrix(ordered[enc.name]) for enc in texts}  # (N, buckets) sparse each
        for start in range(0, n, batch_size):
            batch = {k: v[start : start + batch_size] for k, v in rest.items()}
            for enc in texts:
                ids, w = enc.pad(weights[enc.name], start, start + batch_size)  # (B, L_batch)
                batch[f"text:{enc.name}"] = torch.from_numpy(ids)
                batch[f"text_w:{enc.name}"] = torch.from_numpy(w)
            yield order[start : start + batch_size], batch

    def _encode(self, df: pd.DataFrame, encoders: list[ColumnEncoder], *, strict: bool) -> EncodedTable:
        dense: list[np.ndarray] = []
        categorical: list[np.ndarray] = []
        out: EncodedTable = {}
        for enc in encoders:
            series = df[enc.name]
            if enc.kind in _DENSE_KINDS:
                dense.append(enc.transform(series, strict=strict))  # (N, d_col)
            elif enc.kind == "categorical":
                categorical.append(enc.transform(series, strict=strict))  # (N,)
            elif enc.kind == "text":
                ids, weights = enc.transform(series, strict=strict)  # (N, L), (N, L)
                out[f"text:{enc.name}"] = torch.from_numpy(ids)
                out[f"text_w:{enc.name}"] = torch.from_numpy(weights)
            else:
                out[f"image:{enc.name}"] = torch.from_numpy(enc.transform(series, strict=strict))  # (N, C, H, W)
        if dense:
            out["dense"] = torch.from_numpy(np.ascontiguousarray(np.concatenate(dense, axis=1), dtype=np.float32))  # (N, D)
        if categorical:
            out["categorical"] = torch.from_numpy(np.ascontiguousarray(np.stack(categorical, axis=1)))  # (N, K)
        return out

    # --- JSON ------------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "type": "table",
            "format_version": TABLE_FORMAT_VERSION,
            "categorical_dim": self.categorical_dim,
            "text_dim": self.text_dim,
            "conv_channels": list(self.conv_channels),
            "encoders": [enc.to_json() for enc in self.encoders],
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> TableEncoder:
        if not isinstance(d, dict) or d.get("type") != "table":
            raise BundleError("The encoder description is not a traincraft table encoder (no \"type\": \"table\").")
        version = d.get("format_version")
        if version != TABLE_FORMAT_VERSION:
            raise BundleError(
                f"The table encoder has format version {version}; this traincraft reads version {TABLE_FORMAT_VERSION}. "
                "Use the traincraft version that wrote the bundle, or retrain."
            )
        encoders = []
        for item in d["encoders"]:
            kind = item.get("type") if isinstance(item, dict) else None
            if kind not in _ENCODERS:
                raise BundleError(f"Unknown column encoder type {kind!r}; known: {', '.join(_ENCODERS)}.")
            encoders.append(_ENCODERS[kind].from_json(item))
        return cls(
            encoders,
            categorical_dim=d["categorical_dim"],
            text_dim=int(d["text_dim"]),
            conv_channels=[int(c) for c in d["conv_channels"]],
        )

    def __repr__(self) -> str:
        kinds: dict[str, int] = {}
        for enc in self.encoders:
            kinds[enc.kind] = kinds.get(enc.kind, 0) + 1
        return f"TableEncoder({', '.join(f'{k}={n}' for k, n in kinds.items())})"
