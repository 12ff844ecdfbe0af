"""The ``finetune`` command and ``export --merge``: through typer's CliRunner and once as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import typer
from finetune_helpers import tiny_recipe
from typer.testing import CliRunner

import traincraft as tc
from traincraft.cli import _finetune_commands
from traincraft.errors import DataError


@pytest.fixture(scope="module")
def cli() -> typer.Typer:
    """An app with the fine-tuning commands (``traincraft.cli`` wires the same ``register``)."""
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """traincraft"""

    _finetune_commands.register(app)
    return app


@pytest.fixture(scope="module")
def lora_bundle(tmp_path_factory, tiny_bert, spam_frame):
    runs = tmp_path_factory.mktemp("cli-runs")
    return tc.train(spam_frame.head(100), label="label", recipe=tiny_recipe(tiny_bert, "lora", epochs=1), name="lora", runs_dir=runs).bundle_dir


def test_finetune_command_continues_a_bundle(cli, lora_bundle, spam_frame, tmp_path) -> None:
    data = tmp_path / "new.csv"
    spam_frame.tail(60).to_csv(data, index=False)
    recipe = tmp_path / "over.yaml"
    recipe.write_text("evaluate:\n  bootstrap: 0\n", encoding="utf-8")
    result = CliRunner().invoke(
        cli,
        ["finetune", str(lora_bundle), str(data), "--epochs", "1", "--lr", "0.0005", "--recipe", str(recipe), "--runs-dir", str(tmp_path / "runs"), "--json"],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["finetuned_from"] == str(lora_bundle)
    assert summary["epochs"] == 1
    saved = tc.load_recipe(tmp_path / "runs" / "lora-finetune" / "recipe.yaml")
    assert saved.train.lr == 0.0005 and saved.train.epochs == 1 and saved.evaluate.bootstrap == 0
    assert saved.model.tune == "lora"  # everything else is the bundle's recipe


def test_finetune_command_refuses_new_labels_unless_asked(cli, lora_bundle, spam_frame, tmp_path) -> None:
    frame = spam_frame.tail(60).copy()
    frame.loc[frame.index[:6], "label"] = "promo"
    data = tmp_path / "new.csv"
    frame.to_csv(data, index=False)
    refused = CliRunner().invoke(cli, ["finetune", str(lora_bundle), str(data), "--epochs", "1", "--runs-dir", str(tmp_path)])
    assert isinstance(refused.exception, DataError)
    assert "holds 'promo' in 6 row(s)" in str(refused.exception)
    added = CliRunner().invoke(cli, ["finetune", str(lora_bundle), str(data), "--epochs", "1", "--new-labels", "add", "--runs-dir", str(tmp_path), "--json"])
    assert added.exit_code == 0, added.output
    bundle = json.loads(added.stdout.strip().splitlines()[-1])["bundle"]
    assert tc.load(bundle).classes == ["ham", "spam", "promo"]


def test_export_merge_as_a_real_subprocess(lora_bundle, tmp_path) -> None:
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    target = tmp_path / "merged"
    done = subprocess.run(
        [sys.executable, "-m", "traincraft", "export", str(lora_bundle), "--merge", "-o", str(target), "--json"],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["output"] == str(target) and result["tune"] == "lora"
    assert result["bundle_bytes"] < result["merged_bytes"]


def test_export_merge_errors_exit_2_without_a_traceback(lora_bundle, tmp_path, capsys) -> None:
    from traincraft.cli import main

    (tmp_path / "taken").mkdir()
    with pytest.raises(SystemExit) as exit_info:
        main(["export", str(lora_bundle), "--merge", "-o", str(tmp_path / "taken")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "already exists; choose another output folder" in err and "Traceback" not in err
