"""The model bundle: ``model.safetensors`` + ``bundle.json``. No pickle: loading cannot execute code.

``bundle.json`` holds the schema, the fitted encoders, the label codec, the model spec, metrics, the
resolved recipe, the data fingerprint and library versions. :func:`save_bundle` writes the directory
atomically; :func:`read_bundle` validates it and rebuilds the network.
"""

from __future__ import annotations

import json
import logging
import platform
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from traincraft._version import __version__
from traincraft._util.atomic import atomic_write_json, replace_dir
from traincraft._util.fingerprint import file_sha256
from traincraft.constants import BUNDLE_FORMAT_VERSION
from traincraft.errors import BundleError
from traincraft.models import build_model

__all__ = ["BundleContents", "save_bundle", "read_bundle", "library_versions", "BUNDLE_JSON", "WEIGHTS_FILE"]

log = logging.getLogger(__name__)

BUNDLE_JSON = "bundle.json"
WEIGHTS_FILE = "model.safetensors"


def library_versions() -> dict[str, str]:
    import sklearn

    return {
        "traincraft": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "scikit-learn": sklearn.__version__,
    }


@dataclass
class BundleContents:
    """A bundle read from disk: its metadata (bundle.json) and the rebuilt network in eval mode."""

    path: Path
    meta: dict[str, Any]
    model: torch.nn.Module


def save_bundle(
    directory: str | Path,
    *,
    model: torch.nn.Module,
    task: str,
    label: str | None,
    schema: dict,
    encoder: dict,
    label_codec: dict,
    model_spec: dict,
    model_config: dict,
    out_dim: int,
    metrics: dict,
    recipe: dict,
    data: dict,
    extra: dict | None = None,
) -> Path:
    """Write a bundle directory atomically and return its path."""
    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    meta = {
        "format": "traincraft-bundle",
        "format_version": BUNDLE_FORMAT_VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "task": task,
        "label": label,
        "schema": schema,
        "encoder": encoder,
        "label_codec": label_codec,
        "model": {"spec": model_spec, "config": model_config, "out_dim": out_dim},
        "metrics": metrics,
        "recipe": recipe,
        "data": data,
        "versions": library_versions(),
        **(extra or {}),
    }

    def fill(tmp: Path) -> None:
        save_file(state, str(tmp / WEIGHTS_FILE), metadata={"format": "traincraft-bundle"})
        meta["weights_sha256"] = file_sha256(tmp / WEIGHTS_FILE)
        atomic_write_json(tmp / BUNDLE_JSON, meta)

    return replace_dir(directory, fill)


def read_bundle(directory: str | Path) -> BundleContents:
    """Read and validate a bundle; rebuild its network with the saved weights (strict)."""
    path = Path(directory)
    if path.is_file() and path.name in (BUNDLE_JSON, WEIGHTS_FILE):
        path = path.parent
    if not path.exists():
        raise BundleError(f"Bundle {path} does not exist. A bundle is the 'bundle' folder inside a run directory, e.g. runs/<name>/bundle.")
    if not path.is_dir():
        raise BundleError(f"{path} is not a bundle directory. Pass the folder holding {BUNDLE_JSON} and {WEIGHTS_FILE}.")
    if not (path / BUNDLE_JSON).exists() and (path / "bundle" / BUNDLE_JSON).exists():
        path = path / "bundle"  # a run directory was given
    meta_path, weights_path = path / BUNDLE_JSON, path / WEIGHTS_FILE
    missing = [p.name for p in (meta_path, weights_path) if not p.exists()]
    if missing:
        raise BundleError(f"Bundle {path} is incomplete: {', '.join(missing)} missing. Re-create it with traincraft train.")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(f"{meta_path} is not valid JSON ({exc}); the bundle is corrupt. Re-create it with traincraft train.") from None
    if not isinstance(meta, dict) or meta.get("format") != "traincraft-bundle":
        raise BundleError(f"{meta_path} is not a traincraft bundle description (no \"format\": \"traincraft-bundle\").")
    version = meta.get("format_version")
    if version != BUNDLE_FORMAT_VERSION:
        raise BundleError(
            f"Bundle {path} has format version {version}; this traincraft ({__version__}) reads version "
            f"{BUNDLE_FORMAT_VERSION}. Use the traincraft version that wrote it ({meta.get('versions', {}).get('traincraft')})."
        )
    written_by = meta.get("versions", {}).get("traincraft")
    if written_by != __version__:
        log.warning("Bundle %s was written by traincraft %s; this is %s.", path, written_by, __version__)
    expected_sha = meta.get("weights_sha256")
    if expected_sha and file_sha256(weights_path) != expected_sha:
        raise BundleError(f"{weights_path} does not match the checksum in {BUNDLE_JSON}; the weights were changed or are corrupt.")
    try:
        state = load_file(str(weights_path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise BundleError(f"{weights_path} could not be read as safetensors ({exc}); the bundle is corrupt.") from None
    spec = meta["model"]
    model = build_model(spec["spec"], spec["config"], spec["out_dim"])
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise BundleError(f"The weights in {weights_path} do not fit the model described in {BUNDLE_JSON}: {exc}") from None
    model.eval()
    return BundleContents(path=path, meta=meta, model=model)
