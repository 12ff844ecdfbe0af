"""Prepare steps: what each does, and the accounting invariant rows in = rows out + rows quarantined."""

import itertools

import numpy as np
import pandas as pd
import pytest

from traincraft.data.prepare import QUARANTINE_COLUMNS, apply_prepare
from traincraft.errors import DataError, RecipeError, SchemaError


def _table() -> pd.DataFrame:
    return pd.DataFrame({
        "text": [
            "call me at 020 7946 0958 tomorrow please",
            "Call me at 020 7946 0958 tomorrow  please",  # exact duplicate after normalisation
            "call me at 020 7946 0958 tomorrow please",  # exact duplicate, other label
            "write to anna@example.com about the invoice",
            "ok",
            "write to anna@example.com about the invoices",  # near duplicate of row 3
            "a completely unrelated message about football",
            None,
        ],
        "age": [31.0, 31.0, 31.0, np.nan, 45.0, 22.0, -999.0, 50.0],
        "const": 1,
        "y": ["ham", "spam", "spam", "ham", "ham", "ham", "spam", None],
    })


def _check_accounting(result, df) -> None:
    m = result.manifest
    for s in m["steps"]:
        assert s["rows_in"] == s["rows_out"] + s["rows_quarantined"]
        assert s["quarantine_entries"] == s["rows_quarantined"] + s["rows_changed"]
    assert m["rows_in"] == len(df) and m["rows_out"] == len(result.prepared)
    assert m["rows_in"] == m["rows_out"] + m["rows_quarantined"]
    q = result.quarantine
    assert len(q) == sum(s["quarantine_entries"] for s in m["steps"])
    dropped = set(q.loc[q["_action"] == "dropped", "_row_id"])
    assert dropped.isdisjoint(result.prepared.index) and dropped | set(result.prepared.index) == set(df.index)


def test_dedupe_exact_keep_first_quarantines_the_copies_with_original_values() -> None:
    df = _table()
    r = apply_prepare(df, [{"step": "dedupe"}], label="y")
    assert list(r.prepared.index) == [0, 3, 4, 5, 6, 7]
    q = r.quarantine
    assert list(q.columns[:4]) == list(QUARANTINE_COLUMNS)
    assert q["_row_id"].tolist() == [1, 2] and set(q["_action"]) == {"dropped"}
    assert q.loc[0, "text"] == df.loc[1, "text"] and q.loc[0, "_reason"] == "exact duplicate of row 0"
    _check_accounting(r, df)


def test_dedupe_majority_keeps_the_majority_label_and_drops_ties() -> None:
    df = _table()
    r = apply_prepare(df, [{"step": "dedupe", "keep": "majority"}], label="y")
    assert 1 in r.prepared.index and 0 not in r.prepared.index and 2 not in r.prepared.index
    reasons = dict(zip(r.quarantine["_row_id"], r.quarantine["_reason"]))
    assert "minority label 'ham'" in reasons[0]
    tie = pd.DataFrame({"text": ["same words in this text", "same words in this text"], "y": ["a", "b"]})
    r2 = apply_prepare(tie, [{"step": "dedupe", "keep": "majority"}], label="y")
    assert len(r2.prepared) == 0 and all("no majority" in s for s in r2.quarantine["_reason"])


def test_dedupe_majority_lets_only_training_labels_vote() -> None:
    """Held-out rows' labels never decide what dedupe keeps: the training rows' majority does."""
    text = "the same message in every row of this set"
    df = pd.DataFrame({
        "text": [text] * 4 + ["another set"] * 3 + ["a third set"] * 2,
        "y": ["b", "a", "b", "b", "x", "y", "x", "p", "q"],
    })
    train = [1, 5, 7, 8]  # set 1: training says 'a', held-out says 'b' x3; set 2: one training vote 'y'; set 3: a tie
    r = apply_prepare(df, [{"step": "dedupe", "keep": "majority"}], label="y", fit_rows=train)
    assert r.prepared.index.tolist() == [1, 5]
    reasons = dict(zip(r.quarantine["_row_id"], r.quarantine["_reason"]))
    assert reasons[0] == reasons[2] == reasons[3] == "exact duplicate of row 1"  # dropped as copies, not for their label
    assert reasons[4] == reasons[6] == "exact duplicate of row 5"
    assert "conflicting training labels and no majority ('p' x1, 'q' x1)" in reasons[7] == reasons[8]
    held_out_only = apply_prepare(df.iloc[:4], [{"step": "dedupe", "keep": "majority"}], label="y", fit_rows=[])
    assert held_out_only.prepared.index.tolist() == [0]  # no training vote: the first row, as keep: first
    everyone = apply_prepare(df.iloc[:4], [{"step": "dedupe", "keep": "majority"}], label="y")  # no split: every row votes
    assert everyone.prepared.index.tolist() == [0]
    _check_accounting(r, df)


