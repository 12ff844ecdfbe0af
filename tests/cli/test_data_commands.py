"""The data commands through typer's CliRunner, and once as a real subprocess."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import typer
import yaml
from typer.testing import CliRunner

from traincraft.cli._data_commands import register
from traincraft.errors import RecipeError, SchemaError


@pytest.fixture()
def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """traincraft (test app)."""

    register(app)
    return app


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    df = pd.DataFrame({
        "text": ["call 020 7946 0958 now", "Call 020 7946 0958  now", "hello there friend", "see you at the game tonight", "ok"] * 4,
        "label": ["spam", "spam", "ham", "ham", "ham"] * 4,
    })
    path = tmp_path / "d.csv"
    df.to_csv(path, index=False)
    return path


def test_audit_json_prints_one_object_with_all_row_ids(app, data, tmp_path) -> None:
    html = tmp_path / "audit.html"
    r = CliRunner().invoke(app, ["audit", str(data), "--label", "label", "--json", "--html", str(html), "--checks", "exact_duplicates,personal_data"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    exact = next(f for f in doc["findings"] if f["check"] == "exact_duplicates")
    assert exact["count"] == 16 and len(exact["row_ids"]) == 16
    assert html.read_text().startswith("<!DOCTYPE html>") and doc["html"] == str(html)


def test_audit_table_shows_a_sample_of_row_ids(app, data) -> None:
    r = CliRunner().invoke(app, ["audit", str(data), "--label", "label", "--checks", "exact_duplicates"], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert "exact_duplicates" in r.stdout and "..." in r.stdout and "dedupe" in r.stdout


def test_audit_table_ends_with_prepare_steps_to_paste_into_the_recipe(app, data) -> None:
    r = CliRunner().invoke(app, ["audit", str(data), "--label", "label", "--checks", "exact_duplicates,personal_data"], env={"COLUMNS": "100"})
    assert r.exit_code == 0, r.output
    pasted = yaml.safe_load(r.stdout[r.stdout.index("\nprepare:") :])
    steps = [s["step"] for s in pasted["prepare"]]
    assert steps == ["dedupe", "redact"], pasted
    assert pasted["prepare"][1]["kinds"] == ["PHONE"]


def test_prepare_and_review_commands(app, data, tmp_path) -> None:
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({"data": {"source": "d.csv", "label": "label"}, "prepare": [{"step": "dedupe"}, {"step": "relabel", "missing_ok": True}]}))
    r = CliRunner().invoke(app, ["prepare", str(recipe), "-o", str(tmp_path / "out"), "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["rows_in"] == doc["rows_out"] + doc["rows_quarantined"] == 20
    queue = tmp_path / "q.csv"
    pd.DataFrame({"row_id": [2], "content": ["x"], "decision": ["relabel:spam"]}).to_csv(queue, index=False)
    r = CliRunner().invoke(app, ["review", "apply", str(queue), "--recipe", str(recipe), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["relabel"] == 1 and (tmp_path / "review.csv").exists()


def test_errors_are_traincraft_errors(app, data, tmp_path) -> None:
    r = CliRunner().invoke(app, ["audit", str(data), "--label", "lable"])
    assert isinstance(r.exception, SchemaError) and "Did you mean 'label'" in str(r.exception)
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump({"data": {"source": "d.csv", "label": "label"}}))
    queue = tmp_path / "q.csv"
    pd.DataFrame({"row_id": [1], "decision": ["keep"]}).to_csv(queue, index=False)
    r = CliRunner().invoke(app, ["review", "apply", str(queue), "--recipe", str(recipe)])
    assert isinstance(r.exception, RecipeError) and "no relabel step" in str(r.exception)


@pytest.mark.slow
def test_audit_as_a_real_subprocess(data) -> None:
    code = (
        "import typer\nfrom traincraft.cli._data_commands import register\n"
        "app = typer.Typer()\n@app.callback()\ndef root():\n    pass\nregister(app)\napp()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, "audit", str(data), "--label", "label", "--json", "--checks", "exact_duplicates"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1])["rows"] == 20
