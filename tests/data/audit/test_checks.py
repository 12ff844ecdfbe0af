"""One test per check on planted data, the SMS spam duplicate count, and bad input."""

import json

import numpy as np
import pandas as pd
import pytest

from traincraft.data.audit import CHECKS, AuditReport, Finding, audit
from traincraft.data.audit._text import normalise_one
from traincraft.errors import DataError, RecipeError, SchemaError


def _sms(path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", header=None, names=["label", "text"], quoting=3)


def test_sms_exact_duplicates_equal_pandas_on_normalised_text(spam_file) -> None:
    df = _sms(spam_file)
    expected = df["text"].map(normalise_one).duplicated()
    f = audit(df, label="label", checks=["exact_duplicates"]).first("exact_duplicates")
    assert len(df) == 4862
    assert f.count == int(expected.sum()) == len(f.row_ids)
    assert f.row_ids == df.index[expected].tolist()


def test_sms_full_audit_reports_duplicates_near_duplicates_and_label_issues(spam_file) -> None:
    report = audit(_sms(spam_file), label="label")
    for check in ("exact_duplicates", "near_duplicates", "label_issues", "personal_data"):
        assert report.first(check) is not None and report.first(check).count > 0, check
    doc = json.loads(json.dumps(report.to_json()))
    assert doc["rows"] == 4862 and doc["suggested_prepare"][0]["step"] in ("dedupe", "redact", "filter", "drop_label_issues")
    exact = next(f for f in doc["findings"] if f["check"] == "exact_duplicates")
    assert len(exact["row_ids"]) == exact["count"]


def test_missing_values_labels_and_disguised_missing() -> None:
    rng = np.random.default_rng(0)
    n = 200
    age = rng.normal(40, 10, n)
    age[:10] = np.nan
    age[10:15] = -999
    df = pd.DataFrame({
        "age": age,
        "city": ["Paris", "?", "N/A", "Lyon"] * 50,
        "note": [None if i % 50 == 0 else "some words here" for i in range(n)],
        "y": ["a", "b", None, "a"] * 50,
    })
    r = audit(df, label="y", checks=["missing_values", "missing_labels", "disguised_missing"])
    age_missing = next(f for f in r.by_check("missing_values") if f.details["column"] == "age")
    assert age_missing.count == 10 and age_missing.fix["strategy"] == "median"
    assert r.first("missing_labels").count == 50 and r.first("missing_labels").fix == {"step": "drop_missing", "columns": ["y"]}
    disguised = {f.details["column"]: f for f in r.by_check("disguised_missing")}
    assert disguised["age"].details["markers"] == [-999] and disguised["age"].count == 5
    assert disguised["city"].count == 100 and set(disguised["city"].details["markers"]) == {"?", "N/A"}


def test_mixed_types_column() -> None:
    df = pd.DataFrame({"price": ["1.5", "2", "3.25", "abc", "4", "5", "6", "7", "8", "9", "10"] * 3, "y": [0, 1, 1] * 11})
    f = audit(df, label="y", checks=["mixed_types"]).first("mixed_types")
    assert f.count == 3 and f.details["values"] == ["abc"]


def test_constant_id_like_and_leaking_columns() -> None:
    rng = np.random.default_rng(0)
    n = 300
    y = rng.integers(0, 2, n)
    df = pd.DataFrame({
        "const": 7,
        "row_no": np.arange(n),
        "ticket": [f"T{i:05d}" for i in rng.permutation(n)],
        "outcome_code": np.where(y == 1, "C1", "C0"),
        "x": rng.normal(size=n),
        "y": y,
    })
    r = audit(df, label="y", checks=["constant_columns", "id_like_columns", "target_leakage"])
    assert r.first("constant_columns").details["columns"] == ["const"]
    assert r.first("id_like_columns").details["columns"] == ["row_no", "ticket"]
    leaks = [f.details["column"] for f in r.by_check("target_leakage")]
    assert leaks == ["outcome_code"]
    assert r.first("target_leakage").severity == "error"


def test_outliers_and_text_length() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=500)
    x[[3, 7]] = [50.0, -40.0]
    text = ["a normal sentence of some words"] * 500
    text[0], text[1] = "", "ok"
    text[2] = "word " * 5000
    df = pd.DataFrame({"x": x, "text": text})
    r = audit(df, checks=["outliers", "text_length"])
    assert r.first("outliers").row_ids == [3, 7]
    lengths = r.by_check("text_length")
    assert lengths[0].row_ids == [0, 1] and lengths[0].details["empty"] == 1
    assert lengths[1].row_ids == [2]


