"""traincraft.data.schema: type, role and task inference, the recipe's overrides, and every error."""

from __future__ import annotations

import uuid

import numpy as np
import pandas as pd
import pytest

from traincraft.constants import SCHEMA_SAMPLE_ROWS
from traincraft.data import ColumnSchema, Schema, infer_schema, labelled_rows, read_table, write_table
from traincraft.data import schema as schema_module
from traincraft.errors import SchemaError
from traincraft.recipe import ColumnOverride, DataConfig

EXPECTED_SMALL = {
    "x": ("numeric", "feature"),
    "colour": ("categorical", "feature"),
    "flag": ("boolean", "feature"),
    "review": ("text", "feature"),
    "when": ("datetime", "feature"),
    "label": ("boolean", "label"),  # yes/no
}


def _types(schema: Schema) -> dict[str, tuple[str, str]]:
    return {c.name: (c.type, c.role) for c in schema.columns}


def _with_ids(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    df["uid"] = [str(uuid.UUID(int=i * 7919 + 1)) for i in range(len(df))]
    df["row"] = np.arange(len(df))
    df["customer_id"] = np.arange(1000, 1000 + len(df))[::-1]
    return df


# --- inference --------------------------------------------------------------------------------
def test_small_table_types_roles_and_task(small_table):
    schema = infer_schema(_with_ids(small_table), label="label")
    assert _types(schema) == {
        **EXPECTED_SMALL,
        "uid": ("categorical", "id"),
        "row": ("numeric", "id"),
        "customer_id": ("numeric", "id"),
    }
    assert schema.task == "binary"
    assert schema.features == ["x", "colour", "flag", "review", "when"]


def test_small_table_read_back_from_csv(small_table, tmp_path):
    path = write_table(_with_ids(small_table), tmp_path / "small.csv")
    frame = read_table(path)
    assert frame["when"].dtype != "datetime64[ns]"  # dates come back as strings and are still found
    schema = infer_schema(frame, label="label", source_name=path.name)
    assert {k: v for k, v in _types(schema).items() if k in EXPECTED_SMALL} == EXPECTED_SMALL
    assert schema.column("uid").role == "id" and schema.column("row").role == "id"


def test_digits_are_numeric_multiclass(digits_frame):
    schema = infer_schema(digits_frame, label="digit")
    assert schema.task == "multiclass"
    assert len(schema.features) == 64
    # pixel_24 is 0/1 in every row but is an intensity: it must stay numeric
    assert {schema.column(n).type for n in schema.features} == {"numeric"}


def test_spam_schema(spam_file):
    schema = infer_schema(read_table(spam_file, names=["label", "text"]), label="label")
    assert _types(schema) == {"label": ("categorical", "label"), "text": ("text", "feature")}
    assert schema.task == "binary"


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["yes", "no"] * 15, "boolean"),
        (["T", "f"] * 15, "boolean"),
        (["1", "0"] * 15, "boolean"),
        (["yes", "maybe"] * 15, "categorical"),
        (["2024-01-%02d" % (i % 28 + 1) for i in range(30)], "datetime"),
        (["03/%02d/2021 10:00" % (i % 28 + 1) for i in range(30)], "datetime"),
        ([str(20240101 + i) for i in range(30)], "numeric"),  # plain numbers are not dates
        (["img/%d.PNG" % i for i in range(30)], "image"),
        (["a fairly long sentence number %d here" % i for i in range(30)], "text"),
        (["x" * 45 + str(i % 3) for i in range(30)], "text"),  # long without spaces, repeated
        (["red", "green", "blue"] * 10, "categorical"),
    ],
)
def test_string_column_types(values, expected):
    df = pd.DataFrame({"col": values, "y": [0.5 * i for i in range(len(values))]})
    assert infer_schema(df, label="y").column("col").type == expected


def test_near_unique_codes_are_ids_but_sentences_are_not():
    n = 40
    df = pd.DataFrame(
        {
            "code": [f"AB{i:04d}" for i in range(n)],
            "note": [f"row {i} says hi" for i in range(n)],
            "y": np.arange(n) % 2,
        }
    )
    schema = infer_schema(df, label="y")
    assert _types(schema)["code"] == ("categorical", "id")
    assert _types(schema)["note"] == ("text", "feature")


