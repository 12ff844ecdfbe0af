"""The policy bundle: ``model.safetensors`` + ``bundle.json``. No pickle: loading cannot execute code.

``bundle.json`` holds ``"format": "traincraft-policy"``, the policy spec the network is rebuilt
from (algorithm, spaces, widths, activation, whether observations are normalised), the
environment id and keyword arguments, the evaluation metrics, the resolved recipe and library
versions. The weights file holds the network and the observation statistics; its sha256 is
checked on load.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import platform
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from traincraft._util.atomic import atomic_write_json, replace_dir
from traincraft._util.fingerprint import file_sha256
from traincraft._version import __version__
from traincraft.errors import BundleError, SchemaError
from traincraft.rl.policy import Policy

__all__ = ["PolicyBundle", "save_policy_bundle", "load_policy", "POLICY_FORMAT", "POLICY_FORMAT_VERSION"]

log = logging.getLogger(__name__)

POLICY_FORMAT = "traincraft-policy"
POLICY_FORMAT_VERSION = 1  # bumped when bundle.json changes incompatibly
BUNDLE_JSON = "bundle.json"
WEIGHTS_FILE = "model.safetensors"
_SPEC_KEYS = ("algorithm", "space", "hidden", "activation", "normalize_obs")


def _versions() -> dict[str, str]:
    versions = {"traincraft": __version__, "python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__}
    try:
        versions["gymnasium"] = importlib.metadata.version("gymnasium")
    except importlib.metadata.PackageNotFoundError:
        pass
    return versions


@dataclass
class PolicyBundle:
    """A policy read from disk: its metadata and the rebuilt :class:`Policy` in eval mode."""

    path: Path
    meta: dict[str, Any]
    policy: Policy

    @property
    def env_id(self) -> str:
        return str(self.meta["env"]["id"])

    @property
    def env_kwargs(self) -> dict[str, Any]:
        return dict(self.meta["env"].get("kwargs") or {})

    task = "rl"

    @property
    def metrics(self) -> dict[str, Any]:
        return dict(self.meta.get("metrics") or {})

    def __repr__(self) -> str:
        return f"PolicyBundle(env={self.env_id!r}, algorithm={self.meta['policy']['algorithm']!r}, path='{self.path}')"

    def predict(self, observations: Any) -> np.ndarray:
        """Deterministic actions as the environment takes them: ints ``(N,)`` (Discrete) or floats ``(N, *shape)``
        clipped to the action bounds (Box), for observations ``(N, obs_dim)``; one observation gives one action."""
        space = self.policy.space
        if space.obs_kind == "discrete":
            raw = np.asarray(observations)
            single = raw.ndim == 0
            codes = raw.reshape(-1)
            if not np.issubdtype(codes.dtype, np.integer) or (codes.size and (codes.min() < 0 or codes.max() >= space.obs_dim)):
                raise SchemaError(
                    f"{self.env_id} observations are integers 0..{space.obs_dim - 1} (a Discrete space); got {observations!r:.120}."
                )
            obs = np.stack([space.encode_obs(c) for c in codes]) if codes.size else np.zeros((0, space.obs_dim), np.float32)
        else:
            try:
                obs = np.asarray(observations, dtype=np.float32)
            except (TypeError, ValueError):
                raise SchemaError(f"Observations must be numbers, shape (N, {space.obs_dim}); got {type(observations).__name__}.") from None
            single = obs.ndim == 1
            obs = obs.reshape(1, -1) if single else obs.reshape(obs.shape[0], -1) if obs.ndim > 1 else obs
            if obs.ndim != 2 or obs.shape[1] != space.obs_dim:
                raise SchemaError(
                    f"{self.env_id} observations have {space.obs_dim} numbers each; got shape {np.asarray(observations).shape}. "
                    f"Pass one observation ({space.obs_dim},) or a batch (N, {space.obs_dim})."
                )
            if not np.isfinite(obs).all():
                raise SchemaError("Observations hold NaN or inf; the policy cannot act on them.")
        actions = self.policy.act(obs)  # (N,) or (N, action_dim)
        if space.action_kind == "box":
            actions = np.stack([space.env_action(a) for a in actions]) if len(actions) else actions.reshape(0, *space.action_shape)
        else:
            actions = actions.astype(np.int64)
        return actions[0] if single else actions


def save_policy_bundle(
    directory: str | Path,
    policy: Policy,
    *,
    env_id: str,
    env_kwargs: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    recipe: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write a policy bundle directory atomically and return its path."""
    state = {k: v.detach().to("cpu").contiguous() for k, v in policy.state_dict().items()}
    meta = {
        "format": POLICY_FORMAT,
        "format_version": POLICY_FORMAT_VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "task": "rl",
        "policy": policy.spec(),
        "env": {"id": env_id, "kwargs": dict(env_kwargs or {})},
        "metrics": dict(metrics or {}),
        "recipe": recipe,
        "versions": _versions(),
        **(extra or {}),
    }

    def fill(tmp: Path) -> None:
        save_file(state, str(tmp / WEIGHTS_FILE), metadata={"format": POLICY_FORMAT})
        meta["weights_sha256"] = file_sha256(tmp / WEIGHTS_FILE)
        atomic_write_json(tmp / BUNDLE_JSON, meta)

    return replace_dir(directory, fill)


