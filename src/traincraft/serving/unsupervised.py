"""Loaded cluster and anomaly bundles: ``predict(df)`` without any training code.

    model = ClusterPredictor(read_unsupervised_bundle("runs/digits/bundle"))
    model.predict(df)        # cluster, distance (to the own centre, in the clustering's feature space)

    model = AnomalyPredictor(read_unsupervised_bundle("runs/cancer/bundle"))
    model.predict(df)        # score (reconstruction error), is_anomaly (score above the bundle's threshold)

Both bundles are ``model.safetensors`` + ``bundle.json`` like a supervised one, with their own
``format`` so that neither is mistaken for the other; the weights' sha256 is checked on load.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from traincraft._util.fingerprint import file_sha256
from traincraft._version import __version__
from traincraft.errors import BundleError, SchemaError
from traincraft.features.cluster_space import ClusterSpace
from traincraft.features.table import TableEncoder
from traincraft.models.autoencoder import AutoEncoder
from traincraft.models.kmeans import KMeans

__all__ = [
    "ClusterPredictor",
    "AnomalyPredictor",
    "UnsupervisedBundle",
    "read_unsupervised_bundle",
    "as_frame",
    "CLUSTER_FORMAT",
    "ANOMALY_FORMAT",
    "UNSUPERVISED_FORMAT_VERSION",
]

log = logging.getLogger(__name__)

CLUSTER_FORMAT = "traincraft-clusters"
ANOMALY_FORMAT = "traincraft-anomaly"
UNSUPERVISED_FORMAT_VERSION = 2  # 2: the cluster bundle holds one "space" (tabular part + text embeddings)
BUNDLE_JSON = "bundle.json"
WEIGHTS_FILE = "model.safetensors"
SCORE_BATCH = 4096  # rows per autoencoder pass


@dataclass
class UnsupervisedBundle:
    """A cluster or anomaly bundle read from disk: its metadata and its tensors (checksum verified)."""

    path: Path
    meta: dict[str, Any]
    state: dict[str, torch.Tensor]


def read_unsupervised_bundle(bundle: str | Path) -> UnsupervisedBundle:
    """Read a cluster or anomaly bundle (the ``bundle`` folder, or its run directory); strict, no pickle."""
    path = Path(bundle)
    if path.is_file() and path.name in (BUNDLE_JSON, WEIGHTS_FILE):
        path = path.parent
    if path.is_dir() and not (path / BUNDLE_JSON).exists() and (path / "bundle" / BUNDLE_JSON).exists():
        path = path / "bundle"
    meta_path, weights_path = path / BUNDLE_JSON, path / WEIGHTS_FILE
    missing = [p.name for p in (meta_path, weights_path) if not p.exists()]
    if missing:
        raise BundleError(f"Bundle {path} is missing {', '.join(missing)}; pass the bundle folder of a cluster or anomaly run.")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(f"{meta_path} is not valid JSON ({exc}); the bundle is corrupt.") from None
    kind = meta.get("format") if isinstance(meta, dict) else None
    if kind not in (CLUSTER_FORMAT, ANOMALY_FORMAT):
        raise BundleError(f"{path} holds a {kind or 'non-traincraft'} bundle, not a cluster or anomaly bundle.")
    if meta.get("format_version") != UNSUPERVISED_FORMAT_VERSION:
        raise BundleError(
            f"Bundle {path} has format version {meta.get('format_version')}; this traincraft ({__version__}) reads "
            f"{UNSUPERVISED_FORMAT_VERSION}. Train it again, or use the traincraft version that wrote it "
            f"({meta.get('versions', {}).get('traincraft')})."
        )
    written_by = meta.get("versions", {}).get("traincraft")
    if written_by != __version__:
        log.warning("Bundle %s was written by traincraft %s; this is %s.", path, written_by, __version__)
    if not meta.get("weights_sha256"):
        raise BundleError(f"{meta_path} has no weights_sha256; the bundle is incomplete or was edited. Train it again.")
    if file_sha256(weights_path) != meta["weights_sha256"]:
        raise BundleError(f"{weights_path} does not match the checksum in {BUNDLE_JSON}; the weights were changed or are corrupt.")
    try:
        state = load_file(str(weights_path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise BundleError(f"{weights_path} could not be read as safetensors ({exc}); the bundle is corrupt.") from None
    return UnsupervisedBundle(path, meta, state)


def as_frame(data: pd.DataFrame | Mapping | Sequence[Mapping]) -> pd.DataFrame:
    """A DataFrame from a DataFrame, one record (dict) or a list of records."""
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, Mapping):
        return pd.DataFrame([dict(data)])
    if isinstance(data, Sequence) and not isinstance(data, (str, bytes)) and all(isinstance(r, Mapping) for r in data):
        return pd.DataFrame(list(data))
    raise SchemaError(f"predict takes a pandas DataFrame, a dict (one record) or a list of dicts; got {type(data).__name__}.")


def _check_columns(frame: pd.DataFrame, needed: list[str]) -> None:
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise SchemaError(
            f"The data lacks {len(missing)} column{'s' if len(missing) > 1 else ''} the model needs: {', '.join(missing[:20])}"
            f"{' ...' if len(missing) > 20 else ''}. The bundle expects: {', '.join(needed[:20])}{' ...' if len(needed) > 20 else ''}."
        )


class ClusterPredictor:
    """A loaded clustering bundle: ``predict(df)`` gives each row's ``cluster`` and ``distance`` to its centre."""

    task = "cluster"

    def __init__(self, bundle: UnsupervisedBundle) -> None:
        if bundle.meta.get("format") != CLUSTER_FORMAT:
            raise BundleError(f"{bundle.path} holds a {bundle.meta.get('format')} bundle, not a cluster bundle.")
        self.path, self.meta = bundle.path, bundle.meta
        try:
            self.space = ClusterSpace.from_json(self.meta["space"])
            self.model = KMeans.from_spec(self.meta["model"])
            self.model.load_state_dict(bundle.state, strict=True)
        except (RuntimeError, KeyError, TypeError) as exc:
            raise BundleError(f"The weights in {self.path} do not fit the clustering described in {BUNDLE_JSON}: {exc!r}") from None
        self.model.eval()

    @property
    def k(self) -> int:
        return self.model.k

    @property
    def input_columns(self) -> list[str]:
        return self.space.columns

    @property
    def metrics(self) -> dict[str, Any]:
        return self.meta.get("metrics", {})

    def __repr__(self) -> str:
        return f"ClusterPredictor(k={self.k}, inputs={len(self.input_columns)}, path='{self.path}')"

    def predict(self, data: pd.DataFrame | Mapping | Sequence[Mapping]) -> pd.DataFrame:
        """``cluster`` (0..k-1) and ``distance`` (Euclidean, to the own centre) for every row."""
        frame = as_frame(data)
        _check_columns(frame, self.input_columns)
        labels, squared = self.model.assign(self.space.transform(frame))  # (N,), (N,)
        return pd.DataFrame({"cluster": labels.numpy(), "distance": np.sqrt(squared.numpy())}, index=frame.index)

    def distances(self, data: pd.DataFrame | Mapping | Sequence[Mapping]) -> np.ndarray:
        """``(N, k)`` Euclidean distance of every row to every centre."""
        frame = as_frame(data)
        _check_columns(frame, self.input_columns)
        with torch.inference_mode():
            return np.sqrt(self.model(self.space.transform(frame)).numpy())


