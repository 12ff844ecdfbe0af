"""Fitting k-means: k-means++ seeding, mini-batch updates, Lloyd refinement, k by silhouette, cluster profiles.

    x = ClusterSpace.fit(df, schema, scale="column").transform(df)   # (N, F) float32 (traincraft.features.cluster_space)
    fit = fit_kmeans(x, k=10, config=recipe.cluster, seed=0)     # lowest inertia of n_init restarts
    choice = choose_k(x, config=recipe.cluster, seed=0)          # k: auto, by silhouette on a sample

Each restart seeds its centres with greedy k-means++ (Arthur & Vassilvitskii 2007, with
``2 + log k`` candidates per centre as scikit-learn does), moves them with mini-batch updates
(Sculley 2010: each centre steps towards its batch mean with rate batch count / total count)
when the table is larger than the mini-batch phase would touch (``max_steps x batch_size`` rows;
below that, full passes are cheaper), and then runs full Lloyd passes, in chunks, until no row changes cluster. A centre that loses all
its rows jumps to the row farthest from its centre. Every random draw comes from a generator
seeded by ``(seed, k, restart)``, so a run is reproducible.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from traincraft.errors import DataError, RecipeError
from traincraft.features.cluster_space import ClusterFeatures
from traincraft.models.kmeans import ASSIGN_CHUNK, KMeans, squared_distances
from traincraft.recipe._unsupervised import ClusterConfig

__all__ = [
    "ClusterFeatures",  # re-exported from traincraft.features.cluster_space, where it lives
    "KMeansFit",
    "KChoice",
    "fit_kmeans",
    "choose_k",
    "kmeans_plus_plus",
    "silhouette_score",
    "cluster_profiles",
]

log = logging.getLogger(__name__)

INIT_SAMPLE = 20_000  # rows k-means++ seeds from; more rows change the seeding little and cost k passes each
PROFILE_COLUMNS = 12  # columns shown per cluster profile, the most distinctive first
NEAREST_COLUMNS = 6  # columns shown for each row nearest a centre (its cluster's most distinctive), plus any text
SHOWN_TEXT = 200  # characters of a text value shown in a profile
_UNPROFILED = ("text",)


def _generator(*key: int) -> torch.Generator:
    seed = int(np.random.SeedSequence([k & (2**63 - 1) for k in key]).generate_state(1, dtype=np.uint64)[0])
    return torch.Generator().manual_seed(seed & (2**63 - 1))


# --- k-means ----------------------------------------------------------------------------------------
@dataclass
class KMeansFit:
    """One fitted k: the model, its inertia, every row's cluster and squared distance."""

    model: KMeans
    inertia: float
    labels: torch.Tensor  # (N,) int64
    distances: torch.Tensor  # (N,) squared distance to the own centre
    restart: int
    """Which restart (0-based) gave the lowest inertia."""
    passes: int
    """Lloyd passes the kept restart ran."""
    inertias: list[float] = field(default_factory=list)
    """Inertia of every restart."""


