"""Near-duplicate text pairs at a million rows: rare-word blocking, a MinHash pre-filter, exact Jaccard.

Plain MinHash LSH over word 3-shingles misses most near copies of short texts: changing one word
of a 12-word text removes three of its ten 3-shingles, and LSH tuned low enough to catch that
collides on every pair of texts sharing "you" and "the". Here (all vectorised, no per-text Python
until the last step):

1. **Blocking on rare words.** Every text is keyed on each pair of its ``NEAR_DUP_RAREST`` (4)
   rarest words (rarity = how many texts hold the word, estimated in a count table). Changing one
   or two words of a text leaves at least two of its four rarest words in the copy, so a near copy
   shares a key with its source, while two unrelated texts rarely share two rare words. This is
   prefix filtering (Chaudhuri et al. 2006; Bayardo et al. 2007) with pairs as signatures.
2. **Big blocks** (texts made only of common words) are not compared all against all: members are
   sorted by two MinHash values and each is compared with its ``NEAR_DUP_BLOCK_CAP`` neighbours.
3. **Exact Jaccard, vectorised.** Each candidate pair's word-set Jaccard is computed exactly by
   looking every word of one text up in the sorted (text, word) keys of the other.
4. **Edit similarity.** Pairs above the Jaccard floor are compared as word sequences (word-level
   Levenshtein, banded): order matters, so two texts of the same common words in another order
   are not copies. Precision does not depend on any sketch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from traincraft.data.audit._constants import (
    DF_TABLE_BITS,
    NEAR_DUP_BLOCK_CAP,
    NEAR_DUP_MIN_WORDS,
    NEAR_DUP_RAREST,
    NEAR_DUP_SIMILARITY,
    NEAR_DUP_JACCARD,
)
from traincraft.data.audit._text import Words, mix64, word_hashes

__all__ = ["NearPairs", "near_duplicate_pairs", "minhash_signatures", "edit_similarity", "sorted_unique", "WORD_RE"]

# the words of word_hashes, as a Python regex: runs of ASCII letters, digits, '_' and non-ASCII
WORD_RE = re.compile(r"[0-9A-Za-z_\u0080-\U0010ffff]+")
_ABSENT = np.iinfo(np.uint64).max
_DF_CAP = (1 << 20) - 1


@dataclass
class NearPairs:
    """Verified pairs ``(a[i], b[i])`` of positions in the input (a < b) and their word Jaccard."""

    a: np.ndarray  # (P,) int64
    b: np.ndarray  # (P,) int64
    similarity: np.ndarray  # (P,) float64
    candidates: int  # pairs that reached the exact check

    def __len__(self) -> int:
        return len(self.a)


def sorted_unique(x: np.ndarray) -> np.ndarray:
    """``np.unique(x)`` by sort and compare: numpy 2's hash-based ``np.unique`` took 31 s on 14M
    uint64 here, a sort 0.5 s."""
    if len(x) == 0:
        return x.copy()
    s = np.sort(x)
    keep = np.empty(len(s), dtype=bool)
    keep[0] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    return s[keep]


def _segment_starts(words: Words) -> tuple[np.ndarray, np.ndarray]:
    counts = words.count
    present = np.flatnonzero(counts > 0)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])[present]
    return present, starts


def minhash_signatures(words: Words, permutations: int, *, seed: int = 0) -> np.ndarray:
    """(n, permutations) uint32 MinHash of each text's word set (all-ones for a text with no words).

    Permutation ``p`` is the multiply-shift hash ``(a_p * h + b_p) >> 32`` of the (already mixed)
    64-bit word hash ``h``; the minimum over a text's words is one MinHash value.
    """
    rng = np.random.default_rng(seed)
    mult = rng.integers(1, 2**63, size=permutations, dtype=np.uint64) | np.uint64(1)
    add = rng.integers(0, 2**63, size=permutations, dtype=np.uint64)
    sig = np.full((words.n, permutations), np.iinfo(np.uint32).max, dtype=np.uint32)
    present, starts = _segment_starts(words)
    if not len(present):
        return sig
    for p in range(permutations):
        hp = ((words.hash * mult[p] + add[p]) >> np.uint64(32)).astype(np.uint32)
        sig[present, p] = np.minimum.reduceat(hp, starts)
    return sig


def _rarest_words(words: Words, m: int) -> np.ndarray:
    """(n, m) uint64: each text's m rarest distinct words (rarity key), ``_ABSENT`` past its last."""
    slots = (words.hash >> np.uint64(64 - DF_TABLE_BITS)).astype(np.int64)
    df = np.bincount(slots, minlength=1 << DF_TABLE_BITS)
    df = np.minimum(df[slots], _DF_CAP).astype(np.uint64)
    key = (df << np.uint64(44)) | (words.hash >> np.uint64(20))  # rarer first; ties broken by the hash
    out = np.full((words.n, m), _ABSENT, dtype=np.uint64)
    present, starts = _segment_starts(words)
    if not len(present):
        return out
    for j in range(m):
        low = np.minimum.reduceat(key, starts)
        out[present, j] = low
        per_word = np.full(words.n, _ABSENT, dtype=np.uint64)
        per_word[present] = low
        key = np.where(key == per_word[words.row], _ABSENT, key)  # drop it (and its repeats)
    return out


