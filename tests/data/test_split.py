"""traincraft.data.split: the four methods, their guarantees, fallbacks, errors and splits.json."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest

from traincraft.data import Schema, Splits, infer_schema, make_splits
from traincraft.errors import DataError
from traincraft.recipe import ColumnOverride, DataConfig, SplitConfig


@pytest.fixture()
def table() -> pd.DataFrame:
    """1,000 rows, an imbalanced 3-class label, 40 groups of uneven size, dates with ties."""
    rng = np.random.default_rng(1)
    n = 1000
    return pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "y": rng.choice(["a", "b", "c"], p=[0.6, 0.3, 0.1], size=n),
            "site": rng.integers(0, 40, size=n) ** 2 % 97,
            "when": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 120, size=n), unit="D"),
        }
    )


@pytest.fixture()
def schema(table) -> Schema:
    return infer_schema(table, label="y", data=DataConfig(group="site", time="when"))


def _parts(splits: Splits) -> list[np.ndarray]:
    return [splits.train, splits.validation, splits.test]


@pytest.mark.parametrize("method", ["stratified", "random", "group", "time"])
def test_disjoint_and_covering(table, schema, method):
    splits = make_splits(table, schema, SplitConfig(method=method), seed=3)
    ids = np.concatenate(_parts(splits))
    assert len(ids) == len(table) and set(ids) == set(table.index)
    assert splits.method == method and splits.seed == 3
    assert abs(splits.sizes["train"] - 700) <= 40 and min(splits.sizes.values()) > 100


def test_stratified_keeps_class_shares(table, schema):
    splits = make_splits(table, schema, SplitConfig(), seed=0)
    counts = table["y"].value_counts()
    for part, fraction in zip(_parts(splits), (0.7, 0.15, 0.15)):
        got = table.loc[part, "y"].value_counts()
        for cls, total in counts.items():
            assert abs(got[cls] - total * fraction) <= 1, (cls, got[cls], total * fraction)


def test_random_sizes_are_exact(table, schema):
    splits = make_splits(table, schema, SplitConfig(method="random", train=0.8, validation=0.1, test=0.1), seed=0)
    assert splits.sizes == {"train": 800, "validation": 100, "test": 100}


def test_group_never_in_two_splits(table, schema):
    splits = make_splits(table, schema, SplitConfig(method="group"), seed=5)
    groups = [set(table.loc[part, "site"]) for part in _parts(splits)]
    assert not (groups[0] & groups[1]) and not (groups[0] & groups[2]) and not (groups[1] & groups[2])
    assert all(groups)


def test_group_split_with_as_many_groups_as_splits():
    df = pd.DataFrame({"g": [1] * 8 + [2] * 8 + [3] * 8, "x": np.arange(24.0), "y": np.arange(24) % 2})
    schema = infer_schema(df, label="y", data=DataConfig(group="g"))
    splits = make_splits(df, schema, SplitConfig(method="group"), seed=0)
    assert sorted(len(set(df.loc[p, "g"])) for p in _parts(splits)) == [1, 1, 1]


def test_rows_without_group_are_their_own_group(caplog):
    df = pd.DataFrame({"g": [np.nan] * 6 + [1.0] * 4 + [2.0] * 4, "x": np.arange(14.0), "y": np.arange(14) % 2})
    schema = infer_schema(df, label="y", data=DataConfig(group="g"))
    with caplog.at_level(logging.WARNING, logger="traincraft.data.split"):
        splits = make_splits(df, schema, SplitConfig(method="group"), seed=0)
    assert "6 rows have no value in the group column 'g'" in caplog.text
    assert sum(splits.sizes.values()) == 14


def test_time_split_orders_train_validation_test(table, schema):
    splits = make_splits(table, schema, SplitConfig(method="time"), seed=0)
    when = [table.loc[p, "when"] for p in _parts(splits)]
    assert when[0].max() < when[1].min() and when[1].max() < when[2].min()


def test_time_split_on_date_strings_and_numbers():
    df = pd.DataFrame({"t": ["2024-03-%02d" % d for d in range(20, 0, -1)], "x": np.arange(20.0), "y": np.arange(20) % 2})
    schema = infer_schema(df, label="y", data=DataConfig(time="t"))
    splits = make_splits(df, schema, SplitConfig(method="time", train=0.5, validation=0.25, test=0.25), seed=0)
    assert splits.train.tolist() == list(range(10, 20))  # the latest dates are written first
    df["t"] = np.arange(20)[::-1]
    numeric = make_splits(df, infer_schema(df, label="y", data=DataConfig(time="t")), SplitConfig(method="time"), seed=0)
    assert numeric.test.tolist() == [0, 1, 2]


def test_same_seed_same_splits_other_seed_other_splits(table, schema):
    for method in ("stratified", "random", "group"):
        config = SplitConfig(method=method)
        first, again = make_splits(table, schema, config, seed=7), make_splits(table, schema, config, seed=7)
        other = make_splits(table, schema, config, seed=8)
        assert all(np.array_equal(a, b) for a, b in zip(_parts(first), _parts(again)))
        assert not np.array_equal(first.test, other.test)


def test_row_ids_are_index_labels(table, schema):
    shifted = table.set_axis(table.index + 5000)
    splits = make_splits(shifted, schema, SplitConfig(), seed=0)
    assert splits.train.min() >= 5000
    assert np.array_equal(splits.train, make_splits(table, schema, SplitConfig(), seed=0).train + 5000)


def test_zero_validation_fraction(table, schema):
    splits = make_splits(table, schema, SplitConfig(train=0.8, validation=0.0, test=0.2), seed=0)
    assert splits.sizes["validation"] == 0 and splits.sizes["train"] + splits.sizes["test"] == 1000


# --- fallbacks --------------------------------------------------------------------------------
def test_stratified_falls_back_for_regression(caplog):
    df = pd.DataFrame({"x": np.arange(40.0), "y": np.linspace(0, 1, 40)})
    schema = infer_schema(df, label="y")
    with caplog.at_level(logging.WARNING, logger="traincraft.data.split"):
        splits = make_splits(df, schema, SplitConfig(), seed=0)
    assert splits.method == "random"
    assert "needs class labels, but the task is regression; splitting at random" in caplog.text


def test_stratified_falls_back_for_a_tiny_class(caplog):
    df = pd.DataFrame({"x": np.arange(40.0), "y": ["a"] * 38 + ["b"] * 2})
    schema = infer_schema(df, label="y")
    with caplog.at_level(logging.WARNING, logger="traincraft.data.split"):
        splits = make_splits(df, schema, SplitConfig(), seed=0)
    assert splits.method == "random"
    assert "Class 'b' has 2 row(s), too few to put one in each of the 3 splits" in caplog.text


def test_stratified_gives_every_split_a_small_class():
    df = pd.DataFrame({"x": np.arange(43.0), "y": ["a"] * 40 + ["b"] * 3})
    splits = make_splits(df, infer_schema(df, label="y"), SplitConfig(), seed=0)
    assert splits.method == "stratified"
    assert [int((df.loc[p, "y"] == "b").sum()) for p in _parts(splits)] == [1, 1, 1]


# --- errors -----------------------------------------------------------------------------------
def test_too_few_rows_for_a_split():
    df = pd.DataFrame({"x": [1.0, 2.0], "y": [0.5, 1.5]})
    schema = infer_schema(df, label="y", task="regression")
    with pytest.raises(DataError, match=r"The test split would be empty: 2 rows x 0\.15 is 0\.30 rows .*split\.test: 0"):
        make_splits(df, schema, SplitConfig(method="random"), seed=0)


def test_group_split_needs_a_group_column(table):
    schema = infer_schema(table, label="y")
    with pytest.raises(DataError, match=r"split\.method group needs a column with role 'group': set data\.group"):
        make_splits(table, schema, SplitConfig(method="group"), seed=0)


def test_time_split_needs_a_time_column(table):
    schema = infer_schema(table, label="y")
    with pytest.raises(DataError, match=r"split\.method time needs a column with role 'time': set data\.time"):
        make_splits(table, schema, SplitConfig(method="time"), seed=0)


def test_group_split_with_too_few_groups():
    df = pd.DataFrame({"g": [1, 1, 2, 2], "x": [1.0, 2.0, 3.0, 4.0], "y": [0, 1, 0, 1]})
    schema = infer_schema(df, label="y", data=DataConfig(group="g"))
    with pytest.raises(DataError, match=r"The group column 'g' has 2 group\(s\), but a group split into 3 splits"):
        make_splits(df, schema, SplitConfig(method="group"), seed=0)


def test_time_split_with_too_few_distinct_times():
    df = pd.DataFrame({"t": [1] * 9 + [2], "x": np.arange(10.0), "y": np.arange(10) % 2})
    schema = infer_schema(df, label="y", data=DataConfig(time="t"))
    with pytest.raises(DataError, match=r"A time split leaves the validation split empty: .* too few distinct values \(2\)"):
        make_splits(df, schema, SplitConfig(method="time"), seed=0)


def test_time_split_with_missing_and_bad_times():
    df = pd.DataFrame({"t": ["2024-01-01", None, "2024-01-03"] * 4, "x": np.arange(12.0), "y": np.arange(12) % 2})
    schema = infer_schema(df, label="y", data=DataConfig(time="t"))
    with pytest.raises(DataError, match=r"The time column 't' is empty in 4 rows \(row ids 1, 4, 7, 10\)"):
        make_splits(df, schema, SplitConfig(method="time"), seed=0)
    df["t"] = ["2024-01-01", "soon", "2024-01-03"] * 4
    with pytest.raises(DataError, match=r"has 4 values that are not dates, e\.g\. 'soon' \(row id 1\)"):
        make_splits(df, schema, SplitConfig(method="time"), seed=0)


def test_index_must_be_unique_integers(table, schema):
    with pytest.raises(DataError, match=r"must hold unique integers.*reset_index\(drop=True\)"):
        make_splits(table.set_axis([f"r{i}" for i in range(len(table))]), schema, SplitConfig(), seed=0)
    with pytest.raises(DataError, match="no rows to split"):
        make_splits(table.iloc[:0], schema, SplitConfig(), seed=0)


# --- splits.json ------------------------------------------------------------------------------
def test_json_round_trip_and_file(table, schema, tmp_path):
    splits = make_splits(table, schema, SplitConfig(method="group"), seed=11)
    again = Splits.from_json(json.loads(json.dumps(splits.to_json())))
    assert again.method == "group" and again.seed == 11
    assert all(np.array_equal(a, b) for a, b in zip(_parts(splits), _parts(again)))
    path = splits.save(tmp_path / "data" / "splits.json")
    loaded = Splits.load(path)
    assert loaded.sizes == splits.sizes and np.array_equal(loaded.test, splits.test)
    assert loaded.train.dtype == np.int64
    assert [p.name for p in path.parent.iterdir()] == ["splits.json"]


def test_load_errors(tmp_path):
    with pytest.raises(DataError, match=r"Split file .*nope\.json not found"):
        Splits.load(tmp_path / "nope.json")
    (tmp_path / "cut.json").write_text('{"method": "random", "train": [1, 2')
    with pytest.raises(DataError, match=r"cut\.json is not valid JSON .* it may be truncated"):
        Splits.load(tmp_path / "cut.json")
    (tmp_path / "part.json").write_text('{"method": "random", "seed": 0, "train": [1]}')
    with pytest.raises(DataError, match=r"part\.json: Split data must have the keys .* missing: validation, test"):
        Splits.load(tmp_path / "part.json")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"train": [1, 2], "validation": [2], "test": []}, "Row 2 is in both the train and the validation split"),
        ({"train": [1, 1], "validation": [], "test": []}, "The train split lists row id 1 more than once"),
        ({"train": [0.5], "validation": [], "test": []}, "The train split must be a 1-D list of integer row ids"),
        ({"train": [1], "validation": [], "test": [], "method": "kfold"}, "Unknown split method 'kfold'"),
    ],
)
def test_invalid_splits(kwargs, message):
    kwargs = {"method": "random", **kwargs}
    with pytest.raises(DataError, match=message):
        Splits(seed=0, **kwargs)


def test_split_table_without_the_schema_columns(table, schema):
    with pytest.raises(DataError, match=r"The schema's label column 'y' is not in the table being split"):
        make_splits(table.drop(columns=["y"]), schema, SplitConfig(), seed=0)
    with pytest.raises(DataError, match=r"The schema's group column 'site' is not in the table being split"):
        make_splits(table.drop(columns=["site"]), schema, SplitConfig(method="group"), seed=0)


def test_two_group_columns(table):
    data = DataConfig(group="site", columns={"x": ColumnOverride(role="group")})
    schema = infer_schema(table, label="y", data=data)
    with pytest.raises(DataError, match=r"split\.method group needs one 'group' column, but the schema has 2: x, site"):
        make_splits(table, schema, SplitConfig(method="group"), seed=0)


def test_restricted_to_keeps_each_row_in_its_split():
    splits = Splits([0, 2, 4, 6], [1, 3], [5, 7], method="random", seed=3)
    kept = splits.restricted_to([0, 1, 4, 5, 6, 7])
    assert kept.train.tolist() == [0, 4, 6] and kept.validation.tolist() == [1] and kept.test.tolist() == [5, 7]
    assert kept.method == "random" and kept.seed == 3


# --- cross-validation folds (traincraft search with search.folds) ---------------------------------
def _fold_frame(n: int = 300) -> tuple[pd.DataFrame, "Schema"]:
    from traincraft.data import infer_schema

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.normal(size=n), "patient": rng.integers(0, 40, n), "y": np.where(np.arange(n) % 4 == 0, "rare", "common")})
    schema = infer_schema(df, label="y", data=DataConfig(label="y", group="patient"))
    return df, schema


def test_folds_partition_the_training_and_validation_rows_and_keep_the_test_rows() -> None:
    from traincraft.data import cross_validation_fold

    df, schema = _fold_frame()
    splits = make_splits(df, schema, SplitConfig(method="stratified", train=0.7, validation=0.15, test=0.15), seed=0)
    pool = set(splits.train) | set(splits.validation)
    held = [cross_validation_fold(df, schema, splits, folds=5, fold=j, seed=0) for j in range(5)]
    for f in held:
        assert set(f.train) | set(f.validation) == pool and not set(f.train) & set(f.validation)
        assert list(f.test) == list(splits.test)
        rare = (df.loc[f.validation, "y"] == "rare").mean()
        assert abs(rare - 0.25) < 0.03  # stratified: each fold keeps the class shares
    assert sorted(np.concatenate([f.validation for f in held])) == sorted(pool)  # every row held out exactly once
    assert [list(f.validation) for f in held] == [list(cross_validation_fold(df, schema, splits, folds=5, fold=j, seed=0).validation) for j in range(5)]


def test_group_folds_keep_each_group_in_one_fold_and_time_splits_are_refused() -> None:
    from traincraft.data import cross_validation_fold

    df, schema = _fold_frame()
    splits = make_splits(df, schema, SplitConfig(method="group", train=0.7, validation=0.15, test=0.15), seed=0)
    folds = [cross_validation_fold(df, schema, splits, folds=4, fold=j, seed=0) for j in range(4)]
    for f in folds:
        assert not set(df.loc[f.train, "patient"]) & set(df.loc[f.validation, "patient"])
    timed = Splits(splits.train, splits.validation, splits.test, method="time", seed=0)
    with pytest.raises(DataError, match="split.method time has none"):
        cross_validation_fold(df, schema, timed, folds=3, fold=0, seed=0)
    with pytest.raises(DataError, match="need folds >= 2"):
        cross_validation_fold(df, schema, splits, folds=3, fold=3, seed=0)
