"""The CLI: every command's --json contract, and bad input → a clear message, exit 2, no traceback,
nothing overwritten."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from traincraft.cli import main


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture()
def good_csv(tmp_path: Path) -> Path:
    path = tmp_path / "data.csv"
    rng = np.random.default_rng(0)
    pd.DataFrame({"x": rng.normal(size=40).round(3), "z": [i % 7 for i in range(40)], "label": ["a", "b"] * 20}).to_csv(path, index=False)
    return path


def assert_user_error(code: int, err: str, message: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    assert message in " ".join(err.split()), err


def test_empty_file(tmp_path, capsys) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    code, _, err = run_cli(["train", empty, "--label", "y", "--runs-dir", tmp_path / "runs"], capsys)
    assert_user_error(code, err, "empty")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_missing_label_column_suggests(good_csv, tmp_path, capsys) -> None:
    before = digest(good_csv)
    code, _, err = run_cli(["train", good_csv, "--label", "lable", "--runs-dir", tmp_path / "runs"], capsys)
    assert_user_error(code, err, "Did you mean 'label'?")
    assert "lable" in err and digest(good_csv) == before


def test_label_with_one_class(tmp_path, capsys) -> None:
    path = tmp_path / "one.csv"
    pd.DataFrame({"x": range(20), "label": ["a"] * 20}).to_csv(path, index=False)
    code, _, err = run_cli(["train", path, "--label", "label", "--runs-dir", tmp_path / "runs"], capsys)
    assert_user_error(code, err, "has a single class")


def test_unreadable_file(tmp_path, capsys) -> None:
    path = tmp_path / "data.parquet"
    path.write_bytes(b"PAR1 this is not really parquet \x00\x01\x02")
    code, _, err = run_cli(["train", path, "--label", "y", "--runs-dir", tmp_path / "runs"], capsys)
    assert_user_error(code, err, "data.parquet")


def test_non_utf8_file(tmp_path, capsys) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("name,label\ncaf\xe9,a\nthe,b\n".encode("latin-1"))
    code, _, err = run_cli(["train", path, "--label", "label", "--runs-dir", tmp_path / "runs"], capsys)
    assert_user_error(code, err, "encoding")


def test_all_empty_column(tmp_path, capsys) -> None:
    path = tmp_path / "holes.csv"
    pd.DataFrame({"x": range(30), "nothing": [None] * 30, "label": ["a", "b", "c"] * 10}).to_csv(path, index=False)
    code, _, err = run_cli(["train", path, "--label", "label", "--runs-dir", tmp_path / "runs"], capsys)
    assert_user_error(code, err, "nothing")


def test_unknown_recipe_key(good_csv, tmp_path, capsys) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"data:\n  source: {good_csv}\n  label: label\ntrain:\n  epoch: 3\n")
    before = digest(recipe)
    code, _, err = run_cli(["train", recipe, "--runs-dir", tmp_path / "runs"], capsys)
    assert_user_error(code, err, "train.epoch: unknown key 'epoch'. Did you mean 'epochs'?")
    assert digest(recipe) == before


def test_wrong_type_in_recipe(good_csv, tmp_path, capsys) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"data:\n  source: {good_csv}\n  label: label\ntrain:\n  batch_size: lots\n")
    code, _, err = run_cli(["train", recipe, "--runs-dir", tmp_path / "runs"], capsys)
    assert_user_error(code, err, "train.batch_size: must be an integer (got 'lots')")


def test_predict_on_data_lacking_a_column(digits_run, digits_frame, tmp_path, capsys) -> None:
    data = tmp_path / "new.csv"
    digits_frame.drop(columns=["pixel_20", "digit"]).head(10).to_csv(data, index=False)
    out = tmp_path / "out.csv"
    code, _, err = run_cli(["predict", digits_run.bundle_dir, data, "-o", out], capsys)
    assert_user_error(code, err, "pixel_20")
    assert not out.exists()


def test_debug_shows_the_traceback(tmp_path, capsys) -> None:
    code, _, err = run_cli(["train", tmp_path / "nope.csv", "--label", "y", "--debug"], capsys)
    assert code == 2 and "Traceback" in err


def test_predict_writes_and_never_overwrites(digits_run, digits_frame, tmp_path, capsys) -> None:
    data = tmp_path / "new.csv"
    digits_frame.drop(columns=["digit"]).head(120).to_csv(data, index=False)
    for suffix in (".csv", ".parquet", ".jsonl"):
        out = tmp_path / f"pred{suffix}"
        code, stdout, err = run_cli(["predict", digits_run.bundle_dir, data, "-o", out, "--chunksize", "50", "--json"], capsys)
        assert code == 0, err
        result = json.loads(stdout)
        assert result["rows"] == 120 and Path(result["output"]) == out
        frame = pd.read_parquet(out) if suffix == ".parquet" else pd.read_json(out, lines=True) if suffix == ".jsonl" else pd.read_csv(out)
        assert len(frame) == 120 and "prediction" in frame.columns
    before = digest(tmp_path / "pred.csv")
    code, _, err = run_cli(["predict", digits_run.bundle_dir, data, "-o", tmp_path / "pred.csv"], capsys)
    assert_user_error(code, err, "already exists")
    assert digest(tmp_path / "pred.csv") == before


def test_evaluate_and_info_json(digits_run, digits_frame, tmp_path, capsys) -> None:
    data = tmp_path / "labelled.csv"
    digits_frame.tail(200).to_csv(data, index=False)
    code, stdout, err = run_cli(["evaluate", digits_run.bundle_dir, data, "--json"], capsys)
    assert code == 0, err
    result = json.loads(stdout)
    assert {"accuracy", "macro_f1", "roc_auc"} <= set(result["metrics"]) and result["rows"] == 200
    code, stdout, err = run_cli(["info", digits_run.bundle_dir, "--json"], capsys)
    info = json.loads(stdout)
    assert info["task"] == "multiclass" and info["classes"] == list(range(10)) and len(info["inputs"]) == 64


def test_init_writes_a_recipe_that_trains(good_csv, tmp_path, capsys) -> None:
    recipe = tmp_path / "recipe.yaml"
    code, _, err = run_cli(["init", good_csv, "--label", "label", "-o", recipe], capsys)
    assert code == 0, err
    text = recipe.read_text()
    assert "x: {role: feature, type: numeric}" in text and "task: binary" in text
    code, _, err = run_cli(["init", good_csv, "--label", "label", "-o", recipe], capsys)
    assert_user_error(code, err, "already exists")
    code, stdout, err = run_cli(["train", recipe, "--epochs", "2", "--runs-dir", tmp_path / "runs", "--json"], capsys)
    assert code == 0, err
    result = json.loads(stdout)
    assert result["epochs"] == 2 and Path(result["bundle"]).is_dir() and "accuracy" in result["metrics"]


def test_real_subprocess_and_module_entry(tmp_path) -> None:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run([sys.executable, "-m", "traincraft", "--version"], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0 and proc.stdout.startswith("traincraft ")
    proc = subprocess.run(
        [sys.executable, "-m", "traincraft", "train", str(tmp_path / "missing.csv"), "--label", "y"],
        capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path,
    )
    assert proc.returncode == 2 and "missing.csv" in proc.stderr and "Traceback" not in proc.stderr


def test_predict_reads_new_files_by_their_own_header(tmp_path, capsys) -> None:
    """A headerless training file named by data.names; new data may come with a header and no label."""
    rows = [("spam" if i % 3 == 0 else "ham", ("win cash prize now" if i % 3 == 0 else "see you at lunch") + f" {i}") for i in range(60)]
    train_file = tmp_path / "train.tsv"
    train_file.write_text("".join(f"{label}\t{text}\n" for label, text in rows))
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"data:\n  source: {train_file}\n  delimiter: \"\\t\"\n  header: false\n  names: [label, text]\n  label: label\ntrain:\n  epochs: 2\n")
    code, stdout, err = run_cli(["train", recipe, "--runs-dir", tmp_path / "runs", "--json"], capsys)
    assert code == 0, err
    bundle = json.loads(stdout)["bundle"]
    headed = tmp_path / "new.csv"
    headed.write_text("text\nwin cash prize now 999\nsee you at lunch 1000\n")
    code, stdout, err = run_cli(["predict", bundle, headed, "-o", tmp_path / "p1.csv", "--json"], capsys)
    assert code == 0, err
    assert json.loads(stdout)["rows"] == 2
    raw = tmp_path / "raw.tsv"
    raw.write_text("".join(f"{label}\t{text}\n" for label, text in rows[:9]))
    code, stdout, err = run_cli(["evaluate", bundle, raw, "--json"], capsys)
    assert code == 0, err
    assert json.loads(stdout)["rows"] == 9


@pytest.fixture()
def leaky_files(tmp_path: Path) -> tuple[Path, Path]:
    """60 texts, each also present as an exact copy (case/space changed) and as a near copy (one word
    changed): with a random split, many copies land in validation/test beside their originals."""
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(400)]
    rows = []
    for i in range(60):
        text = " ".join(rng.choice(words, 12))
        label = "a" if i % 2 else "b"
        near = text.split()
        near[5] = "changed"
        rows += [(text, label), ("  " + text.upper(), label), (" ".join(near), label)]
    data = tmp_path / "leaky.csv"
    pd.DataFrame(rows, columns=["text", "label"]).to_csv(data, index=False)
    recipe = tmp_path / "leaky.yaml"
    recipe.write_text(f"data:\n  source: {data}\n  label: label\nsplit:\n  method: random\ntrain:\n  epochs: 1\nevaluate:\n  bootstrap: 0\n")
    return data, recipe


def test_train_warns_when_the_test_split_shares_rows_with_training(leaky_files, tmp_path, capsys) -> None:
    _, recipe = leaky_files
    code, stdout, err = run_cli(["train", recipe, "--runs-dir", tmp_path / "runs", "--json"], capsys)
    assert code == 0, err
    text = " ".join(err.split())
    assert "split leakage" in text and "repeat a row of an earlier split exactly" in text, err
    assert "are near duplicates of a row" in text, err
    assert Path(json.loads(stdout)["bundle"]).is_dir()


def test_train_stops_on_split_leakage_when_the_recipe_says_so(leaky_files, tmp_path, capsys) -> None:
    _, recipe = leaky_files
    recipe.write_text(recipe.read_text() + "audit:\n  on_split_leakage: error\n")
    code, _, err = run_cli(["train", recipe, "--runs-dir", tmp_path / "runs"], capsys)
    assert_user_error(code, err, "The splits leak:")
    assert "step: dedupe" in err and "on_split_leakage: warn" in " ".join(err.split())
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir()), "no run dir left behind"


def test_dedupe_in_prepare_removes_the_leak(leaky_files, tmp_path, capsys) -> None:
    _, recipe = leaky_files
    recipe.write_text(recipe.read_text() + "audit:\n  on_split_leakage: error\nprepare:\n  - step: dedupe\n    mode: near\n")
    code, _, err = run_cli(["train", recipe, "--runs-dir", tmp_path / "runs", "--json"], capsys)
    assert code == 0, err


@pytest.mark.parametrize(
    ("content", "code_wanted", "message"),
    [
        ("", 2, "is empty (0 bytes)"),
        ("x,y\n1,a\n2,b\n3,a\n", 2, "Label column 'label' not found"),
        ("text,label\nhello world,spam\n", 0, "single row"),
        ("v,label\n" + "".join(f"{'12 kg' if i % 17 == 3 else i * 0.5},{'ab'[i * 7 % 3 % 2]}\n" for i in range(80)), 0, "'12 kg'"),
    ],
    ids=["empty", "no-label-column", "one-row", "mixed-types"],
)
def test_audit_bad_input_gives_findings_or_a_clear_error(tmp_path, capsys, content, code_wanted, message) -> None:
    path = tmp_path / "data.csv"
    path.write_text(content)
    code, stdout, err = run_cli(["audit", path, "--label", "label", "--json"], capsys)
    assert code == code_wanted and "Traceback" not in err, err
    if code_wanted:
        assert_user_error(code, err, message)
    else:
        assert message in json.dumps(json.loads(stdout)["findings"])


def test_a_command_exit_code_reaches_the_shell(monkeypatch):
    import typer

    from traincraft.cli import _app

    tiny = typer.Typer()

    @tiny.command()
    def fails() -> None:
        raise typer.Exit(1)  # e.g. evaluate --strict with a failed fairness check

    @tiny.command()
    def passes() -> None:
        pass

    monkeypatch.setattr(_app, "app", tiny)
    with pytest.raises(SystemExit) as exc:
        _app.main(["fails"])
    assert exc.value.code == 1
    _app.main(["passes"])  # exit 0: returns normally