def _block_pairs(rare: np.ndarray, order_key: np.ndarray, cap: int) -> np.ndarray:
    """Candidate pairs (encoded a * n + b, a < b) of texts sharing a pair of rare words."""
    n, m = rare.shape
    keys, rows = [], []
    for i in range(m):
        for j in range(i + 1, m):
            ok = (rare[:, i] != _ABSENT) & (rare[:, j] != _ABSENT)
            idx = np.flatnonzero(ok)
            keys.append(mix64(rare[idx, i] * np.uint64(0x9E3779B97F4A7C15) ^ rare[idx, j]))
            rows.append(idx)
    if not keys:
        return np.empty(0, np.int64)
    row = np.concatenate(rows).astype(np.int64)
    # one sort instead of a lexsort: 40 bits of the block key, then 24 bits of the order key (a few
    # of ~10^7 blocks may merge by chance; that only adds candidates, which the exact check removes)
    key = (np.concatenate(keys) & ~np.uint64((1 << 24) - 1)) | (order_key[row] >> np.uint64(40))
    order = np.argsort(key)
    key, row = key[order] >> np.uint64(24), row[order]
    brk = np.flatnonzero(key[1:] != key[:-1]) + 1
    starts = np.concatenate([[0], brk])
    sizes = np.diff(np.concatenate([starts, [len(key)]]))
    out = []
    # every block: pair each member with the next d members, d = 1 .. min(size - 1, cap); for a
    # block of at most cap + 1 members that is all pairs, for a bigger one a sliding window
    last = np.repeat(starts + sizes, sizes)
    pos = np.flatnonzero(np.repeat(sizes > 1, sizes))
    for d in range(1, cap + 1):
        pos = pos[pos + d < last[pos]]
        if not len(pos):
            break
        a, b = row[pos], row[pos + d]
        out.append(np.minimum(a, b) * n + np.maximum(a, b))
    if not out:
        return np.empty(0, np.int64)
    pairs = sorted_unique(np.concatenate(out))
    a, b = pairs // n, pairs % n
    return pairs[a != b]


def near_duplicate_pairs(
    normalised: pa.Array,
    *,
    threshold: float = NEAR_DUP_SIMILARITY,
    jaccard: float = NEAR_DUP_JACCARD,
    min_words: int = NEAR_DUP_MIN_WORDS,
    words: Words | None = None,
) -> NearPairs:
    """Pairs of texts (already normalised) that are the same text with a few words changed.

    A pair qualifies when its word sets have Jaccard >= ``jaccard`` and its word sequences have
    edit similarity (1 - word Levenshtein / longer length) >= ``threshold``.

    Texts with fewer than ``min_words`` distinct words take no part. Exact duplicates (equal
    texts) are the caller's business; pass one text per distinct value.
    """
    n = len(normalised)
    empty = NearPairs(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0), 0)
    if n < 2:
        return empty
    words = words if words is not None else word_hashes(normalised)
    if not len(words.hash):
        return empty
    rare = _rarest_words(words, max(NEAR_DUP_RAREST, min_words))
    eligible = rare[:, min_words - 1] != _ABSENT
    rare = rare[:, :NEAR_DUP_RAREST].copy()
    rare[~eligible] = _ABSENT
    sig = minhash_signatures(words, 2)  # only orders the members of big blocks
    order_key = sig[:, 0].astype(np.uint64) << np.uint64(32) | sig[:, 1].astype(np.uint64)
    pairs = _block_pairs(rare, order_key, NEAR_DUP_BLOCK_CAP)
    a, b = pairs // n, pairs % n
    sets = _word_sets(words)
    sim, inter = _jaccard(sets, a, b)
    # a word of one text missing from the other costs at least one edit: Levenshtein >= the larger
    # set difference, so pairs that cannot reach the edit threshold are dropped here, vectorised
    length = words.count
    longest = np.maximum(length[a], length[b])
    budget = np.floor((1.0 - threshold) * longest + 1e-9)
    lower = np.maximum(sets.count[a] - inter, sets.count[b] - inter)
    keep = (sim >= jaccard) & (lower <= budget) & (np.abs(length[a] - length[b]) <= budget)
    return _verify(normalised, a[keep], b[keep], threshold, candidates=len(a))


