"""KMeans: ``k`` centres in feature space; ``forward`` gives each row's squared distance to every centre.

The module only holds and applies the centres (a buffer, so they travel as safetensors); fitting
them (k-means++ seeding, mini-batch updates, Lloyd refinement, choosing k) is
:mod:`traincraft.training.clustering`'s job.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from traincraft.errors import BundleError

__all__ = ["KMeans", "squared_distances", "ASSIGN_CHUNK"]

ASSIGN_CHUNK = 8192  # rows per distance block: a (8192, k) block stays small whatever N is


def squared_distances(x: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
    """``(B, k)`` squared Euclidean distances between rows of ``x (B, D)`` and ``centers (k, D)``.

    Expanded as ``|x|^2 - 2 x.c + |c|^2`` (one matmul), clamped at 0 against rounding.
    """
    x_sq = x.pow(2).sum(dim=1, keepdim=True)  # (B, 1)
    c_sq = centers.pow(2).sum(dim=1)  # (k,)
    return (x_sq - 2.0 * (x @ centers.T) + c_sq).clamp_min_(0.0)


class KMeans(nn.Module):
    """``forward(x (B, D)) -> (B, k)`` squared distances; :meth:`assign` gives ``(labels, distances)``."""

    def __init__(self, k: int, dim: int) -> None:
        super().__init__()
        if k < 1 or dim < 1:
            raise BundleError(f"A k-means model needs k >= 1 and dim >= 1, got k={k}, dim={dim}.")
        self.k = int(k)
        self.dim = int(dim)
        self.register_buffer("centers", torch.zeros(k, dim))

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> KMeans:
        """Rebuild from :meth:`spec` (the centres come from the weights file)."""
        if not isinstance(spec, dict) or spec.get("kind") != "kmeans" or "k" not in spec or "dim" not in spec:
            raise BundleError(f"A k-means spec is {{'kind': 'kmeans', 'k': K, 'dim': D}}; got {spec!r:.200}.")
        return cls(int(spec["k"]), int(spec["dim"]))

    def spec(self) -> dict[str, Any]:
        return {"kind": "kmeans", "k": self.k, "dim": self.dim}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return squared_distances(x, self.centers)  # (B, k)

    @torch.no_grad()
    def assign(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(labels (N,) int64, squared distance to the own centre (N,))`` in chunks of ``ASSIGN_CHUNK`` rows."""
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise BundleError(f"The k-means model takes (rows, {self.dim}) features, got shape {tuple(x.shape)}.")
        labels, dists = [], []
        for start in range(0, x.shape[0], ASSIGN_CHUNK):
            d = self(x[start : start + ASSIGN_CHUNK])
            best = d.min(dim=1)
            labels.append(best.indices)
            dists.append(best.values)
        if not labels:
            return torch.zeros(0, dtype=torch.int64), torch.zeros(0)
        return torch.cat(labels), torch.cat(dists)
