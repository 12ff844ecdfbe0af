"""A loaded model that predicts on tables: validation, encoding, a batched forward, decoding.

It carries no training code: the bundle's encoders and network are all it needs.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Union

import numpy as np
import pandas as pd
import torch

from traincraft._util.suggest import did_you_mean
from traincraft.errors import BundleError, RecipeError, SchemaError
from traincraft.features.labels import LabelCodec
from traincraft.features.table import TableEncoder
from traincraft.features.pretrained_text import encoder_from_json
from traincraft.serving.bundle import BundleContents, read_bundle
from traincraft.serving.unsupervised import ANOMALY_FORMAT, CLUSTER_FORMAT, AnomalyPredictor, ClusterPredictor, read_unsupervised_bundle
from traincraft.rl.bundle import POLICY_FORMAT, PolicyBundle, load_policy  # the policy network only: no training code, no gymnasium

__all__ = ["Predictor", "load", "load_predictor", "LoadedModel"]

log = logging.getLogger(__name__)

PREDICT_BATCH = 4096  # rows per forward pass; large enough to amortise Python overhead, small in memory


class Predictor:
    """Predicts with a bundle. ``predict(df)`` gives labels and class probabilities (or values).

    Safe to call from several threads at once: after ``__init__`` nothing here is mutated, the
    encoders are pure functions of their fitted JSON, and the network runs in eval mode under
    ``torch.inference_mode`` (no autograd state, no BatchNorm statistics updated).
    """

    def __init__(self, contents: BundleContents) -> None:
        self.path = contents.path
        self.meta = contents.meta
        self.model = contents.model
        self.task: str = self.meta["task"]
        self.label: str | None = self.meta.get("label")
        self.encoder = encoder_from_json(self.meta["encoder"])  # a TableEncoder, or a pretrained tokenizer's
        self.codec = LabelCodec.from_json(self.meta["label_codec"])
        self.id_column: str | None = next(
            (c["name"] for c in self.meta["schema"]["columns"] if c["role"] == "id"), None
        )

    # --- what the bundle knows --------------------------------------------------------------
    @property
    def classes(self) -> list[Any] | None:
        return None if self.task == "regression" else list(self.codec.classes)

    @property
    def input_columns(self) -> list[str]:
        return list(self.encoder.columns)

    @property
    def metrics(self) -> dict:
        return self.meta.get("metrics", {})

    def __repr__(self) -> str:
        return f"Predictor(task={self.task!r}, label={self.label!r}, inputs={len(self.input_columns)}, path='{self.path}')"

    # --- prediction -----------------------------------------------------------------------------
    def predict(self, data: pd.DataFrame | Mapping | Sequence[Mapping], *, batch_size: int = PREDICT_BATCH) -> pd.DataFrame:
        """Predictions for each row: ``prediction`` and, for classification, ``proba_<class>``.

        Missing required columns are an error that names them; extra columns are ignored; the id
        column (if the schema has one and the input carries it) is copied first.
        """
        frame = self._as_frame(data)
        raw = self.predict_raw(frame, batch_size=batch_size)
        out = pd.DataFrame(index=frame.index)
        if self.id_column and self.id_column in frame.columns:
            out[self.id_column] = frame[self.id_column]
        if self.task == "regression":
            out["prediction"] = raw
        else:
            out["prediction"] = self.codec.decode(raw.argmax(axis=1))
            for i, cls in enumerate(self.codec.classes):
                out[f"proba_{cls}"] = raw[:, i]
        return out

    def predict_proba(self, data: pd.DataFrame | Mapping | Sequence[Mapping], *, batch_size: int = PREDICT_BATCH) -> np.ndarray:
        """Class probabilities (N, C) in the order of :attr:`classes`."""
        if self.task == "regression":
            raise SchemaError("predict_proba is for classification; this bundle predicts a number (regression). Use predict().")
        return self.predict_raw(self._as_frame(data), batch_size=batch_size)

    def predict_raw(self, frame: pd.DataFrame, *, batch_size: int = PREDICT_BATCH) -> np.ndarray:
        """Probabilities (N, C) for classification, values in label units (N,) for regression."""
        self._check_columns(frame)
        n = len(frame)
        out_dim = self.meta["model"]["out_dim"]
        if isinstance(self.encoder, TableEncoder):
            batches = self.encoder.transform_batches(frame, batch_size=batch_size, strict=True)
        else:
            x = self.encoder.transform(frame, strict=True)
            batches = ((np.arange(s, min(s + batch_size, n)), {k: v[s : s + batch_size] for k, v in x.items()}) for s in range(0, n, batch_size))
        logits = torch.zeros((n, out_dim))
        with torch.inference_mode():
            for rows, batch in batches:  # text tables come ordered by length; the rows put them back
                logits[torch.from_numpy(rows)] = self.model(batch).float()  # (B, out_dim)
        if self.task == "regression":
            return np.asarray(self.codec.decode(logits[:, 0].numpy()), dtype=np.float64)
        return torch.softmax(logits, dim=1).numpy().astype(np.float64)

    # --- input checks -----------------------------------------------------------------------------
    def _as_frame(self, data: pd.DataFrame | Mapping | Sequence[Mapping]) -> pd.DataFrame:
        if isinstance(data, pd.DataFrame):
            return data
        if isinstance(data, Mapping):
            return pd.DataFrame([dict(data)])
        if isinstance(data, Sequence) and not isinstance(data, (str, bytes)) and all(isinstance(r, Mapping) for r in data):
            return pd.DataFrame(list(data))
        raise SchemaError(
            f"predict takes a pandas DataFrame, a dict (one record) or a list of dicts; got {type(data).__name__}."
        )

    def _check_columns(self, frame: pd.DataFrame) -> None:
        have = [str(c) for c in frame.columns]
        missing = [c for c in self.input_columns if c not in frame.columns]
        if missing:
            hints = "".join(did_you_mean(m, have) for m in missing[:3])
            raise SchemaError(
                f"The data lacks {len(missing)} column{'s' if len(missing) > 1 else ''} the model needs: "
                f"{', '.join(missing[:20])}{' ...' if len(missing) > 20 else ''}. "
                f"The bundle expects: {', '.join(self.input_columns[:20])}{' ...' if len(self.input_columns) > 20 else ''}.{hints}"
            )


RUNTIMES = ("torch", "onnx")
LoadedModel = Union["Predictor", ClusterPredictor, AnomalyPredictor, PolicyBundle]


def _bundle_format(bundle: str | Path) -> str | None:
    """The ``format`` of the bundle.json at ``bundle`` (a bundle folder, its run directory or the file), if readable."""
    path = Path(bundle)
    candidates = [path] if path.name == "bundle.json" else [path / "bundle.json", path / "bundle" / "bundle.json"]
    for candidate in candidates:
        if candidate.is_file():
            try:
                meta = json.loads(candidate.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError, OSError):
                return None  # read_bundle says what is wrong with it
            return meta.get("format") if isinstance(meta, dict) else None
    return None


def load(bundle: str | Path, *, runtime: str = "torch") -> LoadedModel:
    """Load a bundle directory (or the run directory holding it), whichever task wrote it.

    A supervised bundle gives a :class:`Predictor` (labels and probabilities, or values); a
    ``task: cluster`` bundle a :class:`ClusterPredictor` (cluster and distance per row); a
    ``task: anomaly`` bundle an :class:`AnomalyPredictor` (score and is_anomaly per row); a
    ``task: rl`` bundle a :class:`~traincraft.rl.bundle.PolicyBundle` (``predict(observations)``
    gives actions). Every kind is safetensors + JSON with its weights' sha256 checked: loading runs
    no code from the bundle.

    ``runtime="onnx"`` runs a supervised network in onnxruntime from the ``model.onnx`` that
    ``traincraft export BUNDLE --format onnx`` wrote (the encoders are the same either way).
    """
    if runtime not in RUNTIMES:
        raise RecipeError(f"runtime must be one of {', '.join(RUNTIMES)}; got {runtime!r}.")
    kind = _bundle_format(bundle)
    if kind in (CLUSTER_FORMAT, ANOMALY_FORMAT, POLICY_FORMAT):
        if runtime != "torch":
            raise RecipeError(f"runtime={runtime!r} runs supervised bundles; {bundle} is a {kind} bundle. Load it with runtime='torch'.")
        if kind == POLICY_FORMAT:
            return load_policy(bundle)
        contents = read_unsupervised_bundle(bundle)
        return ClusterPredictor(contents) if kind == CLUSTER_FORMAT else AnomalyPredictor(contents)
    if runtime == "onnx":
        from traincraft.serving.onnx_export import load_onnx

        return load_onnx(bundle)
    return Predictor(read_bundle(bundle))


def load_predictor(bundle: str | Path | LoadedModel, *, runtime: str = "torch", purpose: str = "This") -> Predictor:
    """:func:`load` for the commands that need a supervised model (serve, evaluate): any other kind is a clear error.

    ``bundle`` is a path, or a model :func:`load` returned already (checked the same way, so that
    a cluster, anomaly or policy model is refused up front rather than at its first prediction).
    """
    if isinstance(bundle, (str, os.PathLike)):
        model = load(bundle, runtime=runtime)
    elif isinstance(bundle, (Predictor, ClusterPredictor, AnomalyPredictor, PolicyBundle)):
        model = bundle
    else:
        raise RecipeError(f"{purpose} takes a bundle path or a model from traincraft.load; got {type(bundle).__name__}.")
    if not isinstance(model, Predictor):
        hint = (
            "load it in Python (traincraft.load(bundle).predict(observations)) or run it with traincraft play"
            if model.task == "rl"
            else "load it in Python (traincraft.load(bundle).predict(df)) or score a file with traincraft predict"
        )
        raise BundleError(f"{purpose} needs the bundle of a supervised model; {model.path} is a task: {model.task} bundle. Instead, {hint}.")
    return model