def test_dedupe_near() -> None:
    r = apply_prepare(_table(), [{"step": "dedupe", "mode": "near"}], label="y")
    assert 5 not in r.prepared.index and 3 in r.prepared.index


def test_drop_missing_and_markers() -> None:
    df = _table()
    r = apply_prepare(df, [{"step": "drop_missing", "columns": ["y", "age"], "missing_values": [-999]}], label="y")
    assert sorted(r.quarantine["_row_id"]) == [3, 6, 7]
    assert "missing value in 'y'" in r.quarantine.set_index("_row_id").loc[7, "_reason"]
    _check_accounting(r, df)


def test_impute_median_with_indicator_changes_rows_and_keeps_originals() -> None:
    df = _table()
    r = apply_prepare(df, [{"step": "impute", "columns": ["age"], "missing_values": [-999]}], label="y")
    assert r.prepared.loc[3, "age"] == r.prepared.loc[6, "age"] == pytest.approx(np.median([31, 31, 31, 45, 22, 50]))
    assert r.prepared["age_missing"].tolist() == [False, False, False, True, False, False, True, False]
    q = r.quarantine.set_index("_row_id")
    assert set(q["_action"]) == {"changed"} and np.isnan(q.loc[3, "age"]) and q.loc[6, "age"] == -999
    assert r.manifest["steps"][0]["columns_added"] == ["age_missing"] and r.manifest["rows_changed"] == 2
    _check_accounting(r, df)


def test_impute_mode_and_constant() -> None:
    df = pd.DataFrame({"c": ["a", None, "a", "b"], "n": [1.0, None, 3.0, 4.0], "y": [0, 1, 0, 1]})
    r = apply_prepare(df, [{"step": "impute", "strategy": "mode", "indicator": False}], label="y")
    assert r.prepared.loc[1, "c"] == "a" and r.prepared.loc[1, "n"] in (1.0, 3.0, 4.0)
    r = apply_prepare(df, [{"step": "impute", "columns": ["n"], "strategy": "constant", "value": 0}], label="y")
    assert r.prepared.loc[1, "n"] == 0


def test_redact_replaces_personal_data_and_records_changes() -> None:
    df = _table()
    r = apply_prepare(df, [{"step": "redact"}], label="y")
    assert r.prepared.loc[0, "text"] == "call me at <PHONE> tomorrow please"
    assert r.prepared.loc[3, "text"] == "write to <EMAIL> about the invoice"
    assert not r.prepared["text"].astype(str).str.contains("anna@example.com|7946").any()
    q = r.quarantine.set_index("_row_id")
    assert q.loc[3, "text"] == df.loc[3, "text"] and q.loc[3, "_action"] == "changed"
    only_email = apply_prepare(df, [{"step": "redact", "kinds": ["EMAIL"]}], label="y")
    assert "0958" in only_email.prepared.loc[0, "text"]


def test_filter_drop_if_and_keep_if() -> None:
    df = _table()
    r = apply_prepare(df, [{"step": "filter", "drop_if": ["len(text) < 3"], "keep_if": ["notnull(y)"]}], label="y")
    reasons = dict(zip(r.quarantine["_row_id"], r.quarantine["_reason"]))
    assert reasons == {4: "matches drop_if rule 'len(text) < 3'", 7: "fails keep_if rule 'notnull(y)'"}


