"""api verbs audit / prepare / review on real files: SMS spam end to end, HTML, split-leakage gate."""

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from traincraft.api.audit import audit, audit_html, check_split_leakage
from traincraft.api.prepare import prepare
from traincraft.api.review import review_apply, review_export
from traincraft.data.audit._text import normalise_one
from traincraft.errors import DataError, RecipeError, SchemaError
from traincraft.recipe import recipe_from_dict


def _recipe(tmp_path: Path, spam_file: Path, prepare_steps: list, rows: int | None = None) -> Path:
    if rows is None:
        shutil.copy(spam_file, tmp_path / "spam.tsv")
    else:  # a head of the file keeps the k-fold label-issue tests fast
        lines = spam_file.read_text(encoding="utf-8").splitlines(keepends=True)[:rows]
        (tmp_path / "spam.tsv").write_text("".join(lines), encoding="utf-8")
    doc = {
        "data": {"source": "spam.tsv", "format": "tsv", "header": False, "names": ["label", "text"], "label": "label"},
        "prepare": prepare_steps,
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_audit_a_recipe_matches_pandas_on_the_raw_file(tmp_path, spam_file) -> None:
    path = _recipe(tmp_path, spam_file, [])
    report = audit(path, checks=["exact_duplicates", "near_duplicates"])
    raw = pd.read_csv(spam_file, sep="\t", header=None, names=["label", "text"], quoting=3)
    assert report.first("exact_duplicates").count == int(raw["text"].map(normalise_one).duplicated().sum())
    assert report.first("near_duplicates").count > 0
    page = audit_html(report, title="spam <audit>")
    assert page.startswith("<!DOCTYPE html>") and "spam &lt;audit&gt;" in page and "exact_duplicates" in page


def test_prepare_with_dedupe_writes_balanced_manifest_and_full_quarantine(tmp_path, spam_file) -> None:
    path = _recipe(tmp_path, spam_file, [{"step": "dedupe"}, {"step": "redact"}])
    result = prepare(path, out_dir=tmp_path / "out")
    manifest = json.loads(Path(result["manifest"]).read_text())
    dedupe = manifest["steps"][0]
    assert dedupe["rows_in"] == 4862 and dedupe["rows_in"] == dedupe["rows_out"] + dedupe["rows_quarantined"]
    assert manifest["rows_in"] == manifest["rows_out"] + manifest["rows_quarantined"]
    quarantine = pd.read_parquet(result["quarantine"])
    prepared = pd.read_parquet(result["prepared"])
    removed = set(quarantine.loc[quarantine["_action"] == "dropped", "_row_id"])
    assert len(removed) == dedupe["rows_quarantined"] == 329
    assert removed.isdisjoint(prepared["_row_id"]) and len(removed) + len(prepared) == 4862
    assert (quarantine["_action"] == "changed").sum() == manifest["steps"][1]["rows_changed"] > 0
    assert manifest["input_fingerprint"] != manifest["output_fingerprint"]


@pytest.mark.slow
def test_review_export_then_apply_is_used_by_the_next_prepare(tmp_path, spam_file) -> None:
    path = _recipe(tmp_path, spam_file, [{"step": "dedupe"}, {"step": "relabel", "review": "decisions.csv", "missing_ok": True}], rows=1500)
    queue = tmp_path / "queue.csv"
    exported = review_export(path, queue)
    q = pd.read_csv(queue, dtype=str, keep_default_na=False)
    assert exported["rows"] == len(q) > 0 and list(q.columns)[:4] == ["row_id", "content", "given_label", "suggested_label"]
    assert (q["given_label"] != q["suggested_label"]).all()
    probs = q["given_label_probability"].astype(float).to_numpy()
    assert np.all(np.diff(probs) >= 0)  # most likely mislabelled first
    q.loc[0, "decision"] = f"relabel:{q.loc[0, 'suggested_label']}"
    q.loc[1, "decision"] = "drop"
    q.to_csv(queue, index=False)
    applied = review_apply(queue, recipe=path)
    assert applied["decisions"] == 2 and applied["relabel"] == 1 and applied["drop"] == 1
    result = prepare(path, out_dir=tmp_path / "out")
    prepared = pd.read_parquet(result["prepared"]).set_index("_row_id")
    first, second = int(q.loc[0, "row_id"]), int(q.loc[1, "row_id"])
    assert prepared.loc[first, "label"] == q.loc[0, "suggested_label"] and second not in prepared.index
    again = review_export(path, tmp_path / "queue2.csv")
    assert again["prefilled"] >= 1  # decisions survive re-runs


def test_review_errors(tmp_path, spam_file) -> None:
    path = _recipe(tmp_path, spam_file, [])
    queue = tmp_path / "q.csv"
    pd.DataFrame({"row_id": [1], "decision": ["keep"]}).to_csv(queue, index=False)
    with pytest.raises(RecipeError, match="no relabel step"):
        review_apply(queue, recipe=path)
    with pytest.raises(DataError, match="already exists"):
        review_export(path, queue)
    with pytest.raises(DataError, match="does not exist"):
        review_apply(tmp_path / "missing.csv", recipe=path)
    path2 = _recipe(tmp_path, spam_file, [{"step": "relabel"}])
    pd.DataFrame({"row_id": [1], "decision": ["perhaps"]}).to_csv(queue, index=False)
    with pytest.raises(DataError, match="line 2: decision 'perhaps'"):
        review_apply(queue, recipe=path2)


def test_audit_errors_and_dataframe_input(tmp_path) -> None:
    df = pd.DataFrame({"text": ["a b c d", "a b c d", "x y z w"], "label": ["p", "q", "p"]})
    report = audit(df, label="label", checks=["exact_duplicates", "conflicting_labels"])
    assert report.first("conflicting_labels").row_ids == [0, 1]
    with pytest.raises(SchemaError, match="Did you mean 'label'"):
        audit(df, label="labl")
    with pytest.raises(RecipeError, match="Cannot train on a list"):
        audit([1, 2], label="x")


def test_split_leakage_warns_or_stops_by_recipe_setting(caplog) -> None:
    rng = np.random.default_rng(0)
    texts = [" ".join(rng.choice([f"w{i}" for i in range(500)], 8)) for _ in range(30)]
    texts[25] = texts[3]
    table = pd.DataFrame({"text": texts, "label": ["a", "b"] * 15})
    splits = {"train": list(range(20)), "validation": [20, 21], "test": list(range(22, 30))}
    warn = recipe_from_dict({"data": {"label": "label"}})
    found = check_split_leakage(table, splits, warn)
    assert found and found[0].row_ids == [25] and "split leakage" in caplog.text
    stop = recipe_from_dict({"data": {"label": "label"}, "audit": {"on_split_leakage": "error"}})
    with pytest.raises(DataError, match="The splits leak: 1 validation/test rows"):
        check_split_leakage(table, splits, stop)
