"""Text columns: hashed word and character n-grams with weights, for an ``nn.EmbeddingBag``.

Each text becomes ids (``bucket + 1``; 0 is padding) and per-id weights. Word n-grams and
character n-grams within word boundaries (``char_wb``) are hashed into the same ``buckets``
exactly as scikit-learn's ``HashingVectorizer`` hashes them (MurmurHash3, seed 0: the same ids in
every process and on every machine, unlike Python's ``hash``). Each part gets sublinear term
frequencies (1 + log tf), is L2-normalised, and the parts are summed with equal weight, so every
text has weight norm 1 whatever its length. Hashing needs no vocabulary, so nothing here is
learned from the data and the JSON is a handful of settings.

The n-grams are found and hashed for all texts at once with numpy (``_lay_out``, ``_runs``,
:func:`~traincraft.features._murmur.murmur3_spans`) instead of one Python string per n-gram; the
counts equal ``HashingVectorizer``'s bit for bit (``tests/features/test_text.py`` pins them
against it), about 10x faster on SMS. When the optional C extension ``_ngrams`` (``_ngrams.c``,
built by ``pip install``) is there, it tokenises and counts instead, another ~4x faster; the numpy
path stays the reference and the fallback, and ``tests/features/test_text_compiled.py`` holds the
two equal bit for bit.
"""

from __future__ import annotations

import logging
import math
import re
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.utils.sparsefuncs_fast import inplace_csr_row_normalize_l2

from traincraft.errors import BundleError
from traincraft.features._common import check_fitted, check_kind, missing_mask
from traincraft.features._murmur import bucket_of, murmur3_spans
from traincraft.recipe import TextConfig

try:  # the optional compiled n-gram counter (setup.py); nothing is compiled at import time
    from traincraft.features import _ngrams
except ImportError:  # not built (no C compiler at install): the numpy path below, same output
    _ngrams = None

__all__ = ["TextEncoder", "WORD_TOKEN_PATTERN"]

WORD_TOKEN_PATTERN = r"(?u)\b\w+\b"  # keeps one-character words ("u", "2", "r") that chat and SMS use
HASH_SCHEME = "sklearn-HashingVectorizer-murmurhash3_32-seed0"
_SEPARATOR = "\n"  # between texts laid end to end: whitespace and not a word character, so no token or word spans two texts
_SPACE = 0x20
_WORD_CHAR = re.compile(r"\w")  # a token of WORD_TOKEN_PATTERN is a maximal run of these
_ASCII_WORD = np.array([bool(_WORD_CHAR.fullmatch(chr(c))) for c in range(128)])
_ASCII_SPACE = np.array([chr(c).isspace() for c in range(128)])  # str.split()'s whitespace
_NGRAMS_VERSION = 1  # the _ngrams.c this file was written for; another version (a stale build) is not used

log = logging.getLogger(__name__)
_fallback_logged = False


def _compiled_counter():
    """The ``_ngrams`` extension when it is built and current, else None (and a log line, once)."""
    global _fallback_logged
    version = getattr(_ngrams, "VERSION", None)
    if version == _NGRAMS_VERSION:
        return _ngrams
    if not _fallback_logged:
        _fallback_logged = True
        if _ngrams is None:
            log.info("traincraft.features._ngrams is not built; text encoding uses the slower numpy path (same output)")
        else:
            log.warning(
                "traincraft.features._ngrams is version %s, not %s (a stale build); text encoding uses the slower "
                "numpy path (same output). Reinstall traincraft (pip install -e .) to rebuild it.",
                version,
                _NGRAMS_VERSION,
            )
    return None


class _Laid(NamedTuple):
    """Texts joined by :data:`_SEPARATOR`: code points, their UTF-8 bytes, and where each char and text starts."""

    codepoints: np.ndarray  # uint32 (chars,)
    utf8: np.ndarray  # uint8 (bytes,)
    byte_of: np.ndarray  # int64 (chars + 1,): UTF-8 offset of each char
    text_start: np.ndarray  # int64 (N,): char offset of each text
    joined: str
    ascii: bool  # every char is one byte