class AnomalyPredictor:
    """A loaded anomaly bundle: ``predict(df)`` gives each row's ``score`` and ``is_anomaly`` (score above the threshold)."""

    task = "anomaly"

    def __init__(self, bundle: UnsupervisedBundle) -> None:
        if bundle.meta.get("format") != ANOMALY_FORMAT:
            raise BundleError(f"{bundle.path} holds a {bundle.meta.get('format')} bundle, not an anomaly bundle.")
        self.path, self.meta = bundle.path, bundle.meta
        try:
            self.encoder = TableEncoder.from_json(self.meta["encoder"])
            spec, config = self.meta["model"]["spec"], self.meta["model"]["config"]
            self.model = AutoEncoder(
                spec, hidden=config["hidden"], bottleneck=config["bottleneck"], dropout=config["dropout"], activation=config["activation"]
            )
            self.model.load_state_dict(bundle.state, strict=True)
            self.threshold = float(self.meta["threshold"])
        except (RuntimeError, KeyError, TypeError, ValueError) as exc:
            raise BundleError(f"The weights in {self.path} do not fit the autoencoder described in {BUNDLE_JSON}: {exc!r}") from None
        self.model.eval()

    @property
    def input_columns(self) -> list[str]:
        return list(self.encoder.columns)

    @property
    def metrics(self) -> dict[str, Any]:
        return self.meta.get("metrics", {})

    def __repr__(self) -> str:
        return f"AnomalyPredictor(threshold={self.threshold:.4g}, inputs={len(self.input_columns)}, path='{self.path}')"

    def scores(self, data: pd.DataFrame | Mapping | Sequence[Mapping]) -> np.ndarray:
        """``(N,)`` reconstruction errors (float64): higher is more anomalous."""
        frame = as_frame(data)
        _check_columns(frame, self.input_columns)
        x = self.encoder.transform(frame, strict=True)
        out = []
        with torch.inference_mode():
            for start in range(0, len(frame), SCORE_BATCH):
                out.append(self.model({k: v[start : start + SCORE_BATCH] for k, v in x.items()})[:, 0].float())  # (B,)
        return torch.cat(out).numpy().astype(np.float64) if out else np.zeros(0)

    def predict(self, data: pd.DataFrame | Mapping | Sequence[Mapping]) -> pd.DataFrame:
        """``score`` and ``is_anomaly`` for every row."""
        frame = as_frame(data)
        scores = self.scores(frame)
        return pd.DataFrame({"score": scores, "is_anomaly": scores > self.threshold}, index=frame.index)
