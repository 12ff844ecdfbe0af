from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from traincraft.errors import SchemaError
from traincraft.features.boolean import BooleanEncoder


def test_spellings_of_true_and_false():
    values = pd.Series([True, "yes", " No ", "1", 0, "f", "T", 1.0])
    enc = BooleanEncoder("b").fit(values)
    np.testing.assert_array_equal(enc.transform(values)[:, 0], [1, 1, 0, 1, 0, 0, 1, 1])


def test_bool_dtype():
    enc = BooleanEncoder("b").fit(pd.Series([True, False, True]))
    out = enc.transform(pd.Series([False, True]))
    assert out.dtype == np.float32 and out.shape == (2, 1)
    np.testing.assert_array_equal(out[:, 0], [0, 1])


def test_missing_values_get_a_flag_and_the_most_common_value():
    enc = BooleanEncoder("b").fit(pd.Series([True, True, None, False], dtype=object))
    assert enc.has_missing and enc.fill == 1.0
    out = enc.transform(pd.Series([None, False], dtype=object))
    np.testing.assert_array_equal(out, [[1.0, 1.0], [0.0, 0.0]])


def test_other_values_are_an_error_naming_row_column_and_value():
    enc = BooleanEncoder("active").fit(pd.Series(["yes", "no"]))
    with pytest.raises(SchemaError, match=r"Column 'active' should hold true/false values .* row 'b' holds 'maybe'"):
        enc.transform(pd.Series(["yes", "maybe"], index=["a", "b"]))
    with pytest.raises(SchemaError, match=r"row 0 holds 2"):
        enc.transform(pd.Series([2, 1]))


def test_not_strict_treats_other_values_as_missing():
    enc = BooleanEncoder("b").fit(pd.Series([False, False, True]))
    out = enc.transform(pd.Series(["maybe", "yes"]), strict=False)
    np.testing.assert_array_equal(out[:, 0], [0.0, 1.0])


def test_json_round_trip_gives_identical_transforms():
    enc = BooleanEncoder("b").fit(pd.Series(["y", None, "n", "y"], dtype=object))
    back = BooleanEncoder.from_json(json.loads(json.dumps(enc.to_json())))
    data = pd.Series(["n", None, "yes"], dtype=object)
    np.testing.assert_array_equal(enc.transform(data), back.transform(data))
