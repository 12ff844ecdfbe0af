"""Near duplicates: rows that are the same example with small changes.

- text: the same text with a few words changed (word-set Jaccard and word edit similarity, see
  :mod:`traincraft.data.audit._minhash` for the million-row algorithm);
- images: average hashes (8x8) within ``IMAGE_HASH_MAX_BITS`` bits;
- tables without text: equal after rounding numbers to ``TABULAR_ROUND_DIGITS`` significant digits.

Exact duplicates are the ``exact_duplicates`` check; here a cluster is a set of distinct rows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from traincraft.data.audit._constants import (
    IMAGE_HASH_MAX_BITS,
    IMAGE_HASH_SIZE,
    NEAR_DUP_JACCARD,
    NEAR_DUP_SIMILARITY,
    TABULAR_ROUND_DIGITS,
)
from traincraft.data.audit._context import AuditContext
from traincraft.data.audit._finding import Finding
from traincraft.data.audit._minhash import near_duplicate_pairs
from traincraft.data.audit.exact_duplicates import duplicate_groups

NAME = "near_duplicates"
CLUSTERS_SHOWN = 100
PAIRS_SHOWN = 100

log = logging.getLogger(__name__)


@dataclass
class NearClusters:
    """``cluster[i]``: the near-duplicate cluster of row position i, or -1 when it has none."""

    cluster: np.ndarray  # (n,) int64
    modality: str  # text, image, tabular or none
    pair_a: np.ndarray  # positions (first rows of exact groups)
    pair_b: np.ndarray
    similarity: np.ndarray
    candidates: int = 0


def _components(n_groups: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n_groups,) cluster of each exact group, -1 for groups with no near duplicate."""
    out = np.full(n_groups, -1, dtype=np.int64)
    if not len(a):
        return out
    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n_groups, n_groups))
    _, comp = connected_components(graph, directed=False)
    sizes = np.bincount(comp)
    in_cluster = sizes[comp] > 1
    _, renum = np.unique(comp[in_cluster], return_inverse=True)
    out[in_cluster] = renum
    return out


