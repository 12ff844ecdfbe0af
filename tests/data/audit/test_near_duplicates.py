"""Near duplicates: recall and precision on planted near copies; images; rounded tables."""

import numpy as np
import pandas as pd
import pytest

from traincraft.data.audit import audit
from traincraft.data.audit._minhash import near_duplicate_pairs
from traincraft.data.audit._text import normalise

from ._audit_planted import planted_near_copies


def test_planted_near_copies_are_found_with_high_recall_and_precision() -> None:
    texts, truth = planted_near_copies(20_000, seed=1)
    res = near_duplicate_pairs(normalise(pd.Series(texts)))
    found = set(zip(res.a.tolist(), res.b.tolist()))
    recall = len(found & truth) / len(truth)
    precision = len(found & truth) / max(len(found), 1)
    assert recall >= 0.9, recall
    assert precision >= 0.95, precision


def test_unrelated_texts_of_common_words_in_another_order_are_not_near_duplicates() -> None:
    texts = ["the cat sat on the mat today", "today the mat sat on the cat", "a completely different sentence here now"]
    assert len(near_duplicate_pairs(normalise(pd.Series(texts)))) == 0


def test_finding_counts_rows_beyond_the_first_of_each_cluster() -> None:
    df = pd.DataFrame({"text": [
        "please call me back when you get this message",
        "please call me back when you see this message",
        "please call me back when you get this message",  # exact copy of row 0: not a near duplicate
        "totally unrelated words about the weather tomorrow morning",
    ], "y": ["a", "a", "a", "b"]})
    f = audit(df, label="y", checks=["near_duplicates"]).first("near_duplicates")
    assert f is not None and f.count == 1 and f.row_ids == [1]
    assert f.fix == {"step": "dedupe", "mode": "near", "keep": "majority"}
    assert sorted(f.details["largest_clusters"][0]) == [0, 1, 2]


def test_short_texts_take_no_part() -> None:
    df = pd.DataFrame({"text": ["ok lor", "ok", "ok la", "sure thing"] * 1 + ["a much longer sentence that has words"] * 1})
    f = audit(df, checks=["near_duplicates"]).first("near_duplicates")
    assert f is None


def test_tabular_rows_equal_after_rounding() -> None:
    df = pd.DataFrame({"x": [1.001, 1.0, 5.0, 7.0], "c": ["a", "A ", "b", "b"], "y": [0, 1, 0, 1]})
    f = audit(df, label="y", checks=["near_duplicates"]).first("near_duplicates")
    assert f is not None and f.details["modality"] == "tabular" and f.row_ids == [1]


def test_near_identical_images_share_an_average_hash(tmp_path) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    base = (rng.random((32, 32)) * 255).astype(np.uint8)
    paths = []
    for i, img in enumerate([base, np.clip(base.astype(int) + 3, 0, 255).astype(np.uint8), 255 - base]):
        p = tmp_path / f"img{i}.png"
        Image.fromarray(img).save(p)
        paths.append(str(p))
    df = pd.DataFrame({"image": paths, "y": ["a", "b", "a"]})
    f = audit(df, label="y", checks=["near_duplicates", "conflicting_labels"])
    near = f.first("near_duplicates")
    assert near is not None and near.details["modality"] == "image" and near.row_ids == [1]
    assert f.first("conflicting_labels").row_ids == [0, 1]


@pytest.mark.slow
def test_planted_benchmark_size_100k() -> None:
    texts, truth = planted_near_copies(100_000, seed=2)
    res = near_duplicate_pairs(normalise(pd.Series(texts)))
    found = set(zip(res.a.tolist(), res.b.tolist()))
    assert len(found & truth) / len(truth) >= 0.9
    assert len(found & truth) / len(found) >= 0.95
