from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from traincraft.constants import CATEGORICAL_MIN_COUNT
from traincraft.features.categorical import MISSING, UNKNOWN, CategoricalEncoder


def test_indices_unknown_missing_and_vocabulary():
    train = pd.Series(["red", "blue", "red", "blue", "green", None, "red"])
    enc = CategoricalEncoder("colour").fit(train)
    assert CATEGORICAL_MIN_COUNT == 2
    assert enc.vocabulary == ["blue", "red"]  # sorted; green was seen once, so it is rare
    assert enc.cardinality == 4
    out = enc.transform(pd.Series(["red", "blue", "green", None, "purple", "  "]))
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, [3, 2, UNKNOWN, MISSING, UNKNOWN, MISSING])


def test_a_value_only_in_the_test_frame_is_unknown():
    enc = CategoricalEncoder("c").fit(pd.Series(["a", "a", "b", "b"]))
    before = list(enc.vocabulary)
    test = pd.Series(["c"] * 10)  # frequent in test, never in training
    np.testing.assert_array_equal(enc.transform(test), np.zeros(10, dtype=np.int64))
    assert enc.vocabulary == before


def test_spellings_of_one_number_are_one_category():
    enc = CategoricalEncoder("zip").fit(pd.Series([3, 3, 7, 7]))
    out = enc.transform(pd.Series([3.0, "3", np.int64(7), np.nan]))
    np.testing.assert_array_equal(out, [2, 2, 3, MISSING])


def test_min_count_is_configurable():
    enc = CategoricalEncoder("c", min_count=1).fit(pd.Series(["a", "b"]))
    np.testing.assert_array_equal(enc.transform(pd.Series(["b", "a"])), [3, 2])


def test_json_round_trip_gives_identical_transforms():
    enc = CategoricalEncoder("c").fit(pd.Series(["x", "y", "x", "y", 1, 1, None], dtype=object))
    back = CategoricalEncoder.from_json(json.loads(json.dumps(enc.to_json())))
    data = pd.Series(["y", 1, "z", None, "x"], dtype=object)
    np.testing.assert_array_equal(enc.transform(data), back.transform(data))
    assert back.cardinality == enc.cardinality == 5


@pytest.mark.parametrize("dtype", ["str", "category", object])
def test_pandas_dtypes(dtype):
    train = pd.Series(["a", "a", "b", "b"]).astype(dtype)
    enc = CategoricalEncoder("c").fit(train)
    np.testing.assert_array_equal(enc.transform(pd.Series(["b", "a", "q"]).astype(dtype)), [3, 2, 0])