def test_class_balance() -> None:
    y = ["a"] * 300 + ["b"] * 20 + ["c"] * 4
    r = audit(pd.DataFrame({"x": range(len(y)), "y": y}), label="y", checks=["class_balance"])
    small, imbalance = r.by_check("class_balance")
    assert small.count == 4 and small.details["small"] == {"c": 4}
    assert imbalance.severity == "info" and imbalance.details["ratio"] == 75
    single = audit(pd.DataFrame({"x": [1, 2], "y": ["a", "a"]}), label="y", checks=["class_balance"]).first("class_balance")
    assert single.severity == "error" and "single class" in single.message


def test_representation_of_sensitive_groups() -> None:
    df = pd.DataFrame({"sex": ["F"] * 100 + ["M"] * 95 + ["X"] * 5, "x": range(200), "y": [1, 0] * 50 + [0] * 95 + [1] * 5})
    r = audit(df, label="y", sensitive=["sex"], checks=["representation"])
    info, small = r.by_check("representation")
    assert info.details["groups"]["F"]["positive_rate"] == pytest.approx(0.5)
    assert info.details["groups"]["M"]["rows"] == 95
    assert small.details["small_groups"] == ["X"] and small.count == 5


def test_user_rules() -> None:
    df = pd.DataFrame({"text": ["spam spam", "hello", "x"], "country": ["UK", "FR", "UK"]})
    f = audit(df, rules=["country != 'UK'"], checks=["rules"]).first("rules")
    assert f.row_ids == [1] and f.fix == {"step": "filter", "drop_if": ["country != 'UK'"]}


def test_split_leakage_exact_near_and_groups() -> None:
    rng = np.random.default_rng(0)
    vocab = [f"w{i}" for i in range(2000)]
    texts = [" ".join(rng.choice(vocab, 8)) for _ in range(40)]
    texts[30] = texts[1]  # exact copy in test
    texts[31] = texts[2].rsplit(" ", 1)[0] + " changed"  # near copy in test
    df = pd.DataFrame({"text": texts, "patient": [i % 20 for i in range(40)], "y": [0, 1] * 20})
    splits = {"train": list(range(0, 20)), "validation": [], "test": list(range(20, 40))}
    from traincraft.data.schema import ColumnSchema, Schema

    schema = Schema([ColumnSchema("text", "text", "feature"), ColumnSchema("patient", "numeric", "group"), ColumnSchema("y", "numeric", "label")], "y", "binary")
    r = audit(df, schema=schema, splits=splits, checks=["split_leakage"])
    kinds = {f.details["kind"]: f for f in r.by_check("split_leakage")}
    assert kinds["exact"].row_ids == [30]
    assert kinds["near"].row_ids == [31]
    assert kinds["group"].count == 20 and kinds["group"].details["by_split"] == {"train-test": 20}


def test_split_leakage_rejects_unknown_row_ids() -> None:
    with pytest.raises(DataError, match="not in the table"):
        audit(pd.DataFrame({"x": [1, 2]}), splits={"train": [0], "validation": [], "test": [5]}, checks=["split_leakage"])


def test_bad_input_gives_findings_or_clear_errors() -> None:
    empty = audit(pd.DataFrame({"a": [], "y": []}), label="y")
    assert empty.findings[0].check == "table" and "no rows" in empty.findings[0].message
    one = audit(pd.DataFrame({"text": ["hello world"], "y": ["a"]}), label="y")
    assert one.findings[0].check == "table" and "single row" in one.findings[0].message
    mixed = audit(pd.DataFrame({"v": [1, "two", 3.0, None, "5"] * 10, "y": [0, 1] * 25}), label="y")
    assert isinstance(mixed, AuditReport)
    with pytest.raises(SchemaError, match="Did you mean 'label'"):
        audit(pd.DataFrame({"label": [1]}), label="lable")
    with pytest.raises(SchemaError, match="Sensitive column 'sexx'"):
        audit(pd.DataFrame({"sex": [1]}), sensitive=["sexx"])
    with pytest.raises(RecipeError, match="Did you mean 'exact_duplicates'"):
        audit(pd.DataFrame({"a": [1]}), checks=["exact_duplicate"])
    with pytest.raises(SchemaError, match="needs a pandas DataFrame"):
        audit([1, 2, 3])


def test_every_check_runs_on_a_mixed_table(small_table) -> None:
    report = audit(small_table, label="label", sensitive=["colour"], rules=["x > 2"])
    assert set(report.seconds) == set(CHECKS)
    assert all(isinstance(f, Finding) for f in report.findings)
    json.dumps(report.to_json())


def test_finding_rejects_an_unknown_severity() -> None:
    with pytest.raises(ValueError, match="severity must be one of"):
        Finding(check="x", severity="fatal", count=0, message="m")
