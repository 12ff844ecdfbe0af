"""Models: ``nn.Module``s built from a JSON spec. They know no files, no encoders and no training."""

from __future__ import annotations

from typing import Any

from torch import nn

from traincraft.errors import BundleError
from traincraft.models.cnn import SmallCNN
from traincraft.models.pretrained import PretrainedNet, PretrainedTextNet
from traincraft.models.pretrained_image import PretrainedImageNet
from traincraft.models.tabular import TabularNet
from traincraft.recipe import ModelConfig

__all__ = ["MODEL_KINDS", "PretrainedImageNet", "PretrainedNet", "PretrainedTextNet", "SmallCNN", "TabularNet", "build_model"]

MODEL_KINDS = ("tabular", "pretrained", "pretrained_image")


def build_model(spec: dict[str, Any], config: ModelConfig | dict | None, out_dim: int) -> nn.Module:
    """The network for ``spec`` (from ``TableEncoder.model_spec()``), ``config`` (a ModelConfig or its JSON) and ``out_dim`` outputs.

    ``spec["kind"]`` picks the network: absent or ``"tabular"`` a :class:`TabularNet`, ``"pretrained"``
    a :class:`PretrainedTextNet` (a Hugging Face text encoder; transformers is imported when it is built),
    ``"pretrained_image"`` a :class:`PretrainedImageNet` (a Hugging Face vision encoder).
    """
    kind = spec.get("kind", "tabular") if isinstance(spec, dict) else "tabular"
    if kind == "pretrained":
        return PretrainedTextNet(spec, config, out_dim)
    if kind == "pretrained_image":
        return PretrainedImageNet(spec, config, out_dim)
    if kind != "tabular":
        raise BundleError(f"Unknown model kind {kind!r} in the model spec; known: {', '.join(MODEL_KINDS)}.")
    return TabularNet(spec, config, out_dim)
