"""Head-only tuning: the frozen encoder's outputs, computed once and cached on disk.

With ``model.tune: head`` nothing in the encoder trains, so its pooled vector of each text (or
image) is a fixed feature. :func:`encoder_outputs` swaps a split's token ids (or pixel values) for
those vectors (``pooled:<col>``, float32 (N, pooled_size)), which the network reads in place of
running the encoder, and the head trains in seconds. The vectors are stored as safetensors in the
cache folder under a key made of a data fingerprint (sha256 of the encoder's inputs: token ids and
masks, or pixel values) and a model fingerprint (sha256 of the base weights, pooling, pooled
layers, network class), so the same data through the same encoder is encoded once across runs, and
any change to either is a different file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from traincraft._util.atomic import atomic_write_with
from traincraft.features.table import EncodedTable
from traincraft.models.pretrained import PretrainedNet
from traincraft.recipe import Recipe
from traincraft.training import autocast_context, pick_device
from traincraft.training.device import resolve_precision

__all__ = ["encoder_outputs", "head_inputs", "head_cache_dir", "cache_key", "CACHE_FORMAT", "ENCODE_BATCH_SIZE", "ENCODE_IMAGE_BATCH_SIZE"]

log = logging.getLogger(__name__)

CACHE_FORMAT = "traincraft-encoder-outputs-v1"
ENCODE_BATCH_SIZE = 4096  # texts handed to the network at once; it sorts them by length and runs small chunks
ENCODE_IMAGE_BATCH_SIZE = 64  # images per encoder pass: attention and feature-map memory grow with it


def _model_fingerprint(model: PretrainedNet) -> dict[str, object]:
    return {
        "class": type(model).__name__,
        "base_sha256": model.pretrained["sha256"],
        "pooling": model.pooling,
        "layers": model.layers,
        "text" if model.modality == "text" else "image": list(model.column_names),
    }


def _data_fingerprint(x: EncodedTable, model: PretrainedNet) -> str:
    digest = hashlib.sha256()
    for key in model.encoder_keys:  # per text column its ids then its mask; per image column its pixels
        tensor = x[key].contiguous()
        digest.update(f"{key}{tuple(tensor.shape)}{tensor.dtype}".encode())
        digest.update(tensor.numpy().tobytes())
    return digest.hexdigest()


def cache_key(model: PretrainedNet, x: EncodedTable, precision: str = "fp32") -> str:
    """The cache file's name: sha256 of the model and data fingerprints (and the precision)."""
    blob = json.dumps({"model": _model_fingerprint(model), "data": _data_fingerprint(x, model), "precision": precision}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def _compute(model: PretrainedNet, x: EncodedTable, device: torch.device, precision: str) -> dict[str, torch.Tensor]:
    n = int(next(iter(x.values())).shape[0])
    step = ENCODE_BATCH_SIZE if model.modality == "text" else ENCODE_IMAGE_BATCH_SIZE
    was_training = model.training
    model.to(device).eval()
    outs: dict[str, list[torch.Tensor]] = {f"pooled:{name}": [] for name in model.column_names}
    keys = set(model.encoder_keys)
    try:
        with torch.inference_mode(), autocast_context(device, precision):
            for start in range(0, n, step):
                batch = {k: v[start : start + step].to(device) for k, v in x.items() if k in keys}
                for key, value in model.pooled(batch).items():
                    outs[key].append(value.float().cpu())  # (b, pooled_size)
    finally:
        model.train(was_training)
    return {k: torch.cat(v).contiguous() for k, v in outs.items()}


def encoder_outputs(
    model: PretrainedNet,
    x: EncodedTable,
    *,
    cache_dir: str | Path | None,
    device: str | torch.device = "auto",
    precision: str = "auto",
) -> EncodedTable:
    """``x`` with each encoded column's inputs (token ids, pixel values) replaced by the encoder's pooled vectors ``pooled:<col>`` (N, pooled_size).

    Read from ``cache_dir`` when this data went through this encoder before, else computed (eval
    mode, no gradients) and written there atomically; ``cache_dir=None`` computes without caching.
    """
    device = pick_device(device) if isinstance(device, str) else device
    precision = resolve_precision(device, precision)
    other = {k: v for k, v in x.items() if k not in set(model.encoder_keys)}
    path = Path(cache_dir) / f"{cache_key(model, x, precision)}.safetensors" if cache_dir is not None else None
    n = int(next(iter(x.values())).shape[0])
    if path is not None and path.is_file():
        try:
            pooled = load_file(str(path))
        except (SafetensorError, OSError) as exc:
            log.warning("The cached encoder outputs %s are unreadable (%s); computing them again.", path, exc)
        else:
            expected = {f"pooled:{name}" for name in model.column_names}
            if set(pooled) == expected and all(v.shape == (n, model.pooled_size) for v in pooled.values()):
                log.info("Encoder outputs for %d rows read from the cache %s.", n, path)
                return {**pooled, **other}
            log.warning("The cached encoder outputs %s do not fit this data; computing them again.", path)
    started = time.perf_counter()
    pooled = _compute(model, x, device, precision)
    log.info("Encoded %d rows with the frozen encoder in %.1f s.", n, time.perf_counter() - started)
    if path is not None:
        atomic_write_with(path, lambda tmp: save_file(pooled, str(tmp), metadata={"format": CACHE_FORMAT}))
    return {**pooled, **other}


def head_cache_dir(recipe: Recipe, runs_dir: str | Path) -> Path:
    """``model.head_cache``, or ``<runs_dir>/.cache/encoder_outputs`` (shared by the runs there)."""
    return Path(recipe.model.head_cache) if recipe.model.head_cache else Path(runs_dir) / ".cache" / "encoder_outputs"


def head_inputs(
    model: PretrainedNet, recipe: Recipe, runs_dir: str | Path, *splits: EncodedTable | None
) -> tuple[EncodedTable | None, ...]:
    """Each split (None stays None) with the encoder's cached outputs in place of its token ids or pixels."""
    cache_dir = head_cache_dir(recipe, runs_dir)
    return tuple(
        None
        if x is None
        else encoder_outputs(model, x, cache_dir=cache_dir, device=recipe.train.device, precision=recipe.train.precision)
        for x in splits
    )
