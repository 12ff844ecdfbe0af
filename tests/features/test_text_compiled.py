"""The compiled n-gram counter (``features/_ngrams.c``) against the numpy path it replaces.

The numpy path is the reference (``test_text.py`` pins it against scikit-learn); the C extension
must give the same count matrices, and so the same encoder output, bit for bit. The comparisons
are skipped, with the reason, where the extension was not built (no C compiler at install).
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

import traincraft.features.text as text_module
from traincraft.features.text import TextEncoder
from traincraft.recipe import TextConfig

from .test_text import TRICKY_TEXTS

ngrams = text_module._compiled_counter()
needs_build = pytest.mark.skipif(
    ngrams is None,
    reason="traincraft.features._ngrams is not built (no C compiler at install?): only the numpy path runs; "
    "rebuild with pip install -e .",
)

CONFIGS = [
    {},
    {"word_ngrams": (1, 3), "char_ngrams": (1, 4), "buckets": 4096},
    {"word_ngrams": (2, 2), "char_ngrams": None, "lowercase": False},
    {"word_ngrams": (1, 1), "char_ngrams": (3, 9), "lowercase": False, "buckets": 1031},  # not a power of two: a division
    {"word_ngrams": (1, 2), "char_ngrams": None, "buckets": 2**31},  # the most the C counter takes (int32 bucket numbers)
]

EVERY_CHAR = "".join(chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF)  # no lone surrogates


def tricky_texts() -> list[str]:
    texts = [("" if t is None else str(t)) for t in TRICKY_TEXTS]
    texts += [
        "",
        " ",
        "\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u200a\u2028\u2029\u202f\u205f\u3000",  # every kind of space
        "😀",
        " 😀 ",
        "👩‍👩‍👧‍👦 family\u200dzwj é (e + combining acute) ﬁ ligature",
        "x",
        "ab",
        "word " * 5000,  # long text, one word repeated
        "".join(chr(0x4E00 + i % 500) for i in range(20_000)),  # one 20,000-char "word" of 3-byte chars
        " ".join(f"tok{i}" for i in range(3000)),
    ]
    # every code point, in words of 1 to 9 chars, some separated by spaces and some by word breaks
    texts += [EVERY_CHAR[i : i + 997] for i in range(0, len(EVERY_CHAR), 997)]
    return texts


def counts_both_ways(enc: TextEncoder, texts: list[str]):
    texts = [t.lower() for t in texts] if enc.lowercase else texts
    return enc._compiled_counts(texts, ngrams), enc._numpy_counts(texts)


def assert_same_matrix(got, expected) -> None:
    assert got.shape == expected.shape
    expected.sum_duplicates()
    np.testing.assert_array_equal(got.indptr, expected.indptr)
    np.testing.assert_array_equal(got.indices, expected.indices)
    assert got.data.dtype == expected.data.dtype == np.float32
    np.testing.assert_array_equal(got.data, expected.data)


@needs_build
@pytest.mark.parametrize("config", CONFIGS, ids=str)
def test_compiled_counts_equal_the_numpy_path_on_tricky_texts(config):
    enc = TextEncoder("t", TextConfig(**config)).fit(pd.Series(["x"]))
    compiled, reference = counts_both_ways(enc, tricky_texts())
    assert len(compiled) == len(reference) == (1 if enc.char_ngrams is None else 2)
    for got, expected in zip(compiled, reference):
        assert_same_matrix(got, expected)


@needs_build
@pytest.mark.parametrize("config", CONFIGS[:2], ids=str)
def test_encoder_output_is_bit_identical_on_the_spam_collection(spam_file, config, monkeypatch):
    texts = pd.read_csv(spam_file, sep="\t", header=None, names=["label", "text"], quoting=3)["text"]
    assert len(texts) == 4862
    enc = TextEncoder("sms", TextConfig(**config)).fit(texts)
    compiled = enc.transform(texts)
    monkeypatch.setattr(text_module, "_ngrams", None)  # as on a machine where the extension was not built
    assert text_module._compiled_counter() is None
    numpy_path = enc.transform(texts)
    for got, expected in zip(compiled, numpy_path):
        assert got.dtype == expected.dtype and got.shape == expected.shape
        np.testing.assert_array_equal(got, expected)


def test_encoder_works_without_the_extension(monkeypatch, caplog):
    # the fallback every install has: no extension, the numpy path, and a log line that says so
    monkeypatch.setattr(text_module, "_ngrams", None)
    monkeypatch.setattr(text_module, "_fallback_logged", False)
    enc = TextEncoder("t", TextConfig(word_ngrams=(1, 1), char_ngrams=None)).fit(pd.Series(["x"]))
    with caplog.at_level("INFO", logger="traincraft.features.text"):
        ids, _ = enc.transform(pd.Series(["Free entry now"]))
    assert sorted(ids[0].tolist()) == [68116, 156783, 253894]
    assert "not built; text encoding uses the slower numpy path" in caplog.text


def test_a_stale_build_is_not_used(monkeypatch, caplog):
    class Stale:
        VERSION = -1

    monkeypatch.setattr(text_module, "_ngrams", Stale)
    monkeypatch.setattr(text_module, "_fallback_logged", False)
    with caplog.at_level("WARNING", logger="traincraft.features.text"):
        assert text_module._compiled_counter() is None
    assert "version -1, not 1 (a stale build)" in caplog.text and "pip install -e ." in caplog.text


@needs_build
def test_compiled_counter_refuses_what_it_cannot_count():
    with pytest.raises(TypeError, match=r"texts\[1\] is int, not str"):
        ngrams.count(["a", 1], 1, 1, 0, 0, 1024)
    with pytest.raises(ValueError, match="n-gram ranges must be 1 <= low <= high"):
        ngrams.count(["a"], 2, 1, 0, 0, 1024)
    with pytest.raises(ValueError, match=r"buckets must be between 1 and 2147483648, got 2147483649"):
        ngrams.count(["a"], 1, 1, 0, 0, 2**31 + 1)
    with pytest.raises(UnicodeEncodeError):  # a lone surrogate has no UTF-8, as in the numpy path
        ngrams.count(["a\ud800"], 1, 1, 0, 0, 1024)