@dataclass
class _WordSets:
    key: np.ndarray  # (U,) uint64 sorted: text << 32 | 32 bits of a distinct word's hash
    start: np.ndarray  # (n,) first position of each text's words in key
    count: np.ndarray  # (n,) distinct words of each text


def _word_sets(words: Words) -> _WordSets:
    key = sorted_unique((words.row.astype(np.uint64) << np.uint64(32)) | (words.hash >> np.uint64(32)))
    count = np.bincount((key >> np.uint64(32)).astype(np.int64), minlength=words.n)
    start = np.concatenate([[0], np.cumsum(count)[:-1]])
    return _WordSets(key, start, count)


def _jaccard(sets: _WordSets, a: np.ndarray, b: np.ndarray, chunk: int = 1 << 19) -> tuple[np.ndarray, np.ndarray]:
    """(Jaccard, intersection size) of the word sets of each pair (a[i], b[i]), exact and
    vectorised: every word of text a is looked up in the sorted (text, word) keys of text b."""
    out = np.zeros(len(a))
    shared = np.zeros(len(a))
    low = np.uint64(0xFFFFFFFF)
    for s in range(0, len(a), chunk):
        pa_, pb_ = a[s : s + chunk], b[s : s + chunk]
        ca, cb = sets.count[pa_], sets.count[pb_]
        total = int(ca.sum())
        if total == 0:
            continue
        pair = np.repeat(np.arange(len(pa_)), ca)
        first = np.repeat(np.cumsum(ca) - ca, ca)
        idx = np.repeat(sets.start[pa_], ca) + (np.arange(total) - first)
        query = (pb_[pair].astype(np.uint64) << np.uint64(32)) | (sets.key[idx] & low)
        at = np.minimum(np.searchsorted(sets.key, query), len(sets.key) - 1)
        inter = np.bincount(pair, weights=sets.key[at] == query, minlength=len(pa_))
        union = ca + cb - inter
        out[s : s + chunk] = np.divide(inter, union, out=np.zeros(len(pa_)), where=union > 0)
        shared[s : s + chunk] = inter
    return out, shared


def _verify(normalised: pa.Array, a: np.ndarray, b: np.ndarray, threshold: float, *, candidates: int) -> NearPairs:
    """Keep the pairs whose word sequences have edit similarity >= ``threshold``."""
    if not len(a):
        return NearPairs(a, b, np.empty(0), candidates)
    involved = sorted_unique(np.concatenate([a, b]))
    texts = normalised.take(pa.array(involved)).to_pylist()
    seqs = {int(r): WORD_RE.findall(t or "") for r, t in zip(involved, texts)}
    sim = np.array([edit_similarity(seqs[x], seqs[y], threshold) for x, y in zip(a.tolist(), b.tolist())])
    ok = sim >= threshold
    return NearPairs(a[ok], b[ok], sim[ok], candidates)


def edit_similarity(x: list[str], y: list[str], threshold: float = 0.0) -> float:
    """1 - (word-level Levenshtein distance) / (longer length); 0.0 as soon as it must fall below ``threshold``.

    Equal lengths try the Hamming distance first (an upper bound on Levenshtein); otherwise a DP
    restricted to the band of allowed edits, so a pair costs O(length x allowed edits).
    """
    longest = max(len(x), len(y))
    if longest == 0:
        return 1.0
    budget = int(np.floor((1.0 - threshold) * longest + 1e-9))  # most edits still above the threshold
    if abs(len(x) - len(y)) > budget:
        return 0.0
    if len(x) == len(y):
        ham = sum(p != q for p, q in zip(x, y))
        if ham <= 1:  # Levenshtein equals Hamming when they differ in at most one place
            return 1.0 - ham / longest
    big = budget + 1
    prev = [j if j <= budget else big for j in range(len(y) + 1)]
    for i in range(1, len(x) + 1):
        lo, hi = max(1, i - budget), min(len(y), i + budget)
        cur = [big] * (len(y) + 1)
        cur[0] = i if i <= budget else big
        xi = x[i - 1]
        row_min = cur[0]
        for j in range(lo, hi + 1):
            v = prev[j - 1] + (xi != y[j - 1])
            if prev[j] + 1 < v:
                v = prev[j] + 1
            if cur[j - 1] + 1 < v:
                v = cur[j - 1] + 1
            cur[j] = v if v <= budget else big
            if cur[j] < row_min:
                row_min = cur[j]
        if row_min > budget:
            return 0.0
        prev = cur
    dist = prev[len(y)]
    return 0.0 if dist > budget else 1.0 - dist / longest
