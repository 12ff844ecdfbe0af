"""PretrainedImageNet: a Hugging Face vision encoder from a local directory for the image columns, into an MLP head.

Built from the JSON ``spec`` that :meth:`traincraft.features.pretrained_text.PretrainedTableEncoder.model_spec`
writes for image columns::

    {"kind": "pretrained_image",
     "pretrained": {"name": "/abs/dir", "path": "/abs/dir", "sha256": "sha256:..."},
     "tune": "lora" | "head" | "full", "pooling": "mean" | "cls", "layers": "last" | "all",
     "lora": {"rank", "alpha", "dropout", "target_modules"} or null,
     "image": [{"name", "channels", "height", "width"}], "dense_dim": D, "categorical": [...]}

and fed ``pixel_values:<col>`` (float32 (B, C, H, W), already resized and normalised by the base
model's image processor), plus ``dense`` and ``categorical`` for the other columns; a batch may
carry ``pooled:<col>`` (float (B, pooled_size)) instead, the frozen encoder's outputs cached for
head-only tuning. One image's vector pools a hidden state: a transformer's tokens (B, T, H) by
their mean or the first ([CLS]) token; a convolutional network's feature map (B, C, h, w) by its
mean over positions (global average pooling). With ``layers: all`` every hidden state is pooled,
scaled to unit length and concatenated. The base model's weights, LoRA and the sha256 check are
:class:`~traincraft.models.pretrained.PretrainedNet`'s.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from traincraft.errors import BundleError, RecipeError
from traincraft.models.pretrained import PretrainedNet

__all__ = ["PretrainedImageNet", "PIXEL_KEY", "PROBE_ROWS"]

PIXEL_KEY = "pixel_values:"  # batch key prefix of a pretrained image column, float32 (B, C, H, W)
PROBE_ROWS = 1  # images in the zero batch that measures the pooled width when the network is built


class PretrainedImageNet(PretrainedNet):
    """``forward(batch) -> (B, out_dim)``: pooled vision-encoder vectors of each image column (+ other features) into a head."""

    kind = "pretrained_image"
    modality = "image"
    columns_key = "image"

    def _pooled_width(self, base: nn.Module, spec: dict[str, Any]) -> int:
        shapes = {(int(im["channels"]), int(im["height"]), int(im["width"])) for im in spec["image"]}
        if len(shapes) != 1:
            raise BundleError(f"The image columns of a pretrained image model share one input shape; the spec gives {sorted(shapes)}.")
        self.image_shape = shapes.pop()  # (C, H, W)
        self.base_name = type(base).__name__
        was_training = base.training
        base.eval()
        with torch.no_grad():
            probe = torch.zeros((PROBE_ROWS, *self.image_shape))  # what the width of a pooled vector is, whatever the architecture
            width = int(self._encode_with(base, probe).shape[1])
        base.train(was_training)
        return width

    @property
    def image_names(self) -> list[str]:
        return self.column_names

    @property
    def encoder_keys(self) -> list[str]:
        return [f"{PIXEL_KEY}{name}" for name in self.image_names]

    # --- forward ---------------------------------------------------------------------------------------
    def _pool(self, hidden: torch.Tensor) -> torch.Tensor:
        if hidden.dim() == 4:  # a feature map (B, C, h, w)
            if self.pooling == "cls":
                raise RecipeError(
                    "model.pooling: cls takes a vision transformer's first token, but this base model "
                    f"({self.base_name}) gives feature maps. Use pooling: mean."
                )
            return hidden.float().mean(dim=(2, 3))  # (B, C)
        if hidden.dim() != 3:
            raise BundleError(f"The base model gave a hidden state of shape {tuple(hidden.shape)}; expected (B, T, H) or (B, C, h, w).")
        if self.pooling == "cls":
            return hidden[:, 0].float()  # (B, H)
        return hidden.float().mean(dim=1)  # (B, H): every token is real, images have no padding

    def _encode_with(self, encoder: nn.Module, pixels: torch.Tensor) -> torch.Tensor:
        if self.layers == "last":
            return self._pool(encoder(pixel_values=pixels).last_hidden_state)  # (B, H)
        states = encoder(pixel_values=pixels, output_hidden_states=True).hidden_states  # each (B, T, H) or (B, C, h, w)
        pooled = [nn.functional.normalize(self._pool(h), dim=1) for h in states]  # each (B, H_k), unit length
        return torch.cat(pooled, dim=1)  # (B, sum H_k)

    def encode_images(self, pixels: torch.Tensor) -> torch.Tensor:
        """One pooled vector per image ``(B, pooled_size)`` from pixel values ``(B, C, H, W)``."""
        return self._encode_with(self.encoder, pixels)

    def pooled(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``{"pooled:<col>": (B, pooled_size)}`` for each image column: what head-only tuning caches."""
        return {f"pooled:{name}": self.encode_images(self._input(batch, f"{PIXEL_KEY}{name}")) for name in self.image_names}

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        parts: list[torch.Tensor] = []
        for name in self.image_names:
            cached = batch.get(f"pooled:{name}")
            if cached is None:
                cached = self.encode_images(self._input(batch, f"{PIXEL_KEY}{name}"))
            parts.append(cached)  # (B, pooled_size)
        return self._head(parts, batch)  # (B, out_dim)

    def forward_padded(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """:meth:`forward` (images have no padding to trim): the graph an ONNX export records."""
        return self.forward({k: v for k, v in batch.items() if not k.startswith("pooled:")})