def test_small_frames_are_not_called_ids():
    df = pd.DataFrame({"city": ["paris", "lyon", "nice", "metz"], "n": [0, 1, 2, 3], "y": [1, 0, 1, 0]})
    schema = infer_schema(df, label="y")
    assert schema.column("city").role == "feature" and schema.column("n").role == "feature"


def test_inference_looks_at_a_bounded_sample(monkeypatch):
    seen: list[int] = []
    real = schema_module._infer_type

    def spy(series, sample):
        seen.append(len(sample))
        return real(series, sample)

    monkeypatch.setattr(schema_module, "_infer_type", spy)
    n = SCHEMA_SAMPLE_ROWS * 3
    df = pd.DataFrame({"w": np.where(np.arange(n) % 2, "a", "b"), "y": np.arange(n) % 3})
    schema = infer_schema(df, label="y")
    assert seen == [SCHEMA_SAMPLE_ROWS, SCHEMA_SAMPLE_ROWS]
    assert schema.column("w").type == "categorical" and schema.task == "multiclass"


# --- tasks ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("label", "task"),
    [
        (np.linspace(0, 1, 30), "regression"),
        (np.arange(30), "regression"),  # 30 distinct integers > REGRESSION_MIN_UNIQUE
        (np.arange(30) % 5, "multiclass"),
        (np.arange(30) % 5 + 0.0, "multiclass"),  # whole floats (a CSV column with a gap) are classes
        (np.arange(30) % 2, "binary"),
        (np.array(["a", "b", "c"] * 10), "multiclass"),
    ],
)
def test_task_inference(label, task):
    df = pd.DataFrame({"f": np.arange(30.0) * 0.1, "y": label})
    assert infer_schema(df, label="y").task == task


def test_explicit_task_is_kept():
    df = pd.DataFrame({"f": [0.1, 0.2, 0.3, 0.4], "y": [0, 1, 2, 1]})
    assert infer_schema(df, label="y", task="regression").task == "regression"
    assert infer_schema(df, label="y", task="multiclass").task == "multiclass"


def test_no_label_means_no_task():
    schema = infer_schema(pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}), label=None)
    assert schema.task == "none" and schema.label is None and schema.features == ["a", "b"]


def test_label_from_data_config():
    df = pd.DataFrame({"a": [1.0, 2.0, 3.0], "y": ["p", "q", "p"]})
    assert infer_schema(df, label=None, data=DataConfig(label="y")).label == "y"


# --- recipe roles and overrides ---------------------------------------------------------------
def test_data_roles_and_overrides(small_table):
    df = small_table.assign(site=np.arange(len(small_table)) % 4, sex=np.where(np.arange(200) % 2, "f", "m"))
    data = DataConfig(
        group="site",
        time="when",
        sensitive=["sex"],
        columns={"x": ColumnOverride(type="categorical"), "review": ColumnOverride(role="ignore")},
    )
    schema = infer_schema(df, label="label", data=data)
    assert schema.column("site").role == "group"
    assert schema.column("when").role == "time"
    assert schema.column("sex").role == "sensitive"
    assert schema.column("x").type == "categorical" and not schema.column("x").inferred
    assert schema.column("review").role == "ignore" and schema.column("review").type == "text"
    assert schema.column("colour").inferred
    assert schema.features == ["x", "colour", "flag"]  # sensitive columns are not features by default


def test_id_from_recipe():
    df = pd.DataFrame({"key": ["a b", "c d", "e f"], "v": [1.0, 2.0, 3.0], "y": [0, 1, 0]})
    assert infer_schema(df, label="y", data=DataConfig(id="key")).column("key").role == "id"


