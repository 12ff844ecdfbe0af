from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from traincraft.constants import NUMERIC_MAX_ABS_Z
from traincraft.errors import BundleError, DataError, SchemaError
from traincraft.features import TableEncoder, categorical_embedding_dim
from traincraft.recipe import ModelConfig

SMALL_TYPES = {"x": "numeric", "colour": "categorical", "flag": "boolean", "review": "text", "when": "datetime"}


@pytest.fixture()
def fitted(small_table, schema_of) -> TableEncoder:
    return TableEncoder.fit(small_table.iloc[:150], schema_of(SMALL_TYPES, label="label", task="binary"), ModelConfig())


def test_encoded_table_contract(fitted, small_table):
    x = fitted.transform(small_table)
    assert set(x) == {"dense", "categorical", "text:review", "text_w:review"}
    n = len(small_table)
    assert all(v.shape[0] == n and v.is_contiguous() for v in x.values())
    assert x["dense"].dtype == torch.float32 and x["dense"].shape == (n, 1 + 1 + 7)  # x, flag, 7 date features
    assert x["categorical"].dtype == torch.int64 and x["categorical"].shape == (n, 1)
    assert x["text:review"].dtype == torch.int64 and x["text_w:review"].dtype == torch.float32
    assert x["text:review"].shape == x["text_w:review"].shape
    assert fitted.columns == ["x", "colour", "flag", "review", "when"]
    assert fitted.dense_names[:2] == ["x", "flag"] and len(fitted.dense_names) == x["dense"].shape[1]


def test_a_batch_is_an_index_slice(fitted, small_table):
    x = fitted.transform(small_table)
    idx = torch.tensor([3, 17, 5])
    batch = {k: v[idx] for k, v in x.items()}
    direct = fitted.transform(small_table.iloc[[3, 17, 5]])
    torch.testing.assert_close(batch["dense"], direct["dense"])
    torch.testing.assert_close(batch["categorical"], direct["categorical"])


def test_model_spec(fitted):
    spec = fitted.model_spec()
    assert spec == {
        "dense_dim": 9,
        "categorical": [{"name": "colour", "cardinality": 5, "dim": categorical_embedding_dim(5)}],
        "text": [{"name": "review", "buckets": ModelConfig().text.buckets, "dim": ModelConfig().text.embedding_dim}],
        "image": [],
    }
    assert json.loads(json.dumps(spec)) == spec


def test_categorical_dim_rule_and_override(small_table, schema_of):
    assert categorical_embedding_dim(5) == round(1.6 * 5**0.56) == 4
    assert categorical_embedding_dim(10**6) == 32
    schema = schema_of({"colour": "categorical"})
    enc = TableEncoder.fit(small_table, schema, ModelConfig(categorical_dim=7))
    assert enc.model_spec()["categorical"][0]["dim"] == 7


def test_only_present_kinds_have_keys(small_table, schema_of):
    enc = TableEncoder.fit(small_table, schema_of({"colour": "categorical"}), None)
    x = enc.transform(small_table)
    assert set(x) == {"categorical"}
    assert enc.model_spec()["dense_dim"] == 0


def test_image_columns(tmp_path: Path, schema_of):
    paths = []
    for i in range(3):
        path = tmp_path / f"{i}.png"
        Image.new("RGB", (9, 9), (80 * i, 10, 200)).save(path)
        paths.append(str(path))
    df = pd.DataFrame({"pic": paths, "n": [1.0, 2.0, 3.0]})
    config = ModelConfig.model_validate({"image": {"size": 8, "conv_channels": [4]}})
    enc = TableEncoder.fit(df, schema_of({"pic": "image", "n": "numeric"}), config)
    x = enc.transform(df)
    assert x["image:pic"].shape == (3, 3, 8, 8) and x["image:pic"].dtype == torch.float32
    assert enc.model_spec()["image"] == [{"name": "pic", "channels": 3, "size": 8, "conv_channels": [4]}]


def test_fitted_on_training_rows_only(small_table, schema_of):
    train = small_table.iloc[:100]
    test = small_table.iloc[100:].copy()
    test["colour"] = "purple"  # a category only the test rows have
    test["x"] = 1e6
    enc = TableEncoder.fit(train, schema_of({"x": "numeric", "colour": "categorical"}), None)
    x = enc.transform(test)
    assert (x["categorical"] == 0).all()  # unknown
    mean = train["x"].mean()
    std = train["x"].std(ddof=0)
    z = min((1e6 - mean) / std, NUMERIC_MAX_ABS_Z)  # standardised with training statistics, clipped as NumericEncoder clips
    torch.testing.assert_close(x["dense"][:, 0], torch.full((len(test),), z, dtype=torch.float32))


def test_missing_columns_are_all_named(fitted, small_table):
    with pytest.raises(SchemaError, match=r"The data lacks 2 required columns: colour, when\. Columns present: x, flag, review, label"):
        fitted.transform(small_table.drop(columns=["colour", "when"]))


def test_missing_column_suggests_a_close_name(fitted, small_table):
    with pytest.raises(SchemaError, match=r"lacks 1 required column: colour\..*Did you mean 'color'\?"):
        fitted.transform(small_table.rename(columns={"colour": "color"}))


