"""Image columns: each cell is a path; decoded with Pillow, resized, normalised per channel.

The colour mode is grayscale or RGB; ``auto`` picks grayscale when every training image is
grayscale (Pillow mode ``L`` or ``1``). Images are squashed to ``size`` x ``size`` (bilinear) and
scaled to [0, 1], then standardised with the training split's per-channel mean and std. A
missing cell (or, when not strict, an unreadable file) becomes the all-zero image, i.e. the
training mean. Paths are used as given: absolute, or relative to the working directory.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image, UnidentifiedImageError

from traincraft.errors import SchemaError
from traincraft.features._common import bad_value_error, check_fitted, check_kind, missing_mask, warn_bad_values
from traincraft.recipe import ImageConfig

__all__ = ["ImageEncoder"]

_EXPECTED = "paths of readable image files"
_GRAY_MODES = frozenset({"L", "1"})


def _load(value: Any, mode: str, size: int) -> tuple[np.ndarray | None, bool]:
    """``(uint8 (size, size, C) pixels, was grayscale)``; pixels are None when ``value`` is not a readable image.

    Each image is converted and shrunk as soon as it is decoded, so a column of large photos
    never holds more than one full-size image in memory.
    """
    if not isinstance(value, (str, os.PathLike)):
        return None, False
    try:
        with Image.open(value) as img:
            was_gray = img.mode in _GRAY_MODES
            small = img.convert(mode).resize((size, size), Image.Resampling.BILINEAR)
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError):
        return None, False
    arr = np.asarray(small, dtype=np.uint8)
    return (arr[:, :, None] if arr.ndim == 2 else arr), was_gray


class ImageEncoder:
    """``fit`` on the training column; ``transform`` gives float32 ``(N, C, size, size)``."""

    kind = "image"

    def __init__(self, name: str, config: ImageConfig | None = None) -> None:
        config = config or ImageConfig()
        self.name = name
        self.size = config.size
        self.requested_mode = config.channels
        self.mode = "L" if config.channels == "grayscale" else "RGB"
        self.mean: list[float] = []
        self.std: list[float] = []
        self.fitted = False

    @property
    def channels(self) -> int:
        return 1 if self.mode == "L" else 3

    def _decode(
        self, series: pd.Series, mode: str, use: Callable[[int, np.ndarray, bool], None], *, strict: bool, fitting: bool = False
    ) -> None:
        """Call ``use(row, uint8 (H, W, C) pixels, was grayscale)`` for each readable image, one at a time.

        Missing cells are skipped; unreadable ones are an error naming them all (strict), or
        skipped with a warning.
        """
        missing = missing_mask(series)
        bad = np.zeros(len(series), dtype=bool)
        for i, (value, is_missing) in enumerate(zip(series.to_numpy(dtype=object), missing)):
            if is_missing:
                continue
            arr, was_gray = _load(value, mode, self.size)
            if arr is None:
                bad[i] = True
            else:
                use(i, arr, was_gray)
        if bad.any():
            if strict:
                raise bad_value_error(series, bad, self.name, _EXPECTED, fitting=fitting)
            warn_bad_values(series, bad, self.name, _EXPECTED)

    def fit(self, series: pd.Series) -> ImageEncoder:
        decode_mode = "L" if self.requested_mode == "grayscale" else "RGB"
        channels = 1 if decode_mode == "L" else 3
        total = np.zeros(channels)
        total_sq = np.zeros(channels)
        seen = {"images": 0, "gray": 0}

        def accumulate(_row: int, arr: np.ndarray, was_gray: bool) -> None:
            scaled = arr.astype(np.float64) / 255.0
            total[:] += scaled.sum(axis=(0, 1))
            total_sq[:] += np.square(scaled).sum(axis=(0, 1))
            seen["images"] += 1
            seen["gray"] += int(was_gray)

        self._decode(series, decode_mode, accumulate, strict=True, fitting=True)
        if not seen["images"]:
            raise SchemaError(
                f"Image column '{self.name}' has no images in the training split; "
                "give it paths to image files or set its role to ignore."
            )
        if self.requested_mode == "auto" and seen["gray"] == seen["images"]:
            # every image is grayscale; converted to RGB it has R = G = B, so channel 0 is its L
            self.mode = "L"
            total, total_sq = total[:1], total_sq[:1]
        pixels = seen["images"] * self.size * self.size
        mean = total / pixels
        std = np.sqrt(np.maximum(total_sq / pixels - np.square(mean), 0.0))
        self.mean = [float(m) for m in mean]
        self.std = [float(s) if s > 1e-6 else 1.0 for s in std]  # a constant channel stays 0 after scaling
        self.fitted = True
        return self

    def transform(self, series: pd.Series, *, strict: bool = True) -> np.ndarray:
        check_fitted(self)
        out = np.zeros((len(series), self.channels, self.size, self.size), dtype=np.float32)
        mean = np.asarray(self.mean, dtype=np.float32)[:, None, None]
        std = np.asarray(self.std, dtype=np.float32)[:, None, None]

        def place(row: int, arr: np.ndarray, _was_gray: bool) -> None:
            out[row] = (arr.transpose(2, 0, 1).astype(np.float32) / 255.0 - mean) / std  # (C, H, W)

        self._decode(series, self.mode, place, strict=strict)
        return out

    def to_json(self) -> dict[str, Any]:
        check_fitted(self)
        return {
            "type": self.kind,
            "name": self.name,
            "size": self.size,
            "requested_mode": self.requested_mode,
            "mode": self.mode,
            "mean": self.mean,
            "std": self.std,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ImageEncoder:
        check_kind(d, cls.kind, cls.__name__)
        enc = cls(d["name"], ImageConfig(size=int(d["size"]), channels=d["requested_mode"]))
        enc.mode = d["mode"]
        enc.mean = [float(m) for m in d["mean"]]
        enc.std = [float(s) for s in d["std"]]
        enc.fitted = True
        return enc