# --- errors -----------------------------------------------------------------------------------
def test_label_not_found_message():
    df = pd.DataFrame({"text": ["hi"], "label": ["ham"]})
    with pytest.raises(SchemaError, match=r"^Column 'lable' not found in data\.csv\. Columns: text, label\. Did you mean 'label'\?$"):
        infer_schema(df, label="lable", source_name="data.csv")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (DataConfig(group="sit"), r"Column 'sit' \(data\.group\) not found in t\.csv\. .* Did you mean 'site'\?"),
        (DataConfig(id="ids"), r"Column 'ids' \(data\.id\) not found"),
        (DataConfig(time="wen"), r"Column 'wen' \(data\.time\) not found"),
        (DataConfig(sensitive=["sx"]), r"Column 'sx' \(data\.sensitive\) not found"),
        (DataConfig(columns={"colr": ColumnOverride(type="text")}), r"Column 'colr' \(data\.columns\) not found.*'color'"),
    ],
)
def test_recipe_column_not_found(data, message):
    df = pd.DataFrame({"site": [1, 2], "color": ["r", "g"], "y": [0, 1]})
    with pytest.raises(SchemaError, match=message):
        infer_schema(df, label="y", data=data, source_name="t.csv")


def test_column_with_two_roles():
    df = pd.DataFrame({"site": [1, 2], "v": [0.1, 0.2], "y": [0, 1]})
    with pytest.raises(SchemaError, match=r"Column 'site' is given two roles: group \(data\.group\) and sensitive"):
        infer_schema(df, label="y", data=DataConfig(group="site", sensitive=["site"]))


def test_label_role_in_columns_override():
    df = pd.DataFrame({"a": [1, 2], "y": [0, 1]})
    with pytest.raises(SchemaError, match=r"data\.columns\.a\.role is 'label'; name the label with data\.label"):
        infer_schema(df, label="y", data=DataConfig(columns={"a": ColumnOverride(role="label")}))


def test_two_different_labels():
    df = pd.DataFrame({"a": [1, 2], "y": [0, 1]})
    with pytest.raises(SchemaError, match="Two labels were given"):
        infer_schema(df, label="y", data=DataConfig(label="a"))


def test_single_class_label():
    df = pd.DataFrame({"text": ["a", "b", "c"], "label": ["ham", "ham", "ham"]})
    with pytest.raises(SchemaError, match=r"single class, 'ham', in all 3 labelled rows of spam\.csv\. A classifier needs at least two"):
        infer_schema(df, label="label", source_name="spam.csv")


def test_label_without_values():
    df = pd.DataFrame({"f": [1.0, 2.0], "label": [None, " "]})
    with pytest.raises(SchemaError, match=r"Label column 'label' has no values: it is empty in all 2 rows"):
        infer_schema(df, label="label")


def test_binary_task_with_three_classes():
    df = pd.DataFrame({"f": [1.0, 2.0, 3.0], "y": ["a", "b", "c"]})
    with pytest.raises(SchemaError, match="task is binary but label column 'y' has 3 classes"):
        infer_schema(df, label="y", task="binary")


def test_regression_on_text_label():
    df = pd.DataFrame({"f": [1.0, 2.0], "y": ["a", "b"]})
    with pytest.raises(SchemaError, match="task is regression but label column 'y' .* is not numeric"):
        infer_schema(df, label="y", task="regression")


def test_regression_on_constant_label():
    df = pd.DataFrame({"f": [1.0, 2.0], "y": [3.5, 3.5]})
    with pytest.raises(SchemaError, match="has the same value, 3.5, in all 2 labelled rows"):
        infer_schema(df, label="y", task="regression")


def test_task_without_label():
    with pytest.raises(SchemaError, match="task 'binary' needs a label column"):
        infer_schema(pd.DataFrame({"a": [1]}), label=None, task="binary")


def test_unknown_task():
    with pytest.raises(SchemaError, match=r"Unknown task 'regresion'\. Did you mean 'regression'\?"):
        infer_schema(pd.DataFrame({"a": [1.0, 2.0], "y": [1.0, 2.5]}), label="y", task="regresion")


def test_empty_feature_column():
    df = pd.DataFrame({"x": [np.nan, np.nan, np.nan], "z": [1.0, 2.0, 3.0], "y": [0, 1, 0]})
    with pytest.raises(SchemaError, match=r"Column 'x' is empty in every row \(3 rows\).*data\.columns: \{x: \{role: ignore\}\}.*fill it in"):
        infer_schema(df, label="y")


