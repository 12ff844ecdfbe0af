"""Text columns through a pretrained tokenizer, tokenised once into contiguous tensors.

When the recipe sets ``model.pretrained``, :func:`fit_encoder` gives a :class:`PretrainedTableEncoder`
instead of a :class:`~traincraft.features.table.TableEncoder`. Its ``transform(df)`` is a dict of
tensors with N rows, so a batch is still an index slice::

    "input_ids:<col>"       int64 (N, L)   token ids, right-padded with the tokenizer's pad id
    "attention_mask:<col>"  int64 (N, L)   1 for real tokens, 0 for padding
    "pixel_values:<col>"    float32 (N, C, H, W)   image columns, when the base model is a vision
                                           model (:mod:`traincraft.features.pretrained_image`)
    "dense", "categorical"                 the other feature columns, as TableEncoder gives them

One base model encodes either the text columns or the image columns: a recipe with both is refused.

L is the longest tokenised text of the call, at most ``model.max_length``; the network trims each
batch to its own longest row. The tokenizer comes from the base model's directory, which the JSON
names (with the sha256 of its weights, checked when the network is built); nothing is learned
from the data, so the JSON is a handful of settings. :func:`encoder_from_json` reads either kind.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
import torch

from traincraft.errors import BundleError, DataError, RecipeError, SchemaError
from traincraft.features._common import check_fitted, check_kind, missing_mask
from traincraft.features.table import EncodedTable, TableEncoder, _attr, _schema_columns
from traincraft.features.pretrained_image import PretrainedImageEncoder
from traincraft.models.pretrained import pretrained_dir, check_pretrained_dir, default_lora_targets_for, load_hf_tokenizer, resolve_pretrained
from traincraft.recipe import ModelConfig
from traincraft.recipe._finetune import resolve_layers

__all__ = ["PretrainedTextEncoder", "PretrainedTableEncoder", "fit_encoder", "encoder_from_json", "PRETRAINED_TABLE_FORMAT_VERSION"]

log = logging.getLogger(__name__)

PRETRAINED_TABLE_FORMAT_VERSION = 1  # bumped when the JSON below changes incompatibly
TOKENIZE_CHUNK = 8192  # texts per tokenizer call: bounds the tokenizer's intermediate lists
PRETRAINED_ONLY = ("tune", "pooling", "layers", "max_length", "layer_decay", "lora", "head_cache")  # model.* fields


class PretrainedTextEncoder:
    """``transform`` gives ``(input_ids int64 (N, L), attention_mask int64 (N, L))`` for one text column."""

    kind = "pretrained_text"

    def __init__(self, name: str, pretrained: dict[str, Any], max_length: int) -> None:
        self.name = name
        self.pretrained = dict(pretrained)  # {"name", "path", "sha256"}
        self.max_length = int(max_length)
        self.fitted = False
        self._tokenizer: Any = None

    @property
    def tokenizer(self) -> Any:
        """The base model's tokenizer, loaded on first use."""
        if self._tokenizer is None:
            path = pretrained_dir(self.pretrained)
            check_pretrained_dir(path)
            self._tokenizer = load_hf_tokenizer(path)
        return self._tokenizer

    def fit(self, series: pd.Series) -> PretrainedTextEncoder:
        """Nothing is learned (the vocabulary is the base model's); loads the tokenizer so a bad one fails early."""
        _ = self.tokenizer
        self.fitted = True
        return self

    def transform(self, series: pd.Series, *, strict: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Token ids and mask; any value is text (numbers are written out, missing is empty), so ``strict`` refuses nothing."""
        check_fitted(self)
        missing = missing_mask(series)
        texts = series.astype(object).where(~missing, "").astype(str).tolist()
        tokenizer = self.tokenizer
        rows: list[list[int]] = []
        for start in range(0, len(texts), TOKENIZE_CHUNK):
            encoded = tokenizer(
                texts[start : start + TOKENIZE_CHUNK],
                truncation=True,
                max_length=self.max_length,
                padding=False,
                return_attention_mask=False,
                return_token_type_ids=False,
            )
            rows += encoded["input_ids"]
        width = max((len(r) for r in rows), default=1) or 1
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        ids = np.full((len(rows), width), pad, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        return ids, mask

    def to_json(self) -> dict[str, Any]:
        check_fitted(self)
        return {"type": self.kind, "name": self.name, "pretrained": dict(self.pretrained), "max_length": self.max_length}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> PretrainedTextEncoder:
        check_kind(d, cls.kind, cls.__name__)
        enc = cls(d["name"], d["pretrained"], int(d["max_length"]))
        enc.fitted = True
        return enc


class PretrainedTableEncoder:
    """Text feature columns through the base model's tokenizer (or image columns through its image
    processor); numeric, boolean, datetime and categorical ones through a :class:`TableEncoder`
    (fitted on the training split only)."""

    type = "pretrained_table"

    def __init__(
        self,
        text: list[PretrainedTextEncoder],
        rest: TableEncoder | None,
        *,
        columns: list[str],
        tune: str,
        pooling: str,
        lora: dict[str, Any] | None,
        layers: str = "last",
        image: list[PretrainedImageEncoder] | None = None,
    ) -> None:
        self.text = list(text)
        self.image = list(image or [])
        self.rest = rest
        self._columns = list(columns)
        self.tune = tune
        self.pooling = pooling
        self.layers = layers  # "last" or "all" (model.layers made concrete)
        self.lora = dict(lora) if lora is not None else None

    @property
    def pretrained(self) -> dict[str, Any]:
        """The base model reference ``{"name", "path", "sha256"}`` (shared by every text or image column)."""
        return dict((self.text or self.image)[0].pretrained)

    @property
    def modality(self) -> str:
        """What the base model reads: ``text`` or ``image``."""
        return "image" if self.image else "text"

    @property
    def encoders(self) -> list[Any]:
        """Every column encoder, the base model's ones first."""
        return [*self.text, *self.image, *(self.rest.encoders if self.rest is not None else [])]

    # --- fitting ------------------------------------------------------------------------------------
    @classmethod
    def fit(cls, df_train: pd.DataFrame, schema: Any, model_config: ModelConfig | dict) -> PretrainedTableEncoder:
        config = model_config if isinstance(model_config, ModelConfig) else ModelConfig.model_validate(model_config)
        if not config.pretrained:
            raise RecipeError("PretrainedTableEncoder needs model.pretrained (a model directory or a known name).")
        features = [c for c in _schema_columns(schema) if _attr(c, "role") == "feature"]
        text = [c for c in features if _attr(c, "type") == "text"]
        images = [str(_attr(c, "name")) for c in features if _attr(c, "type") == "image"]
        if not text and not images:
            kinds = ", ".join(f"{_attr(c, 'name')} ({_attr(c, 'type')})" for c in features[:20])
            raise SchemaError(
                f"model.pretrained is set to '{config.pretrained}', a pretrained encoder for text or image columns, but no "
                f"feature column is text or an image (features: {kinds}). Mark the column (data.columns.<name>.type: "
                "text or image) or drop model.pretrained."
            )
        if text and images:
            raise SchemaError(
                f"model.pretrained ('{config.pretrained}') is one base model, for text or for images, but the features "
                f"include text columns ({', '.join(str(_attr(c, 'name')) for c in text)}) and image columns "
                f"({', '.join(images)}). Keep one kind (data.columns.<name>.role: ignore for the others), or train "
                "without model.pretrained (the from-scratch network takes both)."
            )
        if len(df_train) == 0:
            raise DataError("The training split is empty; the encoders cannot be fitted. Check the data and the split.")
        modality = "image" if images else "text"
        ref = resolve_pretrained(config.pretrained, modality=modality)
        reference = ref.to_json()
        names = [str(_attr(c, "name")) for c in features]
        missing = [n for n in names if n not in df_train.columns]
        if missing:
            raise SchemaError(f"The data lacks the feature column(s) {', '.join(missing)}. Columns present: {', '.join(map(str, df_train.columns))}.")
        lora = config.lora.model_dump(mode="json") if config.tune == "lora" else None
        if lora is not None and "target_modules" not in config.lora.model_fields_set:
            lora["target_modules"] = default_lora_targets_for(ref.path, modality=modality)  # the architecture's own names
        layers = resolve_layers(config.layers, config.tune)
        kept = [c for c in features if _attr(c, "type") not in ("text", "image")]
        rest = TableEncoder.fit(df_train, {"columns": kept}, config) if kept else None
        if modality == "image":
            if "max_length" in config.model_fields_set:
                log.warning("model.max_length is ignored: it limits texts, and the pretrained model here reads images.")
            image_encoders = [PretrainedImageEncoder(name, reference).fit(df_train[name]) for name in images]
            log.info("Image columns %s are processed for %s (%s).", ", ".join(images), ref.name, ref.path)
            return cls([], rest, columns=names, tune=config.tune, pooling=config.pooling, lora=lora, layers=layers, image=image_encoders)
        text_encoders = [
            PretrainedTextEncoder(str(_attr(c, "name")), reference, config.max_length).fit(df_train[str(_attr(c, "name"))])
            for c in text
        ]
        log.info("Text columns %s are tokenised by %s (%s).", ", ".join(e.name for e in text_encoders), ref.name, ref.path)
        return cls(text_encoders, rest, columns=names, tune=config.tune, pooling=config.pooling, lora=lora, layers=layers)

    # --- what it needs and gives ---------------------------------------------------------------------
    @property
    def columns(self) -> list[str]:
        """The input columns ``transform`` requires, in schema order."""
        return list(self._columns)

    @property
    def dense_names(self) -> list[str]:
        return self.rest.dense_names if self.rest is not None else []

    def model_spec(self) -> dict[str, Any]:
        """JSON description of the network, for :func:`traincraft.models.build_model` (``kind: pretrained``)."""
        rest = self.rest.model_spec() if self.rest is not None else {"dense_dim": 0, "categorical": []}
        if self.image:
            return {
                "kind": "pretrained_image",
                "pretrained": self.pretrained,
                "tune": self.tune,
                "pooling": self.pooling,
                "layers": self.layers,
                "lora": self.lora,
                "image": [
                    {"name": enc.name, "channels": enc.shape[0], "height": enc.shape[1], "width": enc.shape[2]}  # type: ignore[index]
                    for enc in self.image
                ],
                "dense_dim": rest["dense_dim"],
                "categorical": rest["categorical"],
            }
        return {
            "kind": "pretrained",
            "pretrained": self.pretrained,
            "tune": self.tune,
            "pooling": self.pooling,
            "layers": self.layers,
            "lora": self.lora,
            "max_length": self.text[0].max_length,
            "text": [{"name": enc.name} for enc in self.text],
            "dense_dim": rest["dense_dim"],
            "categorical": rest["categorical"],
        }

    def transform(self, df: pd.DataFrame, *, strict: bool = True) -> EncodedTable:
        """Encode ``df`` (extra columns are ignored); see the module docstring for the keys."""
        missing = [c for c in self._columns if c not in df.columns]
        if missing:
            from traincraft._util.suggest import did_you_mean

            have = [str(c) for c in df.columns]
            hints = "".join(did_you_mean(m, have) for m in missing[:3])
            raise SchemaError(
                f"The data lacks {len(missing)} required column{'s' if len(missing) > 1 else ''}: {', '.join(missing[:20])}. "
                f"Columns present: {', '.join(have[:20])}.{hints}"
            )
        out: EncodedTable = {}
        for enc in self.text:
            ids, mask = enc.transform(df[enc.name], strict=strict)  # (N, L), (N, L)
            out[f"input_ids:{enc.name}"] = torch.from_numpy(ids)
            out[f"attention_mask:{enc.name}"] = torch.from_numpy(mask)
        for image in self.image:
            out[f"pixel_values:{image.name}"] = torch.from_numpy(image.transform(df[image.name], strict=strict))  # (N, C, H, W)
        if self.rest is not None:
            out.update(self.rest.transform(df, strict=strict))
        return out

    # --- JSON ------------------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "format_version": PRETRAINED_TABLE_FORMAT_VERSION,
            "columns": list(self._columns),
            "tune": self.tune,
            "pooling": self.pooling,
            "layers": self.layers,
            "lora": self.lora,
            "text": [enc.to_json() for enc in self.text],
            "image": [enc.to_json() for enc in self.image],
            "rest": self.rest.to_json() if self.rest is not None else None,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> PretrainedTableEncoder:
        if not isinstance(d, dict) or d.get("type") != cls.type:
            raise BundleError(f"The encoder description is not a pretrained table encoder (no \"type\": \"{cls.type}\").")
        version = d.get("format_version")
        if version != PRETRAINED_TABLE_FORMAT_VERSION:
            raise BundleError(
                f"The pretrained table encoder has format version {version}; this traincraft reads version "
                f"{PRETRAINED_TABLE_FORMAT_VERSION}. Use the traincraft version that wrote the bundle, or retrain."
            )
        return cls(
            [PretrainedTextEncoder.from_json(t) for t in d["text"]],
            TableEncoder.from_json(d["rest"]) if d.get("rest") is not None else None,
            columns=list(d["columns"]),
            tune=d["tune"],
            pooling=d["pooling"],
            lora=d.get("lora"),
            layers=d.get("layers", "last"),  # bundles written before model.layers pooled the top layer
            image=[PretrainedImageEncoder.from_json(im) for im in d.get("image", [])],  # absent: a text model
        )

    def __repr__(self) -> str:
        columns = f"image={[e.name for e in self.image]}" if self.image else f"text={[e.name for e in self.text]}"
        return f"PretrainedTableEncoder({columns}, base={self.pretrained['name']!r}, tune={self.tune!r})"


