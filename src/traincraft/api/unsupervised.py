"""``cluster`` and ``detect_anomalies``: unlabelled rows → run directory with metrics, profiles and a bundle.

    tc_run = cluster("examples/clustering/recipe.yaml")         # task: cluster
    tc_run = detect_anomalies(df, recipe={"anomaly": {"contamination": 0.05}})

Clustering fits its encoders and centres on every row (there is no held-out question to answer);
anomaly detection fits encoders and the autoencoder on the training split, stops early on the
validation split, then scores every row. A ``reference`` column (known classes, or known
anomalies) is never a feature: it only scores the result (adjusted Rand index, ROC-AUC).

    runs/<name>/
      recipe.yaml               resolved recipe
      data/manifest.json        rows read; data/splits.json (anomaly)
      metrics.jsonl             cluster: one record per k tried; anomaly: the trainer's per-epoch records
      checkpoints/              anomaly: the trainer's last/ and best/
      clusters.json             k, how it was chosen, silhouette per k, metrics, cluster profiles
      anomalies.json            threshold, metrics, the most anomalous rows and their worst columns
      data/assignments.parquet  row id, cluster, distance   |   data/scores.parquet  row id, score, is_anomaly
      bundle/                   model.safetensors + bundle.json (encoders, features, model spec, threshold)
      run.json                  summary
      report.html, card.json    the model card: cluster profiles | the most anomalous rows and the threshold

:func:`load_unsupervised` reads either bundle back and predicts on new rows.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch
from safetensors.torch import save_file

from traincraft._util.atomic import atomic_write_json, atomic_write_text, replace_dir
from traincraft._util.fingerprint import file_sha256, frame_fingerprint
from traincraft._util.seed import seed_everything, set_threads
from traincraft._util.suggest import did_you_mean
from traincraft.api._inputs import read_source, resolve_recipe, source_name
from traincraft.api._run_summary import write_run_summary
from traincraft.api.run_dir import RunPaths, new_run_dir
from traincraft.data import Schema, infer_schema, make_splits, write_table
from traincraft.errors import RecipeError, SchemaError
from traincraft.features.cluster_space import ClusterSpace
from traincraft.features.table import TableEncoder
from traincraft.models.autoencoder import AutoEncoder
from traincraft.models.pretrained import resolve_pretrained
from traincraft.recipe import Recipe, SplitConfig, save_recipe
from traincraft.report import build_report
from traincraft.serving import library_versions
from traincraft.serving.unsupervised import (
    ANOMALY_FORMAT,
    CLUSTER_FORMAT,
    UNSUPERVISED_FORMAT_VERSION,
    AnomalyPredictor,
    ClusterPredictor,
    read_unsupervised_bundle,
)
from traincraft.training import Callback, FitResult
from traincraft.training.anomaly import anomaly_scores, contamination_threshold, fit_autoencoder
from traincraft.training.clustering import choose_k, cluster_profiles, fit_kmeans, silhouette_score

__all__ = [
    "ClusterRun",
    "AnomalyRun",
    "cluster",
    "detect_anomalies",
    "load_unsupervised",
    "run_task",
    "UNSUPERVISED_TASKS",
]

log = logging.getLogger(__name__)

UNSUPERVISED_TASKS = ("cluster", "anomaly", "rl")
BUNDLE_JSON = "bundle.json"
WEIGHTS_FILE = "model.safetensors"
CLUSTERS_FILE = "clusters.json"
ANOMALIES_FILE = "anomalies.json"
HISTOGRAM_BINS = 40  # bars of the score histogram in anomalies.json and the report
TOP_COLUMNS = 3  # columns named per anomalous row: the ones its reconstruction got most wrong
_TRUE = {"1", "true", "yes", "y", "t", "anomaly", "outlier"}


# --- results ----------------------------------------------------------------------------------------
@dataclass
class ClusterRun:
    """What a clustering run produced."""

    run_dir: Path
    bundle_dir: Path
    k: int
    labels: np.ndarray
    """Cluster of every row, in table order."""
    metrics: dict[str, float]
    scores: list[dict[str, float]]
    """Silhouette and inertia per k tried (one entry for a fixed k)."""
    profiles: list[dict[str, Any]]
    recipe: Recipe
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "run_dir": str(self.run_dir),
            "bundle": str(self.bundle_dir),
            "task": "cluster",
            "k": self.k,
            "metrics": self.metrics,
            "sizes": [p["size"] for p in self.profiles],
            "seconds": round(self.seconds, 3),
        }


@dataclass
class AnomalyRun:
    """What an anomaly-detection run produced."""

    run_dir: Path
    bundle_dir: Path
    scores: np.ndarray
    """Reconstruction error of every row, in table order."""
    flagged: np.ndarray
    """Whether each row scores above the threshold."""
    threshold: float
    metrics: dict[str, float]
    top: list[dict[str, Any]]
    fit: FitResult
    recipe: Recipe
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "run_dir": str(self.run_dir),
            "bundle": str(self.bundle_dir),
            "task": "anomaly",
            "threshold": self.threshold,
            "flagged": int(self.flagged.sum()),
            "metrics": self.metrics,
            "top_rows": [t["row_id"] for t in self.top[:10]],
            "epochs": self.fit.epochs_run,
            "best_epoch": self.fit.best_epoch,
            "device": str(self.fit.device),
            "seconds": round(self.seconds, 3),
        }


# --- shared set-up ----------------------------------------------------------------------------------
@dataclass
class _Prepared:
    cfg: Recipe
    frame: pd.DataFrame
    schema: Schema
    paths: RunPaths
    reference: np.ndarray | None
    features: list[tuple[str, str]] = field(default_factory=list)
    fingerprint: str | None = None  # of the table as read: bundles and the manifest carry it


def _prepare(data: Any, recipe: Any, task: str, name: str | None, runs_dir: str | Path) -> _Prepared:
    """Recipe, table and schema for an unsupervised task; the run directory is made only once they are valid."""
    cfg, frame = resolve_recipe(data, recipe=recipe)
    if cfg.task not in ("auto", task):
        raise RecipeError(f"This recipe has task: {cfg.task}, but {task} was asked for. Set task: {task} (or auto).")
    cfg.task = task  # type: ignore[assignment]
    if name:
        cfg.name = name
    if cfg.data.label:
        raise RecipeError(
            f"task: {task} learns without labels, but data.label is '{cfg.data.label}'. Remove data.label; to score the "
            f"result against a known column, set {task}.reference: {cfg.data.label} instead."
        )
    frame = read_source(cfg) if frame is None else frame.reset_index(drop=True)
    if cfg.data.source and ":" not in cfg.data.source and not Path(cfg.data.source).is_absolute():
        cfg.data.source = str(Path(cfg.data.source).resolve())
    reference_name = cfg.cluster.reference if task == "cluster" else cfg.anomaly.reference
    reference = None
    if reference_name is not None:
        if reference_name not in frame.columns:
            raise SchemaError(
                f"{task}.reference is '{reference_name}', which is not a column of {source_name(cfg)}."
                f"{did_you_mean(reference_name, map(str, frame.columns))} Columns: {', '.join(map(str, frame.columns[:20]))}."
            )
        override = cfg.data.columns.get(reference_name)
        if override is None or override.role != "ignore":
            log.info("%s.reference '%s' is kept out of the features (role: ignore).", task, reference_name)
            columns = dict(cfg.data.columns)
            columns[reference_name] = {"type": override.type if override else None, "role": "ignore"}  # type: ignore[assignment]
            cfg.data.columns = columns  # type: ignore[assignment]
        reference = frame[reference_name].to_numpy()
    schema = infer_schema(frame, label=None, data=cfg.data, source_name=source_name(cfg))
    features = [(c.name, c.type) for c in schema.columns if c.role == "feature"]
    stem = Path(cfg.data.source.rpartition(":")[2]).stem if cfg.data.source else "frame"
    paths = new_run_dir(runs_dir, cfg.name, stem=f"{stem}-{task}")
    cfg.name = cfg.name or paths.root.name
    save_recipe(cfg, paths.recipe)
    paths.data.mkdir(parents=True, exist_ok=True)
    fingerprint = frame_fingerprint(frame)
    atomic_write_json(
        paths.manifest,
        {"source": source_name(cfg), "fingerprint": fingerprint, "rows_in": len(frame), "steps": [], "rows_out": len(frame)},
    )
    log.info("run directory: %s", paths.root)
    set_threads(cfg.train.threads)
    seed_everything(cfg.seed)
    return _Prepared(cfg, frame, schema, paths, reference, features, fingerprint)


def _row_id(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _save_bundle(directory: Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> Path:
    meta = {
        **meta,
        "format_version": UNSUPERVISED_FORMAT_VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": library_versions(),
    }

    def fill(tmp: Path) -> None:
        save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(tmp / WEIGHTS_FILE), metadata={"format": meta["format"]})
        meta["weights_sha256"] = file_sha256(tmp / WEIGHTS_FILE)
        atomic_write_json(tmp / BUNDLE_JSON, meta)

    return replace_dir(directory, fill)


# --- clustering -------------------------------------------------------------------------------------
def cluster(
    data: Any = None,
    *,
    recipe: Recipe | dict | str | Path | None = None,
    name: str | None = None,
    runs_dir: str | Path = "runs",
) -> ClusterRun:
    """Cluster the rows of ``data`` (a recipe file, data file, DataFrame or Recipe) as its ``cluster`` section says."""
    started = time.perf_counter()
    prep = _prepare(data, recipe, "cluster", name, runs_dir)
    cfg, frame, paths = prep.cfg, prep.frame, prep.paths
    ccfg = cfg.cluster
    text_embedding = None
    if ccfg.text_embedding is not None:
        base_dir = Path(cfg.data.source).parent if cfg.data.source and ":" not in cfg.data.source else None
        text_embedding = resolve_pretrained(ccfg.text_embedding, base_dir=base_dir).to_json()
    space = ClusterSpace.fit(
        frame, prep.schema, cfg.model, scale=ccfg.scale, text_embedding=text_embedding, text_max_length=ccfg.text_max_length
    )
    x = space.transform(frame)  # (N, F)
    if ccfg.k == "auto":
        choice = choose_k(x, config=ccfg, seed=cfg.seed)
        fit, scores, chosen_by = choice.fit, choice.scores, f"silhouette over k = {ccfg.k_range[0]}..{ccfg.k_range[1]}"
        silhouette = next(s["silhouette"] for s in scores if s["k"] == choice.k)
    else:
        fit = fit_kmeans(x, int(ccfg.k), config=ccfg, seed=cfg.seed)
        chosen_by = "recipe"
        sample = torch.arange(x.shape[0])
        if x.shape[0] > ccfg.silhouette_sample:
            gen = torch.Generator().manual_seed(cfg.seed)
            sample = torch.randperm(x.shape[0], generator=gen)[: ccfg.silhouette_sample]
        many = int(torch.unique(fit.labels[sample]).numel()) > 1 and int(ccfg.k) < sample.numel()
        silhouette = silhouette_score(x[sample], fit.labels[sample]) if many else math.nan
        scores = [{"k": int(ccfg.k), "silhouette": silhouette, "inertia": fit.inertia}]
    k = fit.model.k
    labels = fit.labels.numpy()
    metrics: dict[str, float] = {"k": k, "inertia": fit.inertia, "silhouette": silhouette}
    if prep.reference is not None:
        from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

        truth = pd.Series(prep.reference).astype("string").fillna("<missing>").to_numpy()
        metrics["adjusted_rand"] = float(adjusted_rand_score(truth, labels))
        metrics["normalized_mutual_info"] = float(normalized_mutual_info_score(truth, labels))
    lines = [
        json.dumps({"epoch": i + 1, "cluster/k": s["k"], "cluster/silhouette": _finite(s["silhouette"]), "cluster/inertia": s["inertia"]})
        for i, s in enumerate(scores)
    ]
    atomic_write_text(paths.metrics, "".join(line + "\n" for line in lines))
    profiles = cluster_profiles(frame, prep.features, labels, fit.distances.numpy(), nearest=ccfg.profile_rows)
    atomic_write_json(
        paths.root / CLUSTERS_FILE,
        {"k": k, "chosen_by": chosen_by, "scale": ccfg.scale, "scores": [{**s, "silhouette": _finite(s["silhouette"])} for s in scores],
         "metrics": _finite_dict(metrics), "restart_inertias": fit.inertias, "profiles": profiles},
    )
    write_table(
        pd.DataFrame({"_row_id": frame.index.to_numpy(), "cluster": labels, "distance": np.sqrt(fit.distances.numpy())}),
        paths.data / "assignments.parquet",
    )
    bundle_dir = _save_bundle(
        paths.bundle,
        {"centers": fit.model.centers},
        {
            "format": CLUSTER_FORMAT,
            "task": "cluster",
            "schema": prep.schema.to_json(),
            "space": space.to_json(),
            "model": fit.model.spec(),
            "metrics": _finite_dict(metrics),
            "recipe": cfg.model_dump(mode="json"),
            "data": {"source": cfg.data.source, "rows": len(frame), "fingerprint": prep.fingerprint},
        },
    )
    run = ClusterRun(paths.root, bundle_dir, k, labels, metrics, scores, profiles, cfg, time.perf_counter() - started)
    write_run_summary(paths, cfg.name, _finite_dict(run.summary()), device="cpu", seconds=run.seconds)  # k-means runs on the CPU
    build_report(paths.root)
    log.info("k=%d (%s): silhouette %.4f%s", k, chosen_by, silhouette,
             f", adjusted Rand {metrics['adjusted_rand']:.4f}" if "adjusted_rand" in metrics else "")
    return run


def _finite(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _finite_dict(d: dict[str, Any]) -> dict[str, Any]:
    return {k: _finite_dict(v) if isinstance(v, dict) else _finite(v) for k, v in d.items()}


# --- anomaly detection ------------------------------------------------------------------------------
def _reference_flags(values: np.ndarray, name: str) -> np.ndarray:
    """Known anomalies as booleans: numbers are nonzero, strings are true/yes/1/anomaly/outlier."""
    series = pd.Series(values)
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.fillna(False).to_numpy(dtype=bool)
    if pd.api.types.is_numeric_dtype(series.dtype):
        return series.fillna(0).to_numpy() != 0
    text = series.astype("string").str.strip().str.lower()
    flags = text.isin(_TRUE).fillna(False).to_numpy(dtype=bool)
    if not flags.any():
        raise SchemaError(
            f"anomaly.reference '{name}' marks no row as an anomaly; use 1/0, true/false or yes/no in that column."
        )
    return flags


def _dense_owners(encoder: TableEncoder) -> list[str]:
    """The source column of every error column of the autoencoder: dense features, then categorical columns."""
    owners: list[str] = []
    for enc in encoder.encoders:
        if enc.kind in ("numeric", "boolean", "datetime"):
            owners += [enc.name] * enc.dim
    owners += [enc.name for enc in encoder.encoders if enc.kind == "categorical"]
    return owners


def detect_anomalies(
    data: Any = None,
    *,
    recipe: Recipe | dict | str | Path | None = None,
    name: str | None = None,
    runs_dir: str | Path = "runs",
    progress: bool | str = False,
    callbacks: Sequence[Callback] = (),
) -> AnomalyRun:
    """Score every row of ``data`` by an autoencoder's reconstruction error and flag the highest (see the module docstring)."""
    started = time.perf_counter()
    prep = _prepare(data, recipe, "anomaly", name, runs_dir)
    cfg, frame, paths, acfg = prep.cfg, prep.frame, prep.paths, prep.cfg.anomaly
    split_cfg = SplitConfig(method="random", train=cfg.split.train + cfg.split.test, validation=cfg.split.validation, test=0.0)
    splits = make_splits(frame, prep.schema, split_cfg, seed=cfg.seed)
    splits.save(paths.splits)
    train_df = frame.loc[splits.train]
    val_df = frame.loc[splits.validation]
    encoder = TableEncoder.fit(train_df, prep.schema, cfg.model)
    model = AutoEncoder(
        encoder.model_spec(), hidden=list(acfg.hidden), bottleneck=acfg.bottleneck, dropout=acfg.dropout, activation=cfg.model.activation
    )
    x_val = encoder.transform(val_df) if len(val_df) else None
    fit = fit_autoencoder(
        model, encoder.transform(train_df), x_val, cfg.train, seed=cfg.seed, run_dir=paths.root, callbacks=callbacks, progress=progress
    )
    x_all = encoder.transform(frame)
    scores = anomaly_scores(model, x_all).numpy().astype(np.float64)
    train_pos = frame.index.get_indexer(splits.train)
    threshold = contamination_threshold(scores[train_pos], acfg.contamination)
    flagged = scores > threshold
    metrics: dict[str, float] = {
        "threshold": threshold,
        "flagged": int(flagged.sum()),
        "flagged_share": float(flagged.mean()),
        "train_error": float(scores[train_pos].mean()),
    }
    if prep.reference is not None:
        from sklearn.metrics import average_precision_score, precision_score, recall_score, roc_auc_score

        truth = _reference_flags(prep.reference, str(acfg.reference))
        if truth.all():
            raise SchemaError(f"anomaly.reference '{acfg.reference}' marks every row as an anomaly; there is nothing normal to compare.")
        metrics.update({
            "roc_auc": float(roc_auc_score(truth, scores)),
            "average_precision": float(average_precision_score(truth, scores)),
            "precision_at_threshold": float(precision_score(truth, flagged, zero_division=0)),
            "recall_at_threshold": float(recall_score(truth, flagged, zero_division=0)),
            "known_anomalies": int(truth.sum()),
        })
    top = _top_rows(model, encoder, frame, x_all, scores, acfg.top)
    atomic_write_json(
        paths.root / ANOMALIES_FILE,
        {"contamination": acfg.contamination, "threshold": threshold, "metrics": metrics, "model": model.config,
         "rows": len(frame), "histogram": _score_histogram(scores), "top": top},
    )
    write_table(
        pd.DataFrame({"_row_id": frame.index.to_numpy(), "score": scores, "is_anomaly": flagged}),
        paths.data / "scores.parquet",
    )
    bundle_dir = _save_bundle(
        paths.bundle,
        model.state_dict(),
        {
            "format": ANOMALY_FORMAT,
            "task": "anomaly",
            "schema": prep.schema.to_json(),
            "encoder": encoder.to_json(),
            "model": {"kind": "autoencoder", "spec": encoder.model_spec(), "config": model.config},
            "threshold": threshold,
            "contamination": acfg.contamination,
            "metrics": metrics,
            "recipe": cfg.model_dump(mode="json"),
            "data": {"source": cfg.data.source, "rows": len(frame), "splits": splits.sizes, "fingerprint": prep.fingerprint},
        },
    )
    run = AnomalyRun(paths.root, bundle_dir, scores, flagged, threshold, metrics, top, fit, cfg, time.perf_counter() - started)
    write_run_summary(paths, cfg.name, run.summary(), device=fit.device, seconds=run.seconds)
    build_report(paths.root)
    log.info("threshold %.4g flags %d of %d rows%s", threshold, int(flagged.sum()), len(frame),
             f"; ROC-AUC {metrics['roc_auc']:.4f} against '{acfg.reference}'" if "roc_auc" in metrics else "")
    return run


