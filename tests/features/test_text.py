from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.preprocessing import normalize

from traincraft.errors import BundleError
from traincraft.features.text import WORD_TOKEN_PATTERN, TextEncoder, _lay_out
from traincraft.recipe import TextConfig


def encoder(**config) -> TextEncoder:
    return TextEncoder("sms", TextConfig(**config)).fit(pd.Series(["training text"]))


def test_hashing_is_stable_across_processes_and_machines():
    # MurmurHash3 ids pinned once; Python's hash() would change these in every process
    words = encoder(word_ngrams=(1, 1), char_ngrams=None)
    ids, weights = words.transform(pd.Series(["Free entry now"]))
    assert sorted(ids[0].tolist()) == [68116, 156783, 253894]
    np.testing.assert_allclose(weights[0], [3**-0.5] * 3, rtol=1e-6)

    mixed = encoder(word_ngrams=(1, 2), char_ngrams=(3, 3), buckets=1024)
    ids, _ = mixed.transform(pd.Series(["Win cash"]))
    assert sorted(ids[0].tolist()) == [119, 164, 242, 391, 524, 557, 612, 748, 809]


def test_weights_are_sublinear_and_normalised():
    enc = encoder(word_ngrams=(1, 1), char_ngrams=None)
    ids, weights = enc.transform(pd.Series(["spam spam spam eggs"]))
    by_id = dict(zip(ids[0].tolist(), weights[0].tolist()))
    spam, eggs = 1 + np.log(3), 1.0
    norm = np.hypot(spam, eggs)
    assert sorted(by_id.values()) == pytest.approx(sorted([spam / norm, eggs / norm]))


def test_word_and_char_parts_each_carry_half_the_weight():
    enc = encoder(word_ngrams=(1, 1), char_ngrams=(2, 2), buckets=2**18)
    ids, weights = enc.transform(pd.Series(["hello there friend"]))
    assert float((weights[0] ** 2).sum()) == pytest.approx(1.0, abs=0.02)  # ~1 unless word and char ids collide


def test_padding_missing_text_and_shapes():
    enc = encoder()
    ids, weights = enc.transform(pd.Series(["a short one", None, "", "a much longer text with more words in it"]))
    assert ids.dtype == np.int64 and weights.dtype == np.float32
    assert ids.shape == weights.shape and ids.shape[0] == 4
    assert (ids[1] == 0).all() and (ids[2] == 0).all()  # missing and empty texts have no ids
    assert ((ids == 0) == (weights == 0)).all()  # weight 0 exactly on padding
    assert (ids > 0).sum(axis=1)[3] == ids.shape[1]  # L is the longest text
    assert ids.max() <= enc.buckets


def test_all_empty_still_has_one_column():
    ids, weights = encoder().transform(pd.Series([None, "  "], dtype=object))
    assert ids.shape == (2, 1) and not ids.any() and not weights.any()


def test_max_tokens_caps_and_keeps_the_heaviest_ngrams():
    enc = encoder(word_ngrams=(1, 1), char_ngrams=None, max_tokens=8)
    text = "win win win win " + " ".join(f"w{i}" for i in range(20))
    ids, weights = enc.transform(pd.Series([text, "short"]))
    assert ids.shape == (2, 8)
    full_ids, full_weights = encoder(word_ngrams=(1, 1), char_ngrams=None).transform(pd.Series([text]))
    heaviest = full_ids[0][np.argmax(full_weights[0])]
    assert heaviest in ids[0]  # "win" (tf 4) survived the cap


def test_lowercase_option():
    upper = pd.Series(["FREE"])
    lower = pd.Series(["free"])
    on = encoder()
    off = encoder(lowercase=False)
    assert set(on.transform(upper)[0][0]) == set(on.transform(lower)[0][0])
    assert set(off.transform(upper)[0][0]) != set(off.transform(lower)[0][0])


def test_numbers_are_text():
    ids, _ = encoder().transform(pd.Series([12345, 3.5]))
    assert (ids > 0).any(axis=1).all()


