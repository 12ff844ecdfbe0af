"""``export``: write a bundle's network in a portable format (ONNX) beside its preprocessing metadata."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from traincraft.errors import RecipeError
from traincraft.serving.bundle import read_bundle

__all__ = ["export", "EXPORT_FORMATS"]

EXPORT_FORMATS = ("onnx",)


def export(bundle: str | Path, *, format: str = "onnx", output: str | Path | None = None, overwrite: bool = False) -> dict[str, Any]:
    """Export ``bundle`` to ``format`` into ``output`` (default: the bundle directory) and describe the result.

    ``tc.load(output, runtime="onnx")`` then predicts with onnxruntime; the encoders come from
    the ``bundle.json`` beside ``model.onnx``. An ``output`` folder holding another bundle's files
    is refused unless ``overwrite``.
    """
    if format not in EXPORT_FORMATS:
        raise RecipeError(f"Unknown export format {format!r}; traincraft exports: {', '.join(EXPORT_FORMATS)}.")
    from traincraft.serving.onnx_export import ONNX_FILE, ONNX_JSON, export_onnx

    contents = read_bundle(bundle)
    target = export_onnx(contents, output, overwrite=overwrite)
    description = json.loads((target / ONNX_JSON).read_text(encoding="utf-8"))
    return {
        "bundle": str(contents.path),
        "format": format,
        "output": str(target),
        "file": str(target / ONNX_FILE),
        "size_bytes": (target / ONNX_FILE).stat().st_size,
        "opset": description["opset"],
        "inputs": description["inputs"],
        "parity_max_abs_logit_difference": description["parity_max_abs_logit_difference"],
    }
