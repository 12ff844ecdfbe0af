"""``bundle_info``: what a bundle predicts, from what, how well, and what wrote it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from traincraft.serving import Predictor, load

__all__ = ["bundle_info"]


def bundle_info(bundle: str | Path) -> dict[str, Any]:
    """What ``traincraft info`` shows for a bundle of any task (supervised, cluster, anomaly, rl)."""
    predictor = load(bundle)
    meta = predictor.meta
    size = sum(p.stat().st_size for p in Path(predictor.path).iterdir() if p.is_file())
    supervised = isinstance(predictor, Predictor)
    network = predictor.model if hasattr(predictor, "model") else predictor.policy
    # a supervised network's trainable weights; otherwise everything in the weights file (k-means centres are buffers)
    params = sum(p.numel() for p in network.parameters()) if supervised else sum(t.numel() for t in network.state_dict().values())
    if "schema" in meta:
        inputs = [{"name": c["name"], "type": c["type"]} for c in meta["schema"]["columns"] if c["role"] == "feature"]
    else:  # a policy acts on observations of its environment
        inputs = [{"name": "observation", "type": f"{meta['policy']['space']['obs_kind']} ({meta['policy']['space']['obs_dim']} numbers)"}]
    metrics = meta.get("metrics", {})
    return {
        "bundle": str(predictor.path),
        "task": predictor.task,
        "label": getattr(predictor, "label", None),
        "classes": predictor.classes if supervised else None,
        "positive_label": meta.get("positive_label"),
        "inputs": inputs,
        "metrics": metrics.get("test", {}) if supervised else metrics,
        "validation_metrics": metrics.get("validation", {}) if supervised else {},
        "parameters": params,
        "size_bytes": size,
        "created": meta.get("created"),
        "data": meta.get("data", {}) if "env" not in meta else {"env": meta["env"]},
        "versions": meta.get("versions", {}),
    }
