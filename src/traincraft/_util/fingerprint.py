"""Stable content fingerprints of tables and files (sha256), for bundles, caches and manifests."""

from __future__ import annotations

import hashlib
import os

import pandas as pd

__all__ = ["frame_fingerprint", "file_sha256"]


def frame_fingerprint(df: pd.DataFrame) -> str:
    """sha256 over column names, dtypes and cell values; independent of the pandas index."""
    h = hashlib.sha256()
    h.update(repr([(str(c), str(t)) for c, t in df.dtypes.items()]).encode())
    row_hashes = pd.util.hash_pandas_object(df, index=False, categorize=True).to_numpy()
    h.update(row_hashes.tobytes())
    return "sha256:" + h.hexdigest()


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return "sha256:" + h.hexdigest()
