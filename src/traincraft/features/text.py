"""Text columns: hashed word and character n-grams with weights, for an ``nn.EmbeddingBag``.

Each text becomes ids (``bucket + 1``; 0 is padding) and per-id weights. Word n-grams and
character n-grams within word boundaries (``char_wb``) are hashed into the same ``buckets``
with scikit-learn's ``HashingVectorizer`` (MurmurHash3, seed 0: the same ids in every process
and on every machine, unlike Python's ``hash``). Each part gets sublinear term frequencies
(1 + log tf), is L2-normalised, and the parts are summed with equal weight, so every text has
weight norm 1 whatever its length. Hashing needs no vocabulary, so nothing here is learned from
the data and the JSON is a handful of settings.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.preprocessing import normalize

from traincraft.errors import BundleError
from traincraft.features._common import check_fitted, check_kind, missing_mask
from traincraft.recipe import TextConfig

__all__ = ["TextEncoder", "WORD_TOKEN_PATTERN"]

WORD_TOKEN_PATTERN = r"(?u)\b\w+\b"  # keeps one-character words ("u", "2", "r") that chat and SMS use
HASH_SCHEME = "sklearn-HashingVectorizer-murmurhash3_32-seed0"


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
        self._build()

    def _build(self) -> None:
        common = dict(
            n_features=self.buckets,
            alternate_sign=False,
            norm=None,
            lowercase=self.lowercase,
            dtype=np.float32,
        )
        self._words = HashingVectorizer(
            analyzer="word", ngram_range=self.word_ngrams, token_pattern=WORD_TOKEN_PATTERN, **common
        )
        self._chars = (
            HashingVectorizer(analyzer="char_wb", ngram_range=self.char_ngrams, **common) if self.char_ngrams else None
        )

    def _char_counts(self, texts: list[str]) -> sp.csr_matrix:
        """``self._chars.transform(texts)``, computed once per distinct word instead of once per occurrence.

        ``char_wb`` n-grams never cross a space, so a text's counts are the sum of its
        whitespace-separated words' counts: (texts x words) @ (words x buckets). Same matrix,
        about 3x faster on SMS, more on larger corpora where words repeat more.
        """
        vocabulary: dict[str, int] = {}
        word_ids: list[int] = []
        indptr = [0]
        for text in texts:
            for word in (text.lower() if self.lowercase else text).split():
                word_ids.append(vocabulary.setdefault(word, len(vocabulary)))
            indptr.append(len(word_ids))
        occurrences = sp.csr_matrix(
            (np.ones(len(word_ids), dtype=np.float32), np.asarray(word_ids, dtype=np.int64), np.asarray(indptr)),
            shape=(len(texts), len(vocabulary)),
        )  # (N, words), duplicates summed by the product below
        if not vocabulary:  # every text is empty
            return sp.csr_matrix((len(texts), self.buckets), dtype=np.float32)
        per_word = self._chars.transform(list(vocabulary))  # (words, buckets)
        return (occurrences @ per_word).tocsr()

    def fit(self, series: pd.Series) -> TextEncoder:
        """Nothing is learned (hashing has no vocabulary); kept so every encoder fits the same way."""
        self.fitted = True
        return self

    def weights_matrix(self, series: pd.Series) -> sp.csr_matrix:
        """The (N, buckets) sparse weights; missing text is the empty text (no ids)."""
        missing = missing_mask(series)
        texts = series.astype(object).where(~missing, "").astype(str).tolist()
        if not texts:  # sklearn's hashers refuse an empty list
            return sp.csr_matrix((0, self.buckets), dtype=np.float32)
        counts = [self._words.transform(texts)]
        if self._chars is not None:
            counts.append(self._char_counts(texts))
        total = None
        for part in counts:
            part = part.tocsr().astype(np.float32)
            part.sum_duplicates()
            np.log(part.data, out=part.data)
            part.data += 1.0  # sublinear tf: 1 + log(count)
            part = normalize(part, norm="l2", copy=False)
            total = part if total is None else total + part
        total = total.tocsr()
        if len(counts) > 1:
            total.data *= np.float32(1.0 / math.sqrt(len(counts)))  # word and char parts weigh the same
        total.sum_duplicates()
        return total

    def transform(self, series: pd.Series, *, strict: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Ids and weights; any value is text (numbers are written out), so ``strict`` refuses nothing."""
        check_fitted(self)
        matrix = self.weights_matrix(series)
        n = matrix.shape[0]
        lengths = np.diff(matrix.indptr)
        width = max(1, min(int(lengths.max(initial=0)), self.max_tokens))
        rows = np.repeat(np.arange(n), lengths)
        ids, data = matrix.indices, matrix.data
        over = np.flatnonzero((lengths > width)[rows])  # entries of the texts longer than the cap
        if len(over):
            # keep the heaviest n-grams of an over-long text: order its entries by weight, descending
            order = over[np.lexsort((-data[over], rows[over]))]
            ids, data = ids.copy(), data.copy()
            ids[over], data[over] = ids[order], data[order]
        position = np.arange(len(ids)) - matrix.indptr[rows]
        keep = position < width
        out_ids = np.zeros((n, width), dtype=np.int64)
        out_weights = np.zeros((n, width), dtype=np.float32)
        out_ids[rows[keep], position[keep]] = ids[keep].astype(np.int64) + 1  # 0 is padding
        out_weights[rows[keep], position[keep]] = data[keep]
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