def _lay_out(texts: list[str]) -> _Laid:
    joined = _SEPARATOR.join(texts)
    codepoints = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
    utf8 = np.frombuffer(joined.encode("utf-8"), dtype=np.uint8)
    ascii = len(utf8) == len(codepoints)
    if ascii:  # a char is a byte
        byte_of = np.arange(len(codepoints) + 1, dtype=np.int64)
    else:
        width = 1 + (codepoints >= 0x80).astype(np.int64) + (codepoints >= 0x800) + (codepoints >= 0x10000)
        byte_of = np.zeros(len(codepoints) + 1, dtype=np.int64)
        np.cumsum(width, out=byte_of[1:])
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    text_start = np.zeros(len(texts), dtype=np.int64)
    np.cumsum(lengths[:-1] + 1, out=text_start[1:])
    return _Laid(codepoints, utf8, byte_of, text_start, joined, ascii)


def _char_class(codepoints: np.ndarray, ascii_table: np.ndarray, is_member, *, ascii: bool) -> np.ndarray:
    """``is_member(char)`` for every code point: a table for ASCII, one call per distinct other char."""
    if ascii:
        return ascii_table[codepoints]
    high = codepoints >= 128
    out = ascii_table[np.where(high, 0, codepoints)]
    if high.any():
        distinct, inverse = np.unique(codepoints[high], return_inverse=True)
        member = np.array([bool(is_member(chr(c))) for c in distinct.tolist()], dtype=bool)
        out[high] = member[inverse]
    return out


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts and ends (exclusive) of the maximal runs of True."""
    step = np.diff(mask.astype(np.int8), prepend=np.int8(0), append=np.int8(0))
    return np.flatnonzero(step == 1), np.flatnonzero(step == -1)


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The concatenated ranges ``[s, s + n)`` for ``s, n`` in ``starts, lengths``."""
    return np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(int(lengths.sum()))


def _stream(utf8: np.ndarray, starts: np.ndarray, lengths: np.ndarray, *, lead: int) -> tuple[np.ndarray, np.ndarray]:
    """The byte spans laid end to end, each followed by one space (and ``lead`` spaces first).

    Consecutive spans then read as one string joined by single spaces, which is how scikit-learn
    joins the tokens of a word n-gram and pads a word for ``char_wb``. Gives the bytes and where
    each span starts in them.
    """
    segment = lengths + 1
    at = np.full(len(starts), lead, dtype=np.int64)
    np.cumsum(segment[:-1], out=at[1:])
    at[1:] += lead
    total = lead + int(segment.sum())
    source = np.append(utf8, np.uint8(0))  # the byte after the last span is read, then overwritten
    out = np.empty(total, dtype=np.uint8)
    out[:lead] = _SPACE
    out[lead:] = source[np.repeat(starts - at, segment) + np.arange(lead, total)]
    out[at + lengths] = _SPACE
    return out, at


