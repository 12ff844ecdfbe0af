from __future__ import annotations

import numpy as np
import pytest
from sklearn.utils import murmurhash3_32

from traincraft.features._murmur import LONG_SPAN, bucket_of, murmur3_spans

ALPHABET = list("abcxyz 019_-.\t\x00") + ["é", "ß", "İ", "日", "本", "😀", "𝔘", "\u3000", "\x85"]


def random_strings(n: int, max_len: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(ALPHABET, size=rng.integers(0, max_len + 1))) for _ in range(n)]


def spans_of(strings: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    encoded = [s.encode("utf-8") for s in strings]
    lengths = np.array([len(b) for b in encoded], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    return np.frombuffer(b"".join(encoded), dtype=np.uint8), starts, lengths


@pytest.mark.parametrize("seed", [0, 1])
def test_equals_sklearns_murmurhash3_on_random_unicode(seed):
    strings = random_strings(3000, 40, seed) + ["", "a", "ab", "abc", "abcd", "abcde", "x" * (LONG_SPAN + 5)]
    data, starts, lengths = spans_of(strings)
    got = murmur3_spans(data, starts, lengths)
    expected = np.array([murmurhash3_32(s, seed=0) for s in strings], dtype=np.int64)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got.astype(np.int64), expected)


def test_spans_may_overlap_and_come_in_any_order():
    data = np.frombuffer(b" hello world ", dtype=np.uint8)
    starts = np.array([7, 0, 1, 1, 3])
    lengths = np.array([5, 13, 5, 11, 2])
    got = murmur3_spans(data, starts, lengths).tolist()
    text = " hello world "
    assert got == [murmurhash3_32(text[s : s + n], seed=0) for s, n in zip(starts, lengths)]


def test_seed_and_no_spans():
    data = np.frombuffer(b"abcdef", dtype=np.uint8)
    assert murmur3_spans(data, [0], [6], seed=42)[0] == murmurhash3_32("abcdef", seed=42)
    assert murmur3_spans(data, [], []).shape == (0,)


def test_buckets_match_sklearns_feature_hasher_including_the_most_negative_hash():
    hashes = np.array([0, 5, -5, 2**31 - 1, -(2**31)], dtype=np.int32)
    n = 1000
    expected = [0, 5, 5, (2**31 - 1) % n, (2147483647 - (n - 1)) % n]
    assert bucket_of(hashes, n).tolist() == expected