def test_empty_feature_column_can_be_ignored():
    df = pd.DataFrame({"x": ["", " ", None], "z": [1.0, 2.0, 3.0], "y": [0, 1, 0]})
    schema = infer_schema(df, label="y", data=DataConfig(columns={"x": ColumnOverride(role="ignore")}))
    assert schema.features == ["z"]


def test_no_features_left():
    df = pd.DataFrame({"site": [1, 2, 3], "y": [0, 1, 0]})
    with pytest.raises(SchemaError, match=r"No feature columns are left in the data \(site: group, y: label\)"):
        infer_schema(df, label="y", data=DataConfig(group="site"))


@pytest.mark.parametrize(
    ("df", "message"),
    [
        (pd.DataFrame({0: [1], "y": [1]}), r"Column names must be strings; the data has 0 \(int\)"),
        (pd.DataFrame([[1, 2]], columns=["a", "a"]), "repeated column names: a"),
        (pd.DataFrame({"a": [], "y": []}), "has no rows"),
    ],
)
def test_bad_frames(df, message):
    with pytest.raises(SchemaError, match=message):
        infer_schema(df, label=None)


# --- the Schema object ------------------------------------------------------------------------
def test_schema_json_round_trip(small_table):
    schema = infer_schema(small_table, label="label", data=DataConfig(columns={"x": ColumnOverride(type="categorical")}))
    again = Schema.from_json(schema.to_json())
    assert again == schema
    assert again.to_json()["columns"][0] == {"name": "x", "type": "categorical", "role": "feature", "inferred": False}


def _one(name: str = "a", type: str = "numeric", role: str = "feature") -> list[dict]:
    return [{"name": name, "type": type, "role": role}]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"columns": "x", "task": "binary"}, "must be an object with 'columns'"),
        ({"columns": [{"name": "a"}], "label": None, "task": "none"}, "Schema column 0 must be an object with 'name'"),
        ({"columns": _one(type="nmeric"), "label": None, "task": "none"}, r"type 'nmeric'\. Did you mean 'numeric'\?"),
        ({"columns": _one(role="featur"), "label": None, "task": "none"}, r"role 'featur'\. Did you mean 'feature'\?"),
        ({"columns": _one(), "label": "a", "task": "binary"}, "label is 'a' but the columns with role 'label' are"),
        ({"columns": [], "label": None, "task": "clustering"}, "Unknown task 'clustering'"),
    ],
)
def test_schema_from_bad_json(payload, message):
    with pytest.raises(SchemaError, match=message):
        Schema.from_json(payload)


def test_schema_column_lookup():
    schema = Schema([ColumnSchema("text", "text", "feature"), ColumnSchema("label", "categorical", "label")], "label", "binary")
    assert schema.column("text").type == "text"
    assert schema.by_role("label") == ["label"]
    with pytest.raises(SchemaError, match=r"Column 'txt' is not in the schema\. Columns: text, label\. Did you mean 'text'\?"):
        schema.column("txt")
    with pytest.raises(SchemaError, match="Unknown role 'labels'"):
        schema.by_role("labels")


# --- labelled_rows ----------------------------------------------------------------------------
def test_labelled_rows_returns_missing_ids():
    df = pd.DataFrame({"f": [1.0, 2.0, 3.0, 4.0, 5.0], "y": ["a", None, "b", "  ", "a"]}, index=[10, 11, 12, 13, 14])
    schema = infer_schema(df, label="y")
    table, unlabelled = labelled_rows(df, schema)
    assert unlabelled == [11, 13]
    assert table.index.tolist() == [10, 12, 14]


def test_labelled_rows_without_label():
    df = pd.DataFrame({"f": [1.0, 2.0]})
    table, unlabelled = labelled_rows(df, infer_schema(df, label=None))
    assert table is df and unlabelled == []


def test_labelled_rows_missing_label_column():
    schema = Schema([ColumnSchema("f", "numeric", "feature"), ColumnSchema("y", "boolean", "label")], "y", "binary")
    with pytest.raises(SchemaError, match=r"Column 'y' \(the label\) is not in this table"):
        labelled_rows(pd.DataFrame({"f": [1.0]}), schema)