def load_policy(directory: str | Path) -> PolicyBundle:
    """Read and validate a policy bundle (a ``bundle`` folder, or the run directory holding one)."""
    path = Path(directory)
    if path.is_file() and path.name in (BUNDLE_JSON, WEIGHTS_FILE):
        path = path.parent
    if not path.is_dir():
        raise BundleError(
            f"Policy bundle {path} does not exist. A bundle is the 'bundle' folder inside a run directory, "
            "e.g. runs/<name>/bundle, written by traincraft train on a task: rl recipe."
        )
    if not (path / BUNDLE_JSON).exists() and (path / "bundle" / BUNDLE_JSON).exists():
        path = path / "bundle"
    meta_path, weights_path = path / BUNDLE_JSON, path / WEIGHTS_FILE
    missing = [p.name for p in (meta_path, weights_path) if not p.exists()]
    if missing:
        raise BundleError(f"Policy bundle {path} is incomplete: {', '.join(missing)} missing. Re-create it with traincraft train.")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(f"{meta_path} is not valid JSON ({exc}); the bundle is corrupt.") from None
    if not isinstance(meta, dict) or meta.get("format") != POLICY_FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise BundleError(
            f"{path} holds a {found or 'non-traincraft'} bundle, not a policy; play needs the bundle of a task: rl run."
        )
    if meta.get("format_version") != POLICY_FORMAT_VERSION:
        raise BundleError(
            f"Policy bundle {path} has format version {meta.get('format_version')}; this traincraft ({__version__}) reads "
            f"version {POLICY_FORMAT_VERSION}. Use the traincraft version that wrote it ({meta.get('versions', {}).get('traincraft')})."
        )
    written_by = meta.get("versions", {}).get("traincraft")
    if written_by != __version__:
        log.warning("Policy bundle %s was written by traincraft %s; this is %s.", path, written_by, __version__)
    spec = meta.get("policy")
    lacking = [k for k in _SPEC_KEYS if not isinstance(spec, dict) or k not in spec]
    if lacking or not isinstance(meta.get("env"), dict) or "id" not in meta["env"]:
        raise BundleError(f"{meta_path} lacks {', '.join(lacking) or 'env.id'} in its policy description; the bundle is corrupt.")
    expected = meta.get("weights_sha256")
    if expected and file_sha256(weights_path) != expected:
        raise BundleError(f"{weights_path} does not match the checksum in {BUNDLE_JSON}; the weights were changed or are corrupt.")
    try:
        state = load_file(str(weights_path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise BundleError(f"{weights_path} could not be read as safetensors ({exc}); the bundle is corrupt.") from None
    try:
        policy = Policy(spec)
        policy.load_state_dict(state, strict=True)
    except (RuntimeError, KeyError, ValueError, TypeError) as exc:
        raise BundleError(f"The weights in {weights_path} do not fit the policy described in {BUNDLE_JSON}: {exc}") from None
    policy.eval()
    return PolicyBundle(path=path, meta=meta, policy=policy)