def _text_pairs(ctx: AuditContext, first: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    cols = ctx.text_columns
    texts = ctx.normalised(cols[0])
    for col in cols[1:]:
        texts = pc.binary_join_element_wise(pc.fill_null(texts, ""), pc.fill_null(ctx.normalised(col), ""), pa.scalar(" ", pa.large_string()))
    reps = texts.take(pa.array(first))
    res = near_duplicate_pairs(reps, threshold=NEAR_DUP_SIMILARITY, jaccard=NEAR_DUP_JACCARD)
    return res.a, res.b, res.similarity, res.candidates


def _round_significant(x: np.ndarray, digits: int) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        mag = np.where(np.isfinite(x) & (x != 0), 10.0 ** (np.floor(np.log10(np.abs(x))) - (digits - 1)), 1.0)
    return np.round(x / mag) * mag


def _tabular_pairs(ctx: AuditContext, first: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Groups equal after rounding: each member paired with the group's first member."""
    sub = ctx.df.iloc[first]
    key = np.zeros(len(first), dtype=np.uint64)
    numeric = 0
    for i, col in enumerate(ctx.content_columns):
        if ctx.kinds.get(col) == "numeric" and pd.api.types.is_numeric_dtype(sub[col].dtype):
            values = pd.Series(_round_significant(sub[col].to_numpy(dtype=float), TABULAR_ROUND_DIGITS))
            numeric += 1
        else:
            values = sub[col].astype(str).str.strip().str.casefold()
        key = key * np.uint64(0x100000001B3) + pd.util.hash_pandas_object(values, index=False).to_numpy() + np.uint64(i)
    if numeric == 0:
        return (np.empty(0, np.int64),) * 2 + (np.empty(0),)
    _, inverse = np.unique(key, return_inverse=True)
    inverse = inverse.ravel()
    order = np.argsort(inverse, kind="stable")
    head = np.empty(len(order), dtype=np.int64)
    starts = np.r_[0, np.flatnonzero(np.diff(inverse[order])) + 1]
    head[order] = np.repeat(order[starts], np.diff(np.r_[starts, len(order)]))
    mask = head != np.arange(len(first))
    a, b = head[mask], np.flatnonzero(mask)
    return a, b, np.ones(len(a))


def average_hash(path: str, size: int = IMAGE_HASH_SIZE) -> int | None:
    """64-bit average hash: the image in grey at size x size, one bit per pixel above the mean."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            small = np.asarray(img.convert("L").resize((size, size), Image.Resampling.BILINEAR), dtype=np.float64)
    except (OSError, UnidentifiedImageError, ValueError):
        return None
    bits = (small > small.mean()).ravel()
    return int(np.packbits(bits).view(">u8")[0])


def _image_pairs(ctx: AuditContext, first: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    col = ctx.of_kind("image")[0]
    paths = ctx.df[col].iloc[first].astype(str).tolist()
    hashes = [average_hash(p) if Path(p).is_file() else None for p in paths]
    ok = np.array([h is not None for h in hashes])
    idx = np.flatnonzero(ok)
    if len(idx) < 2:
        return (np.empty(0, np.int64),) * 2 + (np.empty(0),)
    h = np.array([hashes[i] for i in idx], dtype=np.uint64)
    # pigeonhole: two hashes within 4 bits agree exactly on at least one of 5 bands of the 64 bits
    found = set()
    bands = 1 + IMAGE_HASH_MAX_BITS
    width = -(-64 // bands)
    for k in range(bands):
        band = (h >> np.uint64(k * width)) & np.uint64((1 << width) - 1)
        order = np.argsort(band, kind="stable")
        sb = band[order]
        brk = np.r_[0, np.flatnonzero(np.diff(sb)) + 1, len(sb)]
        for s, e in zip(brk[:-1], brk[1:]):
            if e - s < 2:
                continue
            g = order[s:e]
            for x in range(len(g)):
                for y in range(x + 1, len(g)):
                    found.add((min(g[x], g[y]), max(g[x], g[y])))
    a, b, sim = [], [], []
    for x, y in sorted(found):
        dist = bin(int(h[x]) ^ int(h[y])).count("1")
        if dist <= IMAGE_HASH_MAX_BITS:
            a.append(idx[x])
            b.append(idx[y])
            sim.append(1 - dist / 64)
    return np.asarray(a, np.int64), np.asarray(b, np.int64), np.asarray(sim)


def near_clusters(ctx: AuditContext) -> NearClusters:
    """Near-duplicate clusters of the table (cached): text if it has text columns, else images, else rounded rows."""

    def compute() -> NearClusters:
        group, first = duplicate_groups(ctx)
        candidates = 0
        if ctx.text_columns:
            modality = "text"
            a, b, sim, candidates = _text_pairs(ctx, first)
        elif ctx.of_kind("image"):
            modality = "image"
            a, b, sim = _image_pairs(ctx, first)
        elif ctx.content_columns:
            modality = "tabular"
            a, b, sim = _tabular_pairs(ctx, first)
        else:
            modality, a, b, sim = "none", np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
        comp = _components(len(first), a, b)
        return NearClusters(comp[group], modality, first[a], first[b], sim, candidates)

    return ctx.cached("near_clusters", compute)


def run(ctx: AuditContext) -> list[Finding]:
    if ctx.n < 2 or not ctx.content_columns:
        return []
    nc = near_clusters(ctx)
    cluster = nc.cluster
    if not (cluster >= 0).any():
        return []
    _, first = duplicate_groups(ctx)
    is_first_of_group = np.zeros(ctx.n, dtype=bool)
    is_first_of_group[first] = True
    # the first row of each cluster stays; every other distinct row of the cluster is a near copy
    in_cluster = np.flatnonzero(cluster >= 0)
    _, cluster_first = np.unique(cluster[in_cluster], return_index=True)
    keeper = np.zeros(ctx.n, dtype=bool)
    keeper[in_cluster[cluster_first]] = True
    extra = (cluster >= 0) & is_first_of_group & ~keeper
    count = int(extra.sum())
    ids = ctx.ids
    sizes = np.bincount(cluster[in_cluster])
    biggest = np.argsort(-sizes, kind="stable")[:CLUSTERS_SHOWN]
    members = {int(c): [] for c in biggest}
    for pos in in_cluster[np.isin(cluster[in_cluster], biggest)]:
        members[int(cluster[pos])].append(ids[pos])
    what = {
        "text": "the same text with a few words changed",
        "image": "near-identical images (average hash)",
        "tabular": "equal after rounding numbers to 2 significant digits",
    }[nc.modality]
    pairs = [[ids[a], ids[b], round(float(s), 4)] for a, b, s in zip(nc.pair_a[:PAIRS_SHOWN], nc.pair_b[:PAIRS_SHOWN], nc.similarity[:PAIRS_SHOWN])]
    return [
        Finding(
            check=NAME,
            severity="warning",
            count=count,
            row_ids=ids[extra].tolist(),
            message=(
                f"{count:,} rows are near duplicates of an earlier row ({what}), in {len(sizes):,} clusters. "
                "They count twice in training and leak across splits."
            ),
            fix={"step": "dedupe", "mode": "near", "keep": "majority" if ctx.label else "first"},
            details={
                "modality": nc.modality,
                "clusters": len(sizes),
                "pairs": len(nc.pair_a),
                "candidates_checked": nc.candidates,
                "largest_clusters": [members[int(c)] for c in biggest],
                "pair_examples": pairs,
            },
        )
    ]