def fit_encoder(df_train: pd.DataFrame, schema: Any, model_config: ModelConfig | dict | None = None) -> TableEncoder | PretrainedTableEncoder:
    """The table encoder the recipe asks for: a :class:`PretrainedTableEncoder` with ``model.pretrained``, else a TableEncoder."""
    config = model_config if isinstance(model_config, ModelConfig) else ModelConfig.model_validate(model_config or {})
    if config.pretrained:
        return PretrainedTableEncoder.fit(df_train, schema, config)
    ignored = [f"model.{name}" for name in PRETRAINED_ONLY if name in config.model_fields_set]
    if ignored:
        log.warning("%s %s ignored: they apply to a pretrained encoder (model.pretrained), which this recipe does not set.", ", ".join(ignored), "is" if len(ignored) == 1 else "are")
    return TableEncoder.fit(df_train, schema, config)


def encoder_from_json(d: dict[str, Any]) -> TableEncoder | PretrainedTableEncoder:
    """Rebuild whichever table encoder a bundle holds (``"type"``: ``table`` or ``pretrained_table``)."""
    kind = d.get("type") if isinstance(d, dict) else None
    if kind == PretrainedTableEncoder.type:
        return PretrainedTableEncoder.from_json(d)
    return TableEncoder.from_json(d)
