"""``export BUNDLE --merge``: a LoRA (or head-only) bundle rewritten with full encoder weights.

A LoRA bundle holds the adapter and the head and names its base model (name and sha256 of its
weights); the merged bundle folds each update into its weight, ``W' = W + (alpha / r) * B @ A``,
and stores every encoder weight, so it predicts the same (to float rounding) with no peft at
serving time and no LoRA arithmetic per forward pass. It still reads the tokenizer and the
architecture from the base model's directory, whose weights' sha256 it keeps checking.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from traincraft.errors import BundleError
from traincraft.models.pretrained import PretrainedNet
from traincraft.serving.bundle import BUNDLE_JSON, WEIGHTS_FILE, read_bundle, save_bundle

__all__ = ["merge_bundle"]

log = logging.getLogger(__name__)

_SAVED_KEYS = (
    "task", "label", "schema", "encoder", "label_codec", "model", "metrics", "recipe", "data",
)
_WRITTEN_KEYS = ("format", "format_version", "created", "versions", "weights_sha256")  # save_bundle writes these anew


def merge_bundle(src: str | Path, dst: str | Path, *, overwrite: bool = False) -> Path:
    """Write the bundle ``src`` (``tune: lora`` or ``head``) as a bundle with full weights at ``dst``; return ``dst``.

    ``dst`` must not exist unless ``overwrite``; it cannot be ``src`` (the adapter bundle is kept).
    """
    contents = read_bundle(src)
    model = contents.model
    if not isinstance(model, PretrainedNet):
        raise BundleError(
            f"{contents.path} holds a {type(model).__name__}, not a fine-tuned pretrained encoder; --merge applies "
            "to bundles trained with model.tune: lora (or head)."
        )
    if model.tune == "full":
        raise BundleError(f"{contents.path} was trained with tune: full and holds every weight already; there is nothing to merge.")
    dst = Path(dst)
    if dst.resolve() == contents.path.resolve():
        raise BundleError(f"The merged bundle cannot replace its source {contents.path}; choose another output folder.")
    if dst.exists() and not overwrite:
        raise BundleError(f"{dst} already exists; choose another output folder (or pass overwrite=True / --overwrite).")
    meta = contents.meta
    tuned = model.tune
    model.merge_adapters()
    spec = {**meta["model"]["spec"], **model.spec_changes()}
    config = {**meta["model"]["config"], "tune": "full"}
    encoder = {**meta["encoder"], "tune": "full", "lora": None} if meta["encoder"].get("type") == "pretrained_table" else meta["encoder"]
    extra: dict[str, Any] = {k: v for k, v in meta.items() if k not in _SAVED_KEYS and k not in _WRITTEN_KEYS}
    extra["merged_from"] = {
        "bundle": str(contents.path),
        "tune": tuned,
        "lora": meta["model"]["spec"].get("lora"),
        "weights_sha256": meta.get("weights_sha256"),
    }
    out = save_bundle(
        dst,
        model=model,
        task=meta["task"],
        label=meta.get("label"),
        schema=meta["schema"],
        encoder=encoder,
        label_codec=meta["label_codec"],
        model_spec=spec,
        model_config=config,
        out_dim=meta["model"]["out_dim"],
        metrics=meta.get("metrics", {}),
        recipe=meta.get("recipe", {}),
        data=meta.get("data", {}),
        extra=extra,
    )
    before = (contents.path / WEIGHTS_FILE).stat().st_size
    after = (out / WEIGHTS_FILE).stat().st_size
    log.info("Merged the %s bundle %s (%.2f MB) into %s (%.2f MB); %s names its base.", tuned, contents.path, before / 1e6, out, after / 1e6, BUNDLE_JSON)
    return out