def test_json_round_trip_gives_identical_transforms():
    enc = encoder(word_ngrams=(1, 3), char_ngrams=(2, 4), buckets=4096, max_tokens=64)
    d = json.loads(json.dumps(enc.to_json()))
    assert len(json.dumps(d)) < 1000  # settings only, no vocabulary
    back = TextEncoder.from_json(d)
    data = pd.Series(["Call 0800 now to claim!", None, "see you later"])
    for a, b in zip(enc.transform(data), back.transform(data)):
        np.testing.assert_array_equal(a, b)


def test_from_json_refuses_another_hashing_scheme():
    d = encoder().to_json()
    d["hash"] = "python-hash"
    with pytest.raises(BundleError, match=r"Text column 'sms' was hashed with 'python-hash'.*retrain"):
        TextEncoder.from_json(d)


def test_no_rows():
    ids, weights = encoder().transform(pd.Series([], dtype=object))
    assert ids.shape == (0, 1) and weights.shape == (0, 1)


@pytest.mark.parametrize("dtype", [object, "string[python]", "string[pyarrow]"])
def test_repeated_texts_get_the_rows_they_get_alone(dtype):
    # each distinct text is encoded once and its row copied: rows must not depend on the others
    texts = ["free entry now", None, "  ", "hi", "free entry now", "", "hi", "Free entry now", None]
    enc = encoder()
    ids, weights = enc.transform(pd.Series(texts, dtype=dtype))
    alone = [enc.transform(pd.Series([t], dtype=object)) for t in texts]
    for i, (row_ids, row_weights) in enumerate(alone):
        width = row_ids.shape[1]
        np.testing.assert_array_equal(ids[i, :width], row_ids[0])
        np.testing.assert_array_equal(weights[i, :width], row_weights[0])
        assert not ids[i, width:].any()
    assert (ids[1] == 0).all() and (ids[2] == 0).all() and (ids[5] == 0).all()  # missing, blank, empty
    matrix = enc.weights_matrix(pd.Series(texts, dtype=dtype))
    assert matrix.has_canonical_format and matrix.shape == (len(texts), enc.buckets)


@pytest.mark.parametrize("lowercase", [True, False])
@pytest.mark.parametrize(("word_ngrams", "char_ngrams"), [((1, 2), (2, 5)), ((1, 4), (1, 1)), ((3, 3), (4, 9))])
def test_counts_equal_sklearns_hashing_vectorizer(lowercase, word_ngrams, char_ngrams):
    enc = encoder(word_ngrams=word_ngrams, char_ngrams=char_ngrams, lowercase=lowercase, buckets=2**12)
    texts = ["Free  entry\tin 2 a wkly comp", "", "ÉTÉ été  x", "free FREE free", "a", "İstanbul\nnow", *map(str, TRICKY_TEXTS)]
    laid = _lay_out([t.lower() for t in texts] if lowercase else texts)
    fast = [enc._word_counts(laid, len(texts)), enc._char_counts(laid, len(texts))]
    for got, expected in zip(fast, reference_counts(texts, enc)):
        got.sum_duplicates()
        assert got.shape == expected.shape and (got != expected).nnz == 0


# --- the encoding is pinned: bundles trained with it must keep predicting the same -------------

TRICKY_TEXTS = [
    "Free entry in 2 a wkly comp to win FA Cup final tkts 21st May 2005. Text FA to 87121",
    "",
    "   \t\n ",
    None,
    12345,
    3.5,
    "ÉTÉ été  x İstanbul ß STRASSE Ǆemal",  # lowercasing that changes length ('İ' -> 'i̇')
    "日本語のテキスト 中文 한국어 العربية עברית",
    "emoji 😀😀 👍🏽 a😀b 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "snake_case __dunder__ a_b_c 3_000 ５６ ½ ²",
    "sep\x1cfile\x1dgroup\x1erecord\x1funit\x85nel\u2028line\u00a0nbsp\u3000ideo",
    "nul\x00inside word\x00 \x00",
    "x" * 300 + " " + "https://example.com/" + "a/b?c=d&" * 40,
    " ".join(f"w{i} tok{i % 7}" for i in range(700)),  # far more n-grams than max_tokens
    "a",
    "ab ab ab ab",
    "I",
    "don't can't won't it's 'quoted' \"double\" (paren) [br] {cb} <ang>",
    "tabs\tand\nnewlines\r\nand  double  spaces",
]


