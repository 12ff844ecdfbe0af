"""Normalisation equals the reference on every row; words hash by content; edit similarity."""

import pandas as pd
import pytest

from traincraft.data.audit._minhash import edit_similarity
from traincraft.data.audit._text import normalise, normalise_one, word_hashes

TRICKY = ["a  B\tc", "Straße\u00a0X", None, "ﬁne", "x\x1cy", "", "  ", "Hello, World! héllo_1 wörld", " lead  trail \x0b", "ΣΑΣ", "Ⅻ ①"]


def test_normalise_equals_the_reference_on_tricky_strings() -> None:
    got = normalise(pd.Series(TRICKY, dtype=object)).to_pylist()
    assert got == [normalise_one(v) if isinstance(v, str) else None for v in TRICKY]


def test_normalise_equals_the_reference_on_sms_spam(spam_file) -> None:
    df = pd.read_csv(spam_file, sep="\t", header=None, names=["label", "text"], quoting=3)
    assert normalise(df["text"]).to_pylist() == [normalise_one(v) for v in df["text"]]


def test_non_string_cells_are_text() -> None:
    assert normalise(pd.Series([1, 2.5, "A"], dtype=object)).to_pylist() == ["1", "2.5", "a"]


def test_equal_words_hash_equal_and_rows_are_kept() -> None:
    w = word_hashes(normalise(pd.Series(["cat dog", "dog, cat! x", "catdog cat", None, ""])))
    assert w.row.tolist() == [0, 0, 1, 1, 1, 2, 2]
    cat, dog = w.hash[0], w.hash[1]
    assert w.hash[2] == dog and w.hash[3] == cat and w.hash[6] == cat
    assert len({int(h) for h in w.hash}) == 4  # cat, dog, x, catdog
    assert w.count.tolist() == [2, 3, 2, 0, 0]


def test_long_words_hash_across_chunks() -> None:
    texts = pd.Series(["w" * 100 + " end", "x" * 5000, "w" * 100 + " end"])
    w = word_hashes(normalise(texts))
    assert w.hash[0] == w.hash[3] and w.hash[1] == w.hash[4]


@pytest.mark.parametrize(
    "a, b, expected",
    [
        ("a b c d e f", "a b c d e f", 1.0),
        ("a b c d e f", "a x c d e f", 5 / 6),
        ("a b c d e f", "a x c d y f", 4 / 6),
        ("a b c d e f", "a c d e f", 5 / 6),
        ("a b c", "x y z", 0.0),
        ("", "", 1.0),
    ],
)
def test_edit_similarity(a: str, b: str, expected: float) -> None:
    assert edit_similarity(a.split(), b.split()) == pytest.approx(expected)


def test_edit_similarity_stops_below_the_threshold() -> None:
    assert edit_similarity("a b c d e f".split(), "a x y z e f".split(), threshold=0.65) == 0.0
    assert edit_similarity("a b c d e f".split(), "a x c d y f".split(), threshold=0.65) == pytest.approx(4 / 6)
