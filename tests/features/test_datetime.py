from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from traincraft.errors import SchemaError
from traincraft.features.datetime import DatetimeEncoder


def test_dates_without_times_have_no_hour_features():
    enc = DatetimeEncoder("d").fit(pd.Series(pd.to_datetime(["2020-01-01", "2022-07-15"])))
    assert enc.feature_names == [
        "d__year", "d__month_sin", "d__month_cos", "d__weekday_sin", "d__weekday_cos",
        "d__dayofyear_sin", "d__dayofyear_cos",
    ]  # fmt: skip
    out = enc.transform(pd.Series(pd.to_datetime(["2021-01-04"])))  # a Monday in January
    assert out.shape == (1, 7) and out.dtype == np.float32
    year, month_sin, month_cos, weekday_sin, weekday_cos = out[0, :5]
    assert year == pytest.approx(0.0)  # 2021 is the training mean year
    assert (month_sin, month_cos) == pytest.approx((0.0, 1.0))  # January is angle 0
    assert (weekday_sin, weekday_cos) == pytest.approx((0.0, 1.0))  # Monday is angle 0


def test_december_is_next_to_january():
    enc = DatetimeEncoder("d").fit(pd.Series(["2020-01-15", "2020-06-15", "2020-12-15"]))
    out = enc.transform(pd.Series(["2020-01-15", "2020-06-15", "2020-12-15"]))
    months = out[:, 1:3]
    assert np.linalg.norm(months[0] - months[2]) < np.linalg.norm(months[0] - months[1])


def test_times_of_day_add_hour_features():
    enc = DatetimeEncoder("t").fit(pd.Series(["2024-01-01 06:00", "2024-01-01 18:00"]))
    assert enc.has_time and enc.dim == 9
    out = enc.transform(pd.Series(["2024-01-01 06:00"]))
    assert out[0, 5:7] == pytest.approx((1.0, 0.0), abs=1e-6)  # 06:00 is a quarter turn


def test_missing_dates_are_flagged():
    enc = DatetimeEncoder("d").fit(pd.Series(["2024-01-01", None, "2023-05-01"], dtype=object))
    assert enc.has_missing
    out = enc.transform(pd.Series([None, "2024-02-02"], dtype=object))
    assert out[0, -1] == 1.0 and not out[0, :-1].any()
    assert out[1, -1] == 0.0


def test_time_zones_are_converted_to_utc():
    enc = DatetimeEncoder("d").fit(pd.Series(["2024-01-01 10:00"]))
    aware = enc.transform(pd.Series(pd.to_datetime(["2024-01-01 12:00+02:00"])))
    naive = enc.transform(pd.Series(["2024-01-01 10:00"]))
    np.testing.assert_allclose(aware, naive, atol=1e-6)


def test_mixed_formats_are_parsed():
    enc = DatetimeEncoder("d").fit(pd.Series(["2024-01-05", "5 March 2021", "2023/12/31"]))
    assert enc.year_mean == pytest.approx((2024 + 2021 + 2023) / 3)


def test_an_unparsable_value_is_an_error_naming_row_column_and_value():
    enc = DatetimeEncoder("signup").fit(pd.Series(["2024-01-01", "2024-02-01"]))
    with pytest.raises(SchemaError, match=r"Column 'signup' should hold dates or timestamps, but row 1 holds 'soon'"):
        enc.transform(pd.Series(["2024-03-01", "soon"]))
    out = enc.transform(pd.Series(["2024-03-01", "soon"]), strict=False)
    assert not out[1].any()


def test_json_round_trip_gives_identical_transforms():
    enc = DatetimeEncoder("d").fit(pd.Series(["2020-03-01 08:30", None, "2024-11-30 23:00"], dtype=object))
    back = DatetimeEncoder.from_json(json.loads(json.dumps(enc.to_json())))
    data = pd.Series(["2021-06-06 12:00", None, "2019-01-01"], dtype=object)
    np.testing.assert_array_equal(enc.transform(data), back.transform(data))