def test_drop_columns_is_in_the_manifest_not_the_quarantine() -> None:
    r = apply_prepare(_table(), [{"step": "drop_columns", "columns": ["const"]}], label="y")
    assert "const" not in r.prepared.columns and len(r.quarantine) == 0
    assert r.manifest["steps"][0]["columns_dropped"] == ["const"]


def test_relabel_from_review_decisions() -> None:
    df = _table()
    decisions = pd.DataFrame({"row_id": ["0", "6", "99", "4"], "decision": ["relabel:spam", "drop", "drop", "keep"]})
    r = apply_prepare(df, [{"step": "relabel"}], label="y", review=decisions)
    assert r.prepared.loc[0, "y"] == "spam" and 6 not in r.prepared.index
    q = r.quarantine.set_index("_row_id")
    assert q.loc[0, "y"] == "ham" and q.loc[0, "_action"] == "changed" and q.loc[6, "_action"] == "dropped"
    assert r.manifest["steps"][0]["details"] == {"decisions": 4, "not_in_data": 1}


def test_drop_label_issues_on_planted_flips() -> None:
    from sklearn.datasets import load_breast_cancer

    df = load_breast_cancer(as_frame=True).frame.rename(columns={"target": "y"})
    rng = np.random.default_rng(1)
    flipped = rng.choice(len(df), 30, replace=False)
    df.loc[flipped, "y"] = 1 - df.loc[flipped, "y"]
    r = apply_prepare(df, [{"step": "drop_label_issues", "threshold": 0.5}], label="y")
    dropped = set(r.quarantine["_row_id"])
    assert len(dropped & set(flipped.tolist())) >= 20 and len(dropped) <= 45
    _check_accounting(r, df)


def test_the_invariant_holds_for_every_order_of_steps() -> None:
    df = _table()
    steps = [
        {"step": "dedupe", "mode": "near", "keep": "majority"},
        {"step": "impute", "columns": ["age"]},
        {"step": "redact"},
        {"step": "filter", "drop_if": ["len(text) < 3"]},
        {"step": "drop_missing"},
        {"step": "drop_columns", "columns": ["const"]},
    ]
    for order in itertools.islice(itertools.permutations(steps), 0, 720, 61):
        r = apply_prepare(df, list(order), label="y")
        _check_accounting(r, df)
        assert r.manifest["input_fingerprint"].startswith("sha256:") and r.manifest["output_fingerprint"].startswith("sha256:")


def test_no_steps_is_the_identity() -> None:
    df = _table()
    r = apply_prepare(df, [], label="y")
    assert r.prepared is df and len(r.quarantine) == 0 and r.manifest["input_fingerprint"] == r.manifest["output_fingerprint"]


@pytest.mark.parametrize(
    "steps, error, match",
    [
        ([{"step": "dedup"}], RecipeError, "step must be one of"),
        ([{"step": "impute", "strategy": "constant"}], RecipeError, "needs a value"),
        ([{"step": "impute", "columns": ["y"]}], DataError, "made-up label"),
        ([{"step": "drop_columns", "columns": ["y"]}], DataError, "cannot be dropped"),
        ([{"step": "drop_columns", "columns": ["agee"]}], SchemaError, "Did you mean 'age'"),
        ([{"step": "filter", "drop_if": ["text.upper()"]}], RecipeError, r"prepare step 0 \(filter\)"),
        ([{"step": "relabel", "review": "/nonexistent/review.csv"}], RecipeError, "does not exist"),
        ([{"step": "impute", "columns": ["const"], "missing_values": [1]}], DataError, "empty in every row"),
    ],
)
def test_errors(steps, error, match) -> None:
    with pytest.raises(error, match=match):
        apply_prepare(_table(), steps, label="y")


def test_bad_review_decision_names_the_row() -> None:
    with pytest.raises(DataError, match="row 0: decision 'maybe'|line 2: decision 'maybe'"):
        apply_prepare(_table(), [{"step": "relabel"}], label="y", review=pd.DataFrame({"row_id": ["0"], "decision": ["maybe"]}))