def _counts(rows: np.ndarray, columns: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    """Canonical CSR (sorted, duplicates summed) of ones at ``(rows, columns)``: float32 counts."""
    ones = np.ones(len(rows), dtype=np.float32)
    return sp.coo_matrix((ones, (rows, columns)), shape=shape).tocsr()


def _distinct_words(laid: _Laid, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Number the distinct words among the char spans ``[starts, ends)``: (code of each, first occurrence of each code).

    Words of up to 7 UTF-8 bytes (most of them) are told apart by their bytes packed into one
    integer with the length on top; longer ones by their Python strings. Exact either way.
    """
    first_byte = laid.byte_of[starts]
    length = laid.byte_of[ends] - first_byte  # (W,)
    short = length <= 7
    source = np.append(laid.utf8, np.zeros(8, dtype=np.uint8))
    eight = source[first_byte[:, None] + np.arange(8)].view("<u8")[:, 0]  # (W,) the 8 bytes from each word's start
    keep = (np.uint64(1) << (np.minimum(length, 7).astype(np.uint64) * np.uint64(8))) - np.uint64(1)
    packed = (eight & keep) | (length.astype(np.uint64) << np.uint64(56))  # exact for words of <= 7 bytes
    short_ones, long_ones = np.flatnonzero(short), np.flatnonzero(~short)
    long_words = [laid.joined[a:b] for a, b in zip(starts[long_ones].tolist(), ends[long_ones].tolist())]
    code = np.empty(len(starts), dtype=np.int64)
    firsts = []
    for subset, keys in ((short_ones, packed[short_ones]), (long_ones, np.asarray(long_words, dtype=object))):
        local, _ = pd.factorize(keys)  # numbered in order of first appearance
        seen = np.maximum.accumulate(np.concatenate([[-1], local[:-1]]))
        code[subset] = local + sum(len(f) for f in firsts)
        firsts.append(subset[np.flatnonzero(local > seen)])
    return code, np.concatenate(firsts)


def _distinct_texts(series: pd.Series) -> tuple[np.ndarray | None, list[str]]:
    """The distinct texts of ``series`` (missing: the empty text; other values written out with ``str``)
    and the index into them of each row (None when every row is distinct, in row order)."""
    if isinstance(series.dtype, pd.StringDtype):  # strings or missing: factorised without Python objects per row
        of_row, distinct = pd.factorize(series, use_na_sentinel=True)
        texts = [t if t.strip() else "" for t in distinct.tolist()]  # whitespace only: missing (missing_mask's rule)
        if (of_row < 0).any():
            of_row = np.where(of_row < 0, len(texts), of_row)
            texts.append("")
    else:
        missing = missing_mask(series)
        strings = series.astype(object).where(~missing, "").astype(str).tolist()
        of_row, distinct = pd.factorize(np.asarray(strings, dtype=object))
        texts = distinct.tolist()
    every_row_distinct = len(distinct) == len(series)  # then factorize numbered the rows in order
    return (None if every_row_distinct else of_row), texts


class TextEncoder:
    """``transform`` gives ``(ids int64 (N, L), weights float32 (N, L))``, L = longest text capped at max_tokens."""

    kind = "text"

    def __init__(self, name: str, config: TextConfig | None = None) -> None:
        config = config or TextConfig()
        self.name = name
        self.word_ngrams: tuple[int, int] = tuple(config.word_ngrams)
        self.char_ngrams: tuple[int, int] | None = tuple(config.char_ngrams) if config.char_ngrams else None
        self.buckets = config.buckets
        self.max_tokens = config.max_tokens
        self.lowercase = config.lowercase
        self.fitted = False

    def _word_counts(self, laid: _Laid, n_texts: int) -> sp.csr_matrix:
        """``HashingVectorizer(analyzer="word", token_pattern=WORD_TOKEN_PATTERN)`` counts, (N, buckets).

        Tokens are the runs of word characters; an n-gram is n consecutive tokens of one text
        joined by single spaces, hashed straight from a stream of the tokens laid out that way.
        """
        starts, ends = _runs(_char_class(laid.codepoints, _ASCII_WORD, _WORD_CHAR.fullmatch, ascii=laid.ascii))  # (T,)
        text_of = np.searchsorted(laid.text_start, starts, side="right") - 1  # (T,)
        first_byte = laid.byte_of[starts]
        length = laid.byte_of[ends] - first_byte
        stream, at = _stream(laid.utf8, first_byte, length, lead=0)
        rows, columns = [], []
        low, high = self.word_ngrams
        for n in range(low, high + 1):
            first = np.arange(max(len(starts) - n + 1, 0))
            last = first + (n - 1)
            same_text = text_of[first] == text_of[last]
            first, last = first[same_text], last[same_text]
            hashes = murmur3_spans(stream, at[first], at[last] + length[last] - at[first])
            rows.append(text_of[first])
            columns.append(bucket_of(hashes, self.buckets))
        return _counts(np.concatenate(rows), np.concatenate(columns), (n_texts, self.buckets))

    def _char_counts(self, laid: _Laid, n_texts: int) -> sp.csr_matrix:
        """``HashingVectorizer(analyzer="char_wb")`` counts, (N, buckets), hashed once per distinct word.

        ``char_wb`` n-grams never cross whitespace, so a text's counts are the sum of its
        whitespace-separated words' counts: (texts x words) @ (words x buckets). Each distinct
        word is padded with a space on both sides; its n-grams are the windows of each length in
        ``char_ngrams`` shorter than the padded word, and the padded word itself once when it is
        no longer than the largest length (scikit-learn's ``_char_wb_ngrams``).
        """
        starts, ends = _runs(~_char_class(laid.codepoints, _ASCII_SPACE, str.isspace, ascii=laid.ascii))  # (W,) word occurrences
        if len(starts) == 0:  # every text is empty
            return sp.csr_matrix((n_texts, self.buckets), dtype=np.float32)
        code, first = _distinct_words(laid, starts, ends)  # (W,) distinct word of each occurrence, (V,) its first
        char_start, chars = starts[first], ends[first] - starts[first]  # (V,)
        first_byte = laid.byte_of[char_start]
        stream, at = _stream(laid.utf8, first_byte, laid.byte_of[ends[first]] - first_byte, lead=1)
        padded = chars + 2  # (V,) chars of " word "

        if laid.ascii:
            stream_byte_of = None
        else:  # the stream's byte offset of each of its chars (the spaces and the words' chars, in order)
            width = np.ones(1 + int(padded.sum()) - len(padded), dtype=np.int64)  # (chars of the stream,) bytes each
            char_at = 1 + np.cumsum(chars + 1) - (chars + 1)  # (V,) stream char of each word's first char
            width[_ranges(char_at, chars)] = np.diff(laid.byte_of)[_ranges(char_start, chars)]
            stream_byte_of = np.zeros(len(width) + 1, dtype=np.int64)
            np.cumsum(width, out=stream_byte_of[1:])
            word_at = char_at - 1  # (V,) stream char where padded word " word " starts

        def byte_at(word: np.ndarray, position: np.ndarray) -> np.ndarray:
            """Offset in ``stream`` of char ``position`` of padded word ``word`` (``padded[word]`` = its end)."""
            if stream_byte_of is None:  # a char is a byte
                return at[word] - 1 + position
            return stream_byte_of[word_at[word] + position]

        low, high = self.char_ngrams
        word_ids, windows, sizes = [], [], []
        for n in range(low, high + 1):
            longer = np.flatnonzero(padded > n)  # words with room for windows of n chars
            count = padded[longer] - n + 1
            word = np.repeat(longer, count)
            windows.append(np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count))
            word_ids.append(word)
            sizes.append(np.full(len(word), n, dtype=np.int64))
        whole = np.flatnonzero(padded <= high)  # short words: the padded word once
        word_ids.append(whole)
        windows.append(np.zeros(len(whole), dtype=np.int64))
        sizes.append(padded[whole])
        word, window, size = np.concatenate(word_ids), np.concatenate(windows), np.concatenate(sizes)
        begin = byte_at(word, window)
        hashes = murmur3_spans(stream, begin, byte_at(word, window + size) - begin)
        buckets = bucket_of(hashes, self.buckets)
        text_of = np.searchsorted(laid.text_start, starts, side="right") - 1  # (W,), ascending
        # (texts x words) @ (words x buckets), computed transposed: scipy's product leaves each row's
        # columns unsorted, while the transpose back to rows sorts them for free (a counting sort)
        per_word_t = _counts(buckets, word, (self.buckets, len(first)))  # (buckets, V)
        occurrences_t = _counts(code, text_of, (len(first), n_texts))  # (V, N)
        return (per_word_t @ occurrences_t).T.tocsr()  # (N, buckets), canonical

    def fit(self, series: pd.Series) -> TextEncoder:
        """Nothing is learned (hashing has no vocabulary); kept so every encoder fits the same way."""
        self.fitted = True
        return self

    def weights_matrix(self, series: pd.Series) -> sp.csr_matrix:
        """The (N, buckets) sparse weights; missing text is the empty text (no ids).

        A text's row depends on that text alone, so each distinct text is encoded once and its
        row copied to every row that holds it (on SMS spam, 7% of the rows repeat another).
        """
        check_fitted(self)
        of_row, texts = _distinct_texts(series)  # (N,) index into texts, or None: every row distinct
        if not texts:
            return sp.csr_matrix((len(series), self.buckets), dtype=np.float32)
        matrix = self._weights_of_distinct(texts)
        return matrix if of_row is None else matrix[of_row]  # canonical rows, copied

    def _compiled_counts(self, texts: list[str], ngrams) -> list[sp.csr_matrix]:
        """The word and char count matrices from the C extension: the numpy path's, bit for bit."""
        char_low, char_high = self.char_ngrams or (0, 0)
        parts = ngrams.count(texts, *self.word_ngrams, char_low, char_high, self.buckets)
        counts = []
        for indptr, indices, data in (parts[:3], parts[3:]):
            if indptr is None:  # no char n-grams
                continue
            arrays = (np.frombuffer(data, dtype=np.float32), np.frombuffer(indices, dtype=np.int32), np.frombuffer(indptr, dtype=np.int64))
            counts.append(sp.csr_matrix(arrays, shape=(len(texts), self.buckets)))  # canonical: sorted, no duplicates
        return counts

    def _numpy_counts(self, texts: list[str]) -> list[sp.csr_matrix]:
        laid = _lay_out(texts)
        counts = [self._word_counts(laid, len(texts))]
        if self.char_ngrams is not None:
            counts.append(self._char_counts(laid, len(texts)))
        return counts

    def _weights_of_distinct(self, texts: list[str]) -> sp.csr_matrix:
        texts = [t.lower() for t in texts] if self.lowercase else texts
        ngrams = _compiled_counter()
        if ngrams is not None and self.buckets <= ngrams.MAX_BUCKETS:
            counts = self._compiled_counts(texts, ngrams)
        else:
            counts = self._numpy_counts(texts)
        total = None
        for part in counts:  # canonical float32 counts (sorted columns, no duplicates)
            np.log(part.data, out=part.data)
            part.data += np.float32(1.0)  # sublinear tf: 1 + log(count)
            inplace_csr_row_normalize_l2(part)  # what sklearn's normalize(norm="l2") runs, without its copies and checks
            total = part if total is None else total + part  # scipy's sum of canonical matrices is canonical
        if len(counts) > 1:
            total.data *= np.float32(1.0 / math.sqrt(len(counts)))  # word and char parts weigh the same
        return total

    def transform(self, series: pd.Series, *, strict: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Ids and weights; any value is text (numbers are written out), so ``strict`` refuses nothing."""
        check_fitted(self)
        return self.pad(self.weights_matrix(series))

    def pad(self, matrix: sp.csr_matrix, start: int = 0, stop: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Rows ``start:stop`` of :meth:`weights_matrix` as ``(ids, weights)`` padded to their longest, at most ``max_tokens``."""
        stop = matrix.shape[0] if stop is None else min(stop, matrix.shape[0])
        indptr = matrix.indptr[start : stop + 1]
        ids, data = matrix.indices[indptr[0] : indptr[-1]], matrix.data[indptr[0] : indptr[-1]]  # views
        indptr = indptr - indptr[0]
        n = stop - start
        lengths = np.diff(indptr)
        width = max(1, min(int(lengths.max(initial=0)), self.max_tokens))
        over = np.flatnonzero(lengths > width)  # texts with more n-grams than the cap
        if len(over):
            # keep the heaviest n-grams of an over-long text: order its entries by weight, descending
            rows = np.repeat(np.arange(n), lengths)
            entries = np.flatnonzero((lengths > width)[rows])
            order = entries[np.lexsort((-data[entries], rows[entries]))]
            ids, data = ids.copy(), data.copy()
            ids[entries], data[entries] = ids[order], data[order]
            keep = np.arange(len(ids)) - np.repeat(indptr[:-1], lengths) < width
            ids, data = ids[keep], data[keep]
        filled = np.arange(width) < np.minimum(lengths, width)[:, None]  # (n, L), row-major like the CSR entries
        out_ids = np.zeros((n, width), dtype=np.int64)
        out_weights = np.zeros((n, width), dtype=np.float32)
        out_ids[filled] = ids + 1  # 0 is padding
        out_weights[filled] = data
        return out_ids, out_weights

    def to_json(self) -> dict[str, Any]:
        check_fitted(self)
        return {
            "type": self.kind,
            "name": self.name,
            "hash": HASH_SCHEME,
            "word_ngrams": list(self.word_ngrams),
            "char_ngrams": list(self.char_ngrams) if self.char_ngrams else None,
            "token_pattern": WORD_TOKEN_PATTERN,
            "buckets": self.buckets,
            "max_tokens": self.max_tokens,
            "lowercase": self.lowercase,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> TextEncoder:
        check_kind(d, cls.kind, cls.__name__)
        if d.get("hash") != HASH_SCHEME or d.get("token_pattern") != WORD_TOKEN_PATTERN:
            raise BundleError(
                f"Text column '{d.get('name')}' was hashed with {d.get('hash')!r} and token pattern "
                f"{d.get('token_pattern')!r}; this traincraft hashes with {HASH_SCHEME!r} and "
                f"{WORD_TOKEN_PATTERN!r}, so its ids would not match the trained embeddings. "
                "Use the traincraft version that wrote the bundle, or retrain."
            )
        config = TextConfig(
            word_ngrams=tuple(d["word_ngrams"]),
            char_ngrams=tuple(d["char_ngrams"]) if d["char_ngrams"] else None,
            buckets=int(d["buckets"]),
            max_tokens=int(d["max_tokens"]),
            lowercase=bool(d["lowercase"]),
        )
        enc = cls(d["name"], config)
        enc.fitted = True
        return enc
