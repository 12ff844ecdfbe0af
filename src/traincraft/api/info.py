"""``bundle_info``: what a bundle predicts, from what, how well, and what wrote it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from traincraft.serving import load

__all__ = ["bundle_info"]


def bundle_info(bundle: str | Path) -> dict[str, Any]:
    predictor = load(bundle)
    meta = predictor.meta
    size = sum(p.stat().st_size for p in Path(predictor.path).iterdir() if p.is_file())
    params = sum(p.numel() for p in predictor.model.parameters())
    return {
        "bundle": str(predictor.path),
        "task": predictor.task,
        "label": predictor.label,
        "classes": predictor.classes,
        "positive_label": meta.get("positive_label"),
        "inputs": [{"name": c["name"], "type": c["type"]} for c in meta["schema"]["columns"] if c["role"] == "feature"],
        "metrics": meta.get("metrics", {}).get("test", {}),
        "validation_metrics": meta.get("metrics", {}).get("validation", {}),
        "parameters": params,
        "size_bytes": size,
        "created": meta.get("created"),
        "data": meta.get("data", {}),
        "versions": meta.get("versions", {}),
    }