def test_frame_errors() -> None:
    with pytest.raises(DataError, match="repeated row ids"):
        apply_prepare(pd.DataFrame({"a": [1, 2]}, index=[0, 0]), [])
    with pytest.raises(DataError, match="Label column 'z'"):
        apply_prepare(_table(), [], label="z")
    with pytest.raises(DataError, match="drop_label_issues needs a label"):
        apply_prepare(_table(), [{"step": "drop_label_issues"}])


def test_impute_learns_its_fill_value_from_the_training_rows_only() -> None:
    df = pd.DataFrame({"age": [10.0, 20.0, np.nan, 30.0, 1000.0, 2000.0, np.nan], "c": ["a", "a", None, "b", "b", "b", None], "y": [0, 1] * 3 + [0]})
    train = [0, 1, 2, 3]  # rows 4-6 stand for validation/test: their values must not shape the fill
    r = apply_prepare(df, [{"step": "impute", "columns": ["age", "c"], "strategy": "median"}], label="y", fit_rows=train)
    assert r.prepared.loc[2, "age"] == r.prepared.loc[6, "age"] == 20.0  # median of 10, 20, 30; whole table: 30
    assert r.prepared.loc[2, "c"] == r.prepared.loc[6, "c"] == "a"  # training mode; whole-table mode is 'b'
    assert r.manifest["steps"][0]["details"]["fitted_on_rows"] == 4 and r.manifest["fitted_on"] == "the training split (4 rows)"
    whole = apply_prepare(df, [{"step": "impute", "columns": ["age"]}], label="y")
    assert whole.prepared.loc[2, "age"] == 30.0 and whole.manifest["fitted_on"] == "all rows"
    _check_accounting(r, df)
    with pytest.raises(DataError, match="empty in every row of the training split"):
        apply_prepare(df, [{"step": "impute", "columns": ["age"]}], label="y", fit_rows=[2, 6])
    with pytest.raises(DataError, match="fit_rows names 1 row id"):
        apply_prepare(df, [], label="y", fit_rows=[0, 99])


def test_drop_label_issues_scores_and_drops_only_training_rows() -> None:
    from sklearn.datasets import load_breast_cancer

    df = load_breast_cancer(as_frame=True).frame.rename(columns={"target": "y"})
    rng = np.random.default_rng(1)
    flipped = rng.choice(len(df), 60, replace=False)
    df.loc[flipped, "y"] = 1 - df.loc[flipped, "y"]
    held_out = set(range(400, len(df)))  # validation + test: never scored, never dropped
    r = apply_prepare(df, [{"step": "drop_label_issues", "threshold": 0.5}], label="y", fit_rows=list(range(400)))
    dropped = set(r.quarantine["_row_id"])
    assert dropped and dropped.isdisjoint(held_out) and held_out <= set(r.prepared.index)
    flipped_train = {int(i) for i in flipped if i < 400}
    assert len(dropped & flipped_train) >= 0.6 * len(flipped_train)
    assert r.manifest["steps"][0]["details"]["scored_rows"] == 400
    _check_accounting(r, df)


def test_drop_label_issues_by_noise_rate_flags_more_of_the_planted_flips() -> None:
    from sklearn.datasets import load_breast_cancer

    df = load_breast_cancer(as_frame=True).frame.rename(columns={"target": "y"})
    rng = np.random.default_rng(2)
    flipped = set(rng.choice(len(df), 80, replace=False).tolist())
    df.loc[list(flipped), "y"] = 1 - df.loc[list(flipped), "y"]
    found = {}
    for method in ("confident_learning", "prune_by_noise_rate"):
        r = apply_prepare(df, [{"step": "drop_label_issues", "threshold": 1.0, "method": method}], label="y", fit_rows=list(range(450)))
        found[method] = set(r.quarantine["_row_id"])
        assert found[method] <= set(range(450)) and r.manifest["steps"][0]["details"]["method"] == method
        _check_accounting(r, df)
    assert len(found["prune_by_noise_rate"] & flipped) >= len(found["confident_learning"] & flipped)