def _score_histogram(scores: np.ndarray, bins: int = HISTOGRAM_BINS) -> dict[str, Any]:
    """Counts of the scores in ``bins`` bins equally wide in log10 (reconstruction errors span decades)."""
    positive = scores[np.isfinite(scores) & (scores > 0)]
    if positive.size == 0:
        return {"log10": True, "edges": [], "counts": []}
    low, high = np.log10(positive.min()), np.log10(positive.max())
    counts, edges = np.histogram(np.log10(positive), bins=bins, range=(low, high if high > low else low + 1.0))
    return {"log10": True, "edges": [float(e) for e in edges], "counts": [int(c) for c in counts]}


def _top_rows(
    model: AutoEncoder, encoder: TableEncoder, frame: pd.DataFrame, x: dict[str, torch.Tensor], scores: np.ndarray, top: int
) -> list[dict[str, Any]]:
    """The ``top`` highest-scoring rows, each with the columns its reconstruction missed most."""
    if top == 0:
        return []
    order = np.argsort(-scores, kind="stable")[:top]
    owners = _dense_owners(encoder)
    idx = torch.from_numpy(order)
    model.eval()
    with torch.no_grad():
        errors = model.errors({k: v.index_select(0, idx) for k, v in x.items()}).numpy()  # (top, D + K)
    rows = []
    for row, err in zip(order, errors):
        per_column: dict[str, float] = {}
        for owner, e in zip(owners, err):
            per_column[owner] = per_column.get(owner, 0.0) + float(e)
        total = sum(per_column.values()) or 1.0
        worst = sorted(per_column.items(), key=lambda kv: -kv[1])[:TOP_COLUMNS]
        rows.append({
            "row_id": _row_id(frame.index[row]),
            "score": float(scores[row]),
            "columns": [{"column": c, "share_of_error": round(v / total, 4), "value": _row_id(frame.iloc[row][c])} for c, v in worst],
        })
    return rows