def kmeans_plus_plus(x: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    """``(k, D)`` initial centres by greedy k-means++ over the rows of ``x``."""
    n = x.shape[0]
    trials = 2 + int(math.log(k))
    first = int(torch.randint(0, n, (1,), generator=generator))
    centers = [x[first]]
    closest = squared_distances(x, x[first : first + 1]).squeeze(1)  # (N,)
    for _ in range(1, k):
        total = float(closest.sum())
        if total <= 0:  # fewer distinct rows than k: any row will do
            pick = torch.randint(0, n, (trials,), generator=generator)
        else:
            pick = torch.multinomial(closest / total, trials, replacement=True, generator=generator)
        candidate_d = squared_distances(x, x[pick])  # (N, trials)
        potentials = torch.minimum(candidate_d, closest.unsqueeze(1)).sum(dim=0)
        best = int(potentials.argmin())
        centers.append(x[pick[best]])
        closest = torch.minimum(closest, candidate_d[:, best])
    return torch.stack(centers).clone()


def _assign(x: torch.Tensor, centers: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    labels, dists = [], []
    for start in range(0, x.shape[0], ASSIGN_CHUNK):
        best = squared_distances(x[start : start + ASSIGN_CHUNK], centers).min(dim=1)
        labels.append(best.indices)
        dists.append(best.values)
    return torch.cat(labels), torch.cat(dists)


def _minibatch_phase(x: torch.Tensor, centers: torch.Tensor, config: ClusterConfig, generator: torch.Generator) -> None:
    """Sculley's mini-batch k-means, in place on ``centers``."""
    k = centers.shape[0]
    counts = torch.zeros(k, dtype=torch.float64)
    for _ in range(config.max_steps):
        idx = torch.randint(0, x.shape[0], (config.batch_size,), generator=generator)
        batch = x[idx]
        labels = squared_distances(batch, centers).argmin(dim=1)
        batch_counts = torch.bincount(labels, minlength=k).to(torch.float64)
        sums = torch.zeros_like(centers).index_add_(0, labels, batch)
        counts += batch_counts
        seen = batch_counts > 0
        rate = (batch_counts[seen] / counts[seen]).to(centers.dtype).unsqueeze(1)
        means = sums[seen] / batch_counts[seen].to(centers.dtype).unsqueeze(1)
        centers[seen] += rate * (means - centers[seen])


def _lloyd(x: torch.Tensor, centers: torch.Tensor, steps: int) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Full Lloyd passes in place on ``centers`` until no row moves; returns (labels, distances, passes)."""
    k = centers.shape[0]
    x64 = x.to(torch.float64)  # centre sums in float64: a float32 sum over a million rows drifts
    labels, dists = _assign(x, centers)
    passes = 0
    for _ in range(steps):
        counts = torch.bincount(labels, minlength=k)
        sums = torch.zeros_like(centers, dtype=torch.float64).index_add_(0, labels, x64)
        filled = counts > 0
        centers[filled] = (sums[filled] / counts[filled].unsqueeze(1).to(torch.float64)).to(centers.dtype)
        empty = torch.nonzero(~filled).flatten()
        if empty.numel():  # an emptied centre jumps to the rows farthest from their own centres
            far = torch.topk(dists, min(int(empty.numel()), x.shape[0])).indices
            centers[empty[: far.numel()]] = x[far]
        passes += 1
        new_labels, dists = _assign(x, centers)
        moved = int((new_labels != labels).sum())
        labels = new_labels
        if moved == 0 and not empty.numel():
            break
    return labels, dists, passes


def fit_kmeans(x: torch.Tensor, k: int, *, config: ClusterConfig | None = None, seed: int = 0) -> KMeansFit:
    """Fit ``k`` centres to the rows of ``x (N, D)``; the lowest-inertia restart of ``config.n_init`` is kept."""
    config = config if config is not None else ClusterConfig()
    x = _check_matrix(x)
    n = x.shape[0]
    if k < 1:
        raise RecipeError(f"cluster.k must be at least 1, got {k}.")
    if k > n:
        raise DataError(f"cluster.k is {k} but there are only {n} rows; k cannot exceed the number of rows.")
    init_rows = x
    best: KMeansFit | None = None
    inertias: list[float] = []
    for restart in range(config.n_init):
        gen = _generator(seed, k, restart)
        if n > INIT_SAMPLE:
            init_rows = x[torch.randperm(n, generator=gen)[:INIT_SAMPLE]]
        centers = kmeans_plus_plus(init_rows, k, gen)
        if n > config.max_steps * config.batch_size:  # smaller tables: Lloyd passes cost less than the phase
            _minibatch_phase(x, centers, config, gen)
        labels, dists, passes = _lloyd(x, centers, config.refine_steps)
        inertia = float(dists.to(torch.float64).sum())
        inertias.append(inertia)
        if best is None or inertia < best.inertia:
            model = KMeans(k, x.shape[1])
            model.centers.copy_(centers)
            best = KMeansFit(model, inertia, labels, dists, restart, passes)
    assert best is not None
    best.inertias = inertias
    return best


def _check_matrix(x: torch.Tensor) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise DataError(f"k-means needs a non-empty (rows, features) tensor, got {got}.")
    x = x.float()
    if not bool(torch.isfinite(x).all()):
        raise DataError("The features hold NaN/inf values; impute or drop them before clustering (e.g. an impute step in prepare).")
    return x.contiguous()


# --- choosing k -----------------------------------------------------------------------------------
def silhouette_score(x: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean silhouette (Rousseeuw 1987) of the rows of ``x`` under ``labels``, Euclidean, in float64.

    A row alone in its cluster scores 0, as in scikit-learn. Memory is ``N^2``: pass a sample.
    """
    x = x.to(torch.float64)
    labels = labels.long()
    _, labels = torch.unique(labels, return_inverse=True)
    k = int(labels.max()) + 1 if labels.numel() else 0
    if k < 2 or k >= x.shape[0]:
        raise DataError(f"The silhouette needs between 2 and {x.shape[0] - 1} clusters, got {k}.")
    d = squared_distances(x, x).sqrt_()  # (N, N)
    onehot = torch.nn.functional.one_hot(labels, k).to(torch.float64)  # (N, k)
    sums = d @ onehot  # (N, k): summed distance from each row to each cluster
    counts = onehot.sum(dim=0)  # (k,)
    own = counts[labels]
    a = sums.gather(1, labels.unsqueeze(1)).squeeze(1) / (own - 1).clamp_min(1)
    means = sums / counts
    means.scatter_(1, labels.unsqueeze(1), math.inf)
    b = means.min(dim=1).values
    s = (b - a) / torch.maximum(a, b)
    s = torch.where(own > 1, s, torch.zeros_like(s))
    return float(torch.nan_to_num(s, nan=0.0).mean())


@dataclass
class KChoice:
    """The outcome of ``k: auto``: the chosen k, its fit, and every candidate's scores."""

    k: int
    fit: KMeansFit
    scores: list[dict[str, float]]
    """One ``{"k", "silhouette", "inertia"}`` per candidate, in increasing k."""
    sample_rows: int


def choose_k(x: torch.Tensor, *, config: ClusterConfig | None = None, seed: int = 0) -> KChoice:
    """Fit every k in ``config.k_range`` and keep the one with the highest silhouette on a sample of rows."""
    config = config if config is not None else ClusterConfig()
    x = _check_matrix(x)
    n = x.shape[0]
    low, high = config.k_range
    high = min(high, n - 1)
    if high < low:
        raise DataError(f"cluster.k_range {list(config.k_range)} needs more rows than the {n} given (k must be below the row count).")
    sample = torch.arange(n)
    if n > config.silhouette_sample:
        sample = torch.randperm(n, generator=_generator(seed, 0, -1))[: config.silhouette_sample].sort().values
    scores: list[dict[str, float]] = []
    best: tuple[float, int, KMeansFit] | None = None
    for k in range(low, high + 1):
        fit = fit_kmeans(x, k, config=config, seed=seed)
        labels = fit.labels[sample]
        s = silhouette_score(x[sample], labels) if int(torch.unique(labels).numel()) > 1 else -1.0
        scores.append({"k": k, "silhouette": s, "inertia": fit.inertia})
        log.info("k=%d: silhouette %.4f, inertia %.4g", k, s, fit.inertia)
        if best is None or s > best[0]:
            best = (s, k, fit)
    assert best is not None
    return KChoice(k=best[1], fit=best[2], scores=scores, sample_rows=int(sample.numel()))


# --- what each cluster looks like -----------------------------------------------------------------
def cluster_profiles(
    frame: pd.DataFrame,
    columns: list[tuple[str, str]],
    labels: np.ndarray,
    distances: np.ndarray,
    *,
    nearest: int = 5,
    top: int = PROFILE_COLUMNS,
) -> list[dict[str, Any]]:
    """Per cluster: size, share, mean distance, the rows nearest its centre (ids, distances and their values in the
    cluster's most distinctive columns and any text column) and its most distinctive columns.

    ``columns`` are ``(name, type)`` of the feature columns of ``frame`` (raw values, index = row ids).
    A numeric column's effect is ``(cluster mean - overall mean) / overall std``; a categorical
    or boolean column's is the gap between the share of the cluster's most common value inside and
    outside it. Columns are listed by the size of that effect.
    """
    labels = np.asarray(labels)
    distances = np.asarray(distances, dtype=np.float64)
    ids = frame.index.to_numpy()
    profiles = []
    for c in sorted(int(v) for v in np.unique(labels)):
        inside = labels == c
        members = np.flatnonzero(inside)
        order = members[np.argsort(distances[members], kind="stable")][:nearest]
        effects = []
        for name, kind in columns:
            series = frame[name]
            if kind in _UNPROFILED:  # free text has no typical value; its nearest rows show it
                continue
            if kind == "numeric":
                values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
                overall_std = float(np.nanstd(values))
                cluster_mean = float(np.nanmean(values[inside])) if np.isfinite(values[inside]).any() else math.nan
                overall_mean = float(np.nanmean(values))
                effect = (cluster_mean - overall_mean) / overall_std if overall_std > 0 else 0.0
                typical = float(np.nanmedian(values[inside])) if np.isfinite(values[inside]).any() else None
                effects.append({
                    "column": name, "typical": typical, "overall": float(np.nanmedian(values)),
                    "effect": 0.0 if math.isnan(effect) else round(effect, 4),
                })
            else:
                as_text = series.astype("string").fillna("<missing>")
                top_value = as_text[inside].mode().iloc[0]
                share_in = float((as_text[inside] == top_value).mean())
                share_out = float((as_text[~inside] == top_value).mean()) if (~inside).any() else 0.0
                effects.append({
                    "column": name, "typical": str(top_value), "overall": str(as_text.mode().iloc[0]),
                    "effect": round(share_in - share_out, 4),
                })
        effects.sort(key=lambda e: -abs(e["effect"]))
        shown = [e["column"] for e in effects[:NEAREST_COLUMNS]] + [name for name, kind in columns if kind in _UNPROFILED]
        profiles.append({
            "cluster": c,
            "size": int(inside.sum()),
            "share": round(float(inside.mean()), 6),
            "mean_distance": float(np.sqrt(distances[members]).mean()),
            "nearest_rows": [_plain(ids[i]) for i in order],
            "nearest": [
                {"row_id": _plain(ids[i]), "distance": float(np.sqrt(distances[i])),
                 "values": {name: _shown_value(frame[name].iloc[i]) for name in shown}}
                for i in order
            ],
            "distinctive": effects[:top],
        })
    return profiles


def _plain(value: Any) -> Any:
    """A JSON-able Python scalar from a numpy / pandas one."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA or value is pd.NaT:
        return None
    return value.item() if isinstance(value, np.generic) else value


def _shown_value(value: Any) -> Any:
    """A cell as the report shows it: missing as None, long texts cut to ``SHOWN_TEXT`` characters."""
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):  # arrays and other non-scalars
        return str(value)[:SHOWN_TEXT]
    value = _plain(value)
    if isinstance(value, str) and len(value) > SHOWN_TEXT:
        return value[: SHOWN_TEXT - 1] + "…"
    return value if isinstance(value, (int, float, str, bool)) else str(value)
