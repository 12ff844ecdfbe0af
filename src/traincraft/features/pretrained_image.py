"""Image columns through a pretrained model's image processor, into contiguous pixel tensors.

When ``model.pretrained`` names a vision model (a local Hugging Face directory with
``preprocessor_config.json``) and the features are image columns, each column is encoded by a
:class:`PretrainedImageEncoder`: every cell (a path) is decoded with Pillow, converted to the
model's colour mode, and resized, rescaled and normalised by the directory's image processor
(``AutoImageProcessor`` on its Pillow backend; torchvision is not needed)::

    "pixel_values:<col>"   float32 (N, C, H, W)

Nothing is learned from the data; the JSON names the base model (with its weights' sha256) and
the processed shape. A missing cell is the all-zero input (the processor's mean image); an
unreadable file is an error naming the rows (``strict``), or the zero input with a warning.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image, UnidentifiedImageError

from traincraft.errors import BundleError, SchemaError
from traincraft.features._common import bad_value_error, check_fitted, check_kind, missing_mask, warn_bad_values
from traincraft.models.pretrained import check_pretrained_dir, load_hf_image_processor, pretrained_dir

__all__ = ["PretrainedImageEncoder", "PROCESS_CHUNK"]

PROCESS_CHUNK = 256  # decoded images handed to the image processor at once: bounds the full-size images held
_EXPECTED = "paths of readable image files"


def _model_mode(path: Any) -> str:
    """Pillow mode the base model takes: ``L`` for a one-channel model, else ``RGB``."""
    import json

    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return "RGB"  # check_pretrained_dir has said what is wrong with it
    return "L" if int(config.get("num_channels", 3) or 3) == 1 else "RGB"


class PretrainedImageEncoder:
    """``transform`` gives float32 ``(N, C, H, W)`` pixel values for one image column."""

    kind = "pretrained_image"

    def __init__(self, name: str, pretrained: dict[str, Any]) -> None:
        self.name = name
        self.pretrained = dict(pretrained)  # {"name", "path", "sha256"}
        self.shape: tuple[int, int, int] | None = None  # (C, H, W) the processor gives
        self.mode = "RGB"
        self.fitted = False
        self._processor: Any = None

    @property
    def processor(self) -> Any:
        """The base model's image processor, loaded on first use."""
        if self._processor is None:
            path = pretrained_dir(self.pretrained)
            check_pretrained_dir(path, modality="image")
            self.mode = _model_mode(path)
            self._processor = load_hf_image_processor(path)
        return self._processor

    def _process(self, images: list[Image.Image]) -> np.ndarray:
        out = self.processor(images=images, return_tensors="np")["pixel_values"]
        return np.asarray(out, dtype=np.float32)  # (n, C, H, W)

    def fit(self, series: pd.Series) -> PretrainedImageEncoder:
        """Nothing is learned; loads the processor and measures the shape it gives (one fixed size is required).

        The training images themselves are decoded by the ``transform`` that follows (an unreadable
        one is an error there, naming its rows); fitting does not decode them twice.
        """
        _ = self.processor  # loads it and the model's colour mode: a bad directory fails here
        wide = self._process([Image.new(self.mode, (61, 47))])  # odd, non-square sizes: a processor that keeps
        tall = self._process([Image.new(self.mode, (47, 61))])  # the aspect ratio gives two shapes
        if wide.shape[1:] != tall.shape[1:]:
            raise SchemaError(
                f"The image processor of {self.pretrained.get('path')} gives images of different sizes "
                f"({tuple(wide.shape[1:])} and {tuple(tall.shape[1:])}); the network needs one size. Set a fixed "
                "size (height and width, or a crop) in its preprocessor_config.json."
            )
        self.shape = tuple(int(d) for d in wide.shape[1:])  # type: ignore[assignment]
        self.fitted = True
        return self

    def transform(self, series: pd.Series, *, strict: bool = True) -> np.ndarray:
        """Pixel values ``(N, C, H, W)``; missing cells (and unreadable ones when not ``strict``) are zeros."""
        check_fitted(self)
        assert self.shape is not None
        _ = self.processor  # loads it (and the colour mode) before decoding
        out = np.zeros((len(series), *self.shape), dtype=np.float32)
        missing = missing_mask(series)
        bad = np.zeros(len(series), dtype=bool)
        rows: list[int] = []
        images: list[Image.Image] = []

        def flush() -> None:
            if images:
                pixels = self._process(images)  # (n, C, H, W)
                if pixels.shape[1:] != self.shape:
                    raise SchemaError(
                        f"The image processor gave column '{self.name}' images of shape {tuple(pixels.shape[1:])}; "
                        f"the model was built for {self.shape}."
                    )
                out[rows] = pixels
                rows.clear()
                images.clear()

        for i, (value, is_missing) in enumerate(zip(series.to_numpy(dtype=object), missing)):
            if is_missing:
                continue
            image = _decode(value, self.mode)
            if image is None:
                bad[i] = True
                continue
            rows.append(i)
            images.append(image)
            if len(images) >= PROCESS_CHUNK:
                flush()
        flush()
        if bad.any():
            if strict:
                raise bad_value_error(series, bad, self.name, _EXPECTED)
            warn_bad_values(series, bad, self.name, _EXPECTED)
        return out

    def to_json(self) -> dict[str, Any]:
        check_fitted(self)
        return {"type": self.kind, "name": self.name, "pretrained": dict(self.pretrained), "shape": list(self.shape or ())}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> PretrainedImageEncoder:
        check_kind(d, cls.kind, cls.__name__)
        shape = d.get("shape")
        if not isinstance(shape, list) or len(shape) != 3:
            raise BundleError(f"A pretrained image encoder needs its processed shape [C, H, W]; got {shape!r}.")
        enc = cls(d["name"], d["pretrained"])
        enc.shape = tuple(int(v) for v in shape)  # type: ignore[assignment]
        enc.fitted = True
        return enc


def _decode(value: Any, mode: str) -> Image.Image | None:
    """The image at ``value`` (a path) decoded in ``mode``, or None when it is not a readable image."""
    if not isinstance(value, (str, os.PathLike)):
        return None
    try:
        with Image.open(value) as img:
            return img.convert(mode)  # convert() loads the pixels: the file can be closed
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError):
        return None
