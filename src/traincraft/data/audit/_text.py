"""Text normalisation and word hashing, vectorised with pyarrow and numpy (no per-word Python).

``normalise`` is the one definition of "the same text" used by every check: Unicode NFKC, case
folded, runs of whitespace collapsed to one space, trimmed. ``word_hashes`` splits normalised text
into words (runs of letters, digits, ``_`` and non-ASCII characters) and gives each word a 64-bit
hash, computed on the UTF-8 bytes with numpy, so a million short texts hash in about a second.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from traincraft.data.audit._constants import TOKEN_HASH_MAX_BYTES

__all__ = ["normalise", "normalise_one", "to_arrow_text", "Words", "word_hashes", "mix64"]

_ASCII_SPACE = "[\t-\r\x1c-\x1f ]+"  # what Python's str.split() splits ASCII text on
_NEEDS_COLLAPSE = "[\t-\r\x1c-\x1f]|  |^ | $"  # rows whose whitespace is not already single spaces


def normalise_one(text: str) -> str:
    """The reference normalisation of one string (what the vectorised path must equal)."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def to_arrow_text(values: pd.Series) -> pa.LargeStringArray:
    """A column as a pyarrow large_string array; missing values stay null, non-strings are str()-ed."""
    arr = getattr(values.array, "_pa_array", None)
    if arr is not None and (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return arr.combine_chunks().cast(pa.large_string())
    objs = values.to_numpy(dtype=object, na_value=None)
    mask = pd.isna(values).to_numpy()
    if mask.any() or not all(isinstance(v, str) for v in objs[:1000]):
        objs = np.array([None if m else (v if isinstance(v, str) else str(v)) for v, m in zip(objs, mask)], dtype=object)
    return pa.array(objs, type=pa.large_string())


def normalise(values: pd.Series) -> pa.LargeStringArray:
    """NFKC, casefold, collapse whitespace, trim; nulls stay null.

    ASCII rows take the vectorised path (lower-casing is case folding for ASCII); the few
    others go through :func:`normalise_one`, so the result equals it on every row.
    """
    arr = to_arrow_text(values)
    if len(arr) == 0:
        return arr
    ascii_rows = pc.fill_null(pc.string_is_ascii(arr), True)
    fast = pc.utf8_lower(arr)
    # collapsing whitespace is a regex pass (3 s per million texts); run it only where needed
    messy = pc.fill_null(pc.match_substring_regex(fast, _NEEDS_COLLAPSE), False)
    messy_idx = np.flatnonzero(messy.to_numpy(zero_copy_only=False))
    if len(messy_idx):
        fixed = pc.utf8_trim(pc.replace_substring_regex(fast.take(pa.array(messy_idx)), _ASCII_SPACE, " "), " ")
        fast = _splice(fast, messy_idx, fixed)
    if pc.all(ascii_rows).as_py():
        return fast
    slow_idx = np.flatnonzero(~ascii_rows.to_numpy(zero_copy_only=False))
    slow_vals = pa.array([normalise_one(v) for v in arr.take(pa.array(slow_idx)).to_pylist()], type=pa.large_string())
    return _splice(fast, slow_idx, slow_vals)


def _splice(base: pa.Array, idx: np.ndarray, values: pa.Array) -> pa.Array:
    """``base`` with rows ``idx`` replaced by ``values`` (in order)."""
    positions = np.arange(len(base))
    positions[idx] = len(base) + np.arange(len(idx))
    return pa.concat_arrays([base, values.cast(base.type)]).take(pa.array(positions))


@dataclass
class Words:
    """The words of ``n`` texts: ``row[i]`` is the text holding word ``i``, ``hash[i]`` its 64-bit hash.

    Words are in text order, so ``row`` is non-decreasing; ``count[r]`` words belong to text ``r``.
    """

    row: np.ndarray  # (W,) int64
    hash: np.ndarray  # (W,) uint64
    n: int

    @property
    def count(self) -> np.ndarray:
        return np.bincount(self.row, minlength=self.n)


_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_P = np.uint64(0x100000001B3)  # FNV-1a's prime; odd, so invertible modulo 2**64
_P_INV = np.uint64(pow(0x100000001B3, -1, 2**64))


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a bijection of uint64 that spreads every input bit over the output."""
    x = x ^ (x >> np.uint64(30))
    x = x * _M1
    x = x ^ (x >> np.uint64(27))
    x = x * _M2
    return x ^ (x >> np.uint64(31))


# letters, digits, '_' and every byte of a multi-byte UTF-8 character belong to words
_WORD_BYTE = np.zeros(256, dtype=bool)
_WORD_BYTE[[ord(c) for c in "0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"]] = True
_WORD_BYTE[128:] = True


_CHUNK_BYTES = 1 << 24  # 16 MiB of text at a time keeps the prefix-sum arrays at ~400 MB


def _powers(base: np.uint64, n: int) -> np.ndarray:
    out = np.full(n, base, dtype=np.uint64)
    out[0] = 1
    return np.cumprod(out, dtype=np.uint64)  # wraps modulo 2**64, as intended


def _range_hashes(data: np.ndarray, begin: np.ndarray, end: np.ndarray) -> np.ndarray:
    """sum_j data[begin + j] * P**j (mod 2**64) for every range, from one prefix sum per chunk.

    With S[k] = sum_{i<k} data[i] * P**i, a range's hash is (S[end] - S[begin]) * P**-begin;
    P is odd, so it has an inverse modulo 2**64.
    """
    out = np.empty(len(begin), dtype=np.uint64)
    size = min(len(data), _CHUNK_BYTES)
    pw = _powers(_P, size + 1)
    inv = _powers(_P_INV, size + 1)
    first = 0
    while first < len(begin):
        base = int(begin[first])
        last = int(np.searchsorted(begin, base + size - TOKEN_HASH_MAX_BYTES, side="left"))
        last = max(last, first + 1)
        top = min(len(data), int(end[last - 1]))
        chunk = data[base:top].astype(np.uint64)
        prefix = np.zeros(len(chunk) + 1, dtype=np.uint64)
        np.cumsum(chunk * pw[: len(chunk)], out=prefix[1:])
        b, e = begin[first:last] - base, end[first:last] - base
        out[first:last] = (prefix[e] - prefix[b]) * inv[b]
        first = last
    return out


def word_hashes(normalised: pa.LargeStringArray) -> Words:
    """Split normalised texts into words and hash each word (a polynomial hash of its bytes, mixed)."""
    n = len(normalised)
    # a space after every text: no word runs from one text into the next
    arr = pc.binary_join_element_wise(pc.fill_null(normalised, ""), pa.scalar("", pa.large_string()), pa.scalar(" ", pa.large_string()))
    if not pa.types.is_large_string(arr.type):
        arr = arr.cast(pa.large_string())
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int64, count=n + 1, offset=arr.offset * 8)
    lo, hi = int(offsets[0]), int(offsets[-1])
    data = np.frombuffer(bufs[2], dtype=np.uint8)[lo:hi] if bufs[2] is not None and hi > lo else np.empty(0, np.uint8)
    offsets = offsets - lo
    is_word = _WORD_BYTE[data]
    if not is_word.any():
        return Words(np.empty(0, np.int64), np.empty(0, np.uint64), n)
    step = is_word[1:].view(np.int8) - is_word[:-1].view(np.int8)  # +1 where a word starts, -1 after it ends
    begin = np.flatnonzero(step == 1) + 1
    if is_word[0]:
        begin = np.concatenate([[0], begin])
    end = np.flatnonzero(step == -1) + 1  # exclusive; every text ends with a space, so every word ends
    end = np.minimum(end, begin + TOKEN_HASH_MAX_BYTES)
    h = mix64(_range_hashes(data, begin, end) ^ (end - begin).astype(np.uint64))
    counts = np.diff(np.searchsorted(begin, offsets))
    row = np.repeat(np.arange(n, dtype=np.int64), counts)
    return Words(row, h, n)
