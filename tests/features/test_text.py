from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from traincraft.errors import BundleError
from traincraft.features.text import TextEncoder
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


@pytest.mark.parametrize("lowercase", [True, False])
def test_char_ngrams_per_distinct_word_equal_sklearns_char_wb(lowercase):
    enc = encoder(char_ngrams=(2, 5), lowercase=lowercase)
    texts = ["Free  entry\tin 2 a wkly comp", "", "ÉTÉ été  x", "free FREE free", "a", "İstanbul\nnow"]
    fast = enc._char_counts(texts)
    reference = enc._chars.transform(texts)
    assert (fast != reference).nnz == 0