# --- loading a bundle back ------------------------------------------------------------------------
def load_unsupervised(bundle: str | Path) -> ClusterPredictor | AnomalyPredictor:
    """Read a clustering or anomaly bundle (the ``bundle`` folder, or its run directory); strict, no pickle.

    The same as ``traincraft.load`` for these bundles (serving owns the loaded models).
    """
    contents = read_unsupervised_bundle(bundle)
    return ClusterPredictor(contents) if contents.meta["format"] == CLUSTER_FORMAT else AnomalyPredictor(contents)


# --- dispatch from train() --------------------------------------------------------------------------
def run_task(
    cfg: Recipe,
    frame: pd.DataFrame | None = None,
    *,
    name: str | None = None,
    runs_dir: str | Path = "runs",
    resume: str | Path | None = None,
    progress: bool | str = False,
    callbacks: Sequence[Callback] = (),
) -> ClusterRun | AnomalyRun | Any:
    """Run a ``task: cluster | anomaly | rl`` recipe; what ``traincraft.train`` calls for those tasks."""
    if cfg.task == "rl":
        from traincraft.api.rl import train_rl

        return train_rl(cfg, name=name, runs_dir=runs_dir, resume=resume, progress=progress, callbacks=callbacks)
    if resume is not None:
        raise RecipeError(f"--resume continues supervised and rl runs; a task: {cfg.task} run is short, so start it again.")
    data = frame if frame is not None else cfg
    recipe = cfg if frame is not None else None
    if cfg.task == "cluster":
        return cluster(data, recipe=recipe, name=name, runs_dir=runs_dir)
    if cfg.task == "anomaly":
        return detect_anomalies(data, recipe=recipe, name=name, runs_dir=runs_dir, progress=progress, callbacks=callbacks)
    raise RecipeError(f"run_task handles tasks {', '.join(UNSUPERVISED_TASKS)}; got {cfg.task}.")