def reference_counts(texts: list[str], enc: TextEncoder) -> list[sp.csr_matrix]:
    """The word and char_wb count matrices straight from scikit-learn's HashingVectorizer."""
    common = dict(n_features=enc.buckets, alternate_sign=False, norm=None, lowercase=enc.lowercase, dtype=np.float32)
    words = HashingVectorizer(analyzer="word", ngram_range=enc.word_ngrams, token_pattern=WORD_TOKEN_PATTERN, **common)
    parts = [words.transform(texts)]
    if enc.char_ngrams:
        parts.append(HashingVectorizer(analyzer="char_wb", ngram_range=enc.char_ngrams, **common).transform(texts))
    return parts


def reference_transform(series: pd.Series, enc: TextEncoder) -> tuple[np.ndarray, np.ndarray]:
    """What traincraft 0.1 computed (sklearn hashing, sublinear tf, L2 per part, parts summed / sqrt(parts)),
    padded to the longest text capped at max_tokens with the heaviest n-grams kept."""
    texts = [("" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)) for v in series.tolist()]
    total = None
    parts = reference_counts(texts, enc)
    for part in parts:
        part = part.tocsr().astype(np.float32)
        part.sum_duplicates()
        np.log(part.data, out=part.data)
        part.data += 1.0
        part = normalize(part, norm="l2", copy=False)
        total = part if total is None else total + part
    total = total.tocsr()
    if len(parts) > 1:
        total.data *= np.float32(1.0 / np.sqrt(len(parts)))
    total.sum_duplicates()
    width = max(1, min(int(np.diff(total.indptr).max(initial=0)), enc.max_tokens))
    ids = np.zeros((len(texts), width), dtype=np.int64)
    weights = np.zeros((len(texts), width), dtype=np.float32)
    for i in range(len(texts)):
        row_ids = total.indices[total.indptr[i] : total.indptr[i + 1]]
        row_w = total.data[total.indptr[i] : total.indptr[i + 1]]
        if len(row_ids) > width:
            keep = np.argsort(-row_w, kind="stable")[:width]
            row_ids, row_w = row_ids[keep], row_w[keep]
        ids[i, : len(row_ids)] = row_ids.astype(np.int64) + 1
        weights[i, : len(row_w)] = row_w
    return ids, weights


def digest(*arrays: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(str(a.shape).encode() + str(a.dtype).encode() + np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:16]


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({}, "9b9cb308ea1584f5"),
        ({"word_ngrams": (1, 3), "char_ngrams": (1, 4), "buckets": 4096, "max_tokens": 64}, "5250ec2d37870711"),
        ({"word_ngrams": (2, 2), "char_ngrams": None, "lowercase": False}, "6f9a0f1a7d46cf9c"),
        ({"word_ngrams": (1, 1), "char_ngrams": (3, 6), "lowercase": False, "max_tokens": 8}, "a2d4d835290fd8b9"),
    ],
)
def test_encoding_is_pinned_on_fixed_inputs(config, expected):
    # digests of the exact bytes the first traincraft release wrote for these texts: a change here
    # means existing bundles would be fed other ids or weights than they were trained on
    enc = encoder(**config)
    series = pd.Series(TRICKY_TEXTS, dtype=object)
    ids, weights = enc.transform(series)
    ref_ids, ref_weights = reference_transform(series, enc)
    np.testing.assert_array_equal(ids, ref_ids)
    np.testing.assert_array_equal(weights, ref_weights)
    assert digest(ids, weights) == expected


@pytest.mark.parametrize("subset", ["all", "ascii"])  # all-ASCII input takes shortcuts (a char is a byte)
def test_encoding_equals_sklearn_reference_on_the_spam_collection(spam_file, subset):
    texts = pd.read_csv(spam_file, sep="\t", header=None, names=["label", "text"], quoting=3)["text"]
    if subset == "ascii":
        texts = texts[texts.map(str.isascii)]
        assert len(texts) > 4000
    enc = encoder()
    ids, weights = enc.transform(texts)
    ref_ids, ref_weights = reference_transform(texts, enc)
    assert ids.shape == ref_ids.shape
    np.testing.assert_array_equal(ids, ref_ids)
    np.testing.assert_array_equal(weights, ref_weights)