def test_extra_columns_are_ignored(fitted, small_table):
    with_extra = small_table.assign(unrelated=["?"] * len(small_table))
    a, b = fitted.transform(small_table), fitted.transform(with_extra)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_wrong_type_names_row_column_and_value(fitted, small_table):
    df = small_table.copy()
    df["x"] = df["x"].astype(object)
    df.loc[42, "x"] = "abc"
    with pytest.raises(SchemaError, match=r"Column 'x' should hold numbers, but row 42 holds 'abc'"):
        fitted.transform(df)
    x = fitted.transform(df, strict=False)
    assert x["dense"].shape[0] == len(df)


def test_duplicate_column_names_are_an_error(fitted, small_table):
    df = pd.concat([small_table, small_table[["x"]]], axis=1)
    with pytest.raises(SchemaError, match=r"more than one column named 'x'"):
        fitted.transform(df)


def test_json_round_trip_gives_identical_transforms(fitted, small_table):
    d = json.loads(json.dumps(fitted.to_json()))
    back = TableEncoder.from_json(d)
    a, b = fitted.transform(small_table), back.transform(small_table)
    assert set(a) == set(b) and all(torch.equal(a[k], b[k]) for k in a)
    assert back.model_spec() == fitted.model_spec()
    assert len(json.dumps(d)) < 5000


def test_from_json_refuses_other_versions_and_kinds(fitted):
    d = fitted.to_json()
    with pytest.raises(BundleError, match=r"format version 99; this traincraft reads version 1"):
        TableEncoder.from_json({**d, "format_version": 99})
    with pytest.raises(BundleError, match=r"Unknown column encoder type 'audio'"):
        TableEncoder.from_json({**d, "encoders": [{"type": "audio", "name": "a"}]})
    with pytest.raises(BundleError, match=r"not a traincraft table encoder"):
        TableEncoder.from_json({"encoders": []})


def test_fit_errors(small_table, schema_of):
    with pytest.raises(SchemaError, match=r"The schema has no feature columns"):
        TableEncoder.fit(small_table, schema_of({}, label="label"), None)
    with pytest.raises(DataError, match=r"The training split is empty"):
        TableEncoder.fit(small_table.iloc[:0], schema_of({"x": "numeric"}), None)
    with pytest.raises(SchemaError, match=r"Column 'x' has type 'audio'; feature columns must be one of numeric"):
        TableEncoder.fit(small_table, schema_of({"x": "audio"}), None)
    with pytest.raises(SchemaError, match=r"lacks 1 required column: nope"):
        TableEncoder.fit(small_table, schema_of({"nope": "numeric"}), None)


def test_schema_as_json_dict_and_only_feature_roles(small_table):
    schema = {
        "label": "label",
        "task": "binary",
        "columns": [
            {"name": "x", "type": "numeric", "role": "feature"},
            {"name": "colour", "type": "categorical", "role": "sensitive"},
            {"name": "label", "type": "categorical", "role": "label"},
        ],
    }
    enc = TableEncoder.fit(small_table, schema, {"hidden": [8]})
    assert enc.columns == ["x"]


def test_with_the_data_layer_schema(small_table):
    schema_module = pytest.importorskip("traincraft.data.schema")
    schema = schema_module.Schema(
        [
            schema_module.ColumnSchema("x", "numeric", "feature"),
            schema_module.ColumnSchema("review", "text", "feature"),
            schema_module.ColumnSchema("label", "categorical", "label"),
        ],
        "label",
        "binary",
    )
    enc = TableEncoder.fit(small_table, schema, ModelConfig())
    assert set(enc.transform(small_table)) == {"dense", "text:review", "text_w:review"}


def test_no_rows_keeps_the_widths(fitted, small_table):
    x = fitted.transform(small_table.iloc[:0])
    assert x["dense"].shape == (0, 9) and x["categorical"].shape == (0, 1)
    assert x["text:review"].shape[0] == 0


@pytest.mark.parametrize("batch_size", [1, 7, 64, 1000])
def test_transform_batches_cover_every_row_once_with_its_transform(fitted, small_table, batch_size):
    full = fitted.transform(small_table)
    seen = []
    for rows, batch in fitted.transform_batches(small_table, batch_size=batch_size):
        assert len(rows) <= batch_size and all(len(v) == len(rows) for v in batch.values())
        assert set(batch) == set(full)
        index = torch.from_numpy(rows)
        for key, value in batch.items():
            if key.startswith("text"):  # padded to this batch's longest text only
                width = value.shape[1]
                assert width <= full[key].shape[1]
                assert not full[key][index, width:].any()
                torch.testing.assert_close(value, full[key][index, :width], rtol=0, atol=0)
            else:
                torch.testing.assert_close(value, full[key][index], rtol=0, atol=0)
        seen.append(rows)
    assert sorted(np.concatenate(seen).tolist()) == list(range(len(small_table)))


def test_transform_batches_order_text_rows_by_length(fitted, small_table):
    table = small_table.copy()
    table["review"] = [text + "".join(f" w{i}x{k}" for k in range(4 * (i % 9))) for i, text in enumerate(table["review"])]  # 4 to 36 words
    lengths = table["review"].str.len().to_numpy()
    batches = list(fitted.transform_batches(table, batch_size=16))
    order = np.concatenate([rows for rows, _ in batches])
    assert (np.diff(lengths[order]) >= 0).all()
    widths = [batch["text:review"].shape[1] for _, batch in batches]
    assert widths[0] * 3 < widths[-1]  # short texts are not padded to the longest
