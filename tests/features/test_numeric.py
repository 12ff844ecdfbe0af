from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest

from traincraft.errors import DataError, SchemaError
from traincraft.features.numeric import NumericEncoder


def roundtrip(enc):
    return type(enc).from_json(json.loads(json.dumps(enc.to_json())))


def test_standardises_with_training_statistics():
    train = pd.Series([1.0, 2.0, 3.0, 4.0])
    enc = NumericEncoder("x").fit(train)
    out = enc.transform(train)
    assert out.dtype == np.float32 and out.shape == (4, 1)
    assert out[:, 0].mean() == pytest.approx(0.0, abs=1e-6)
    assert out[:, 0].std() == pytest.approx(1.0, abs=1e-6)


def test_statistics_come_from_the_training_split_only():
    enc = NumericEncoder("x").fit(pd.Series([0.0, 2.0]))
    out = enc.transform(pd.Series([1000.0, 1.0]))
    assert (enc.mean, enc.std) == (1.0, 1.0)  # the test value 1000 did not move them
    np.testing.assert_allclose(out[:, 0], [999.0, 0.0])


def test_missing_values_are_median_imputed_and_flagged():
    train = pd.Series([1.0, None, 2.0, 10.0, ""], dtype=object)  # a blank string is missing too
    enc = NumericEncoder("x").fit(train)
    assert enc.has_missing and enc.median == 2.0 and enc.dim == 2
    out = enc.transform(pd.Series([np.nan, 2.0]))
    np.testing.assert_allclose(out[:, 1], [1.0, 0.0])
    assert out[0, 0] == out[1, 0]  # imputed with the median
    assert enc.feature_names == ["x", "x__missing"]


def test_no_flag_column_when_training_had_no_missing_values():
    enc = NumericEncoder("x").fit(pd.Series([1, 2, 3]))
    out = enc.transform(pd.Series([None, 2.0]))
    assert out.shape == (2, 1)
    assert out[0, 0] == pytest.approx(0.0)  # median 2 == mean 2


def test_numbers_in_strings_are_read():
    enc = NumericEncoder("x").fit(pd.Series(["1", " 2.5 ", "3e0"]))
    assert enc.mean == pytest.approx(6.5 / 3)


def test_a_non_number_is_an_error_naming_row_column_and_value():
    enc = NumericEncoder("price").fit(pd.Series([1.0, 2.0]))
    bad = pd.Series([1.0, "abc", 3.0], index=[10, 11, 12], dtype=object)
    with pytest.raises(SchemaError, match=r"Column 'price' should hold numbers, but row 11 holds 'abc'.*strict=False"):
        enc.transform(bad)


def test_many_bad_values_are_counted_and_listed():
    enc = NumericEncoder("x").fit(pd.Series([1.0, 2.0]))
    bad = pd.Series(["a", "b", "c", "d", "e", "1"], index=list("pqrstu"))
    with pytest.raises(SchemaError, match=r"row 'p' holds 'a' \(5 such values; also row 'q': 'b', .* and 1 more\)"):
        enc.transform(bad)


def test_infinity_is_a_bad_value():
    enc = NumericEncoder("x").fit(pd.Series([1.0, 2.0]))
    with pytest.raises(SchemaError, match=r"row 1 holds inf"):
        enc.transform(pd.Series([1.0, np.inf]))


def test_a_bad_value_in_training_points_at_the_recipe():
    with pytest.raises(SchemaError, match=r"row 2 holds 'n/a'.*data\.columns\.x\.type"):
        NumericEncoder("x").fit(pd.Series(["1", "2", "n/a"]))


def test_not_strict_treats_bad_values_as_missing_and_warns(caplog):
    enc = NumericEncoder("x").fit(pd.Series([1.0, 3.0]))
    with caplog.at_level(logging.WARNING):
        out = enc.transform(pd.Series(["abc", 3.0], dtype=object), strict=False)
    assert out[0, 0] == pytest.approx(0.0)  # the median (2) standardised
    assert "Column 'x': 1 value(s) are not numbers (first at row 0: 'abc')" in caplog.text


def test_constant_column_does_not_divide_by_zero():
    enc = NumericEncoder("x").fit(pd.Series([5.0, 5.0]))
    assert enc.std == 1.0
    np.testing.assert_allclose(enc.transform(pd.Series([5.0, 6.0]))[:, 0], [0.0, 1.0])


def test_json_round_trip_gives_identical_transforms():
    enc = NumericEncoder("x").fit(pd.Series([1.5, None, -2.0, 7.25]))
    data = pd.Series([0.1, None, 3.0])
    np.testing.assert_array_equal(enc.transform(data), roundtrip(enc).transform(data))


def test_unfitted_encoder_is_an_error():
    with pytest.raises(DataError, match=r"NumericEncoder for column 'x' is not fitted"):
        NumericEncoder("x").transform(pd.Series([1.0]))


def test_from_json_refuses_another_kind():
    with pytest.raises(SchemaError, match=r'expects a dict with "type": "numeric", got \'boolean\''):
        NumericEncoder.from_json({"type": "boolean", "name": "x"})


def test_extreme_values_saturate_instead_of_overflowing_float32():
    enc = NumericEncoder("x").fit(pd.Series([0.0, 1.0, 2.0]))
    out = enc.transform(pd.Series([3.0e38, -1.7e308, 1.0]))
    assert np.isfinite(out).all()
    assert out[0, 0] == out.max() and out[1, 0] == out.min()
    assert out[2, 0] == pytest.approx(0.0, abs=1e-6)


def test_clipping_never_touches_training_values():
    rng = np.random.default_rng(0)
    train = pd.Series(np.r_[rng.normal(size=10_000), 1e9])  # one huge outlier among 10,001 rows
    enc = NumericEncoder("x").fit(train)
    values = train.to_numpy()
    np.testing.assert_allclose(enc.transform(train)[:, 0], ((values - values.mean()) / values.std()).astype(np.float32))
