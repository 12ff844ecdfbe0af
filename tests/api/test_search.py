"""traincraft search on real digits: trials ranked on validation, the test split read once, resume."""

import importlib
import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import traincraft as tc
import traincraft.api._fit as fit_module
from traincraft.cli import app
from traincraft.errors import RecipeError

search_module = importlib.import_module("traincraft.api.search")  # the package's `search` is the function

BASE = {
    "name": "digits",
    "data": {"source": "sklearn:digits", "label": "target"},
    "train": {"epochs": 2, "threads": 1},
    "evaluate": {"bootstrap": 0},
}


def _recipe(tmp_path: Path, **search) -> Path:
    path = tmp_path / "recipe.yaml"
    space = {"train.lr": {"log_uniform": [3e-4, 1e-2]}, "model.hidden": [[32], [64, 64]]}
    path.write_text(yaml.safe_dump({**BASE, "search": {"trials": 3, "space": space, **search}}))
    return path


@pytest.fixture()
def test_reads(monkeypatch) -> list[int]:
    """How many runs scored the test split (evaluate_run is called once per test read)."""
    calls: list[int] = []
    real = fit_module.evaluate_run

    def counting(*args, **kwargs):
        calls.append(len(kwargs["test"][0]))
        return real(*args, **kwargs)

    monkeypatch.setattr(fit_module, "evaluate_run", counting)
    return calls


def test_trials_never_read_the_test_split_and_the_final_run_reproduces_the_best(tmp_path, test_reads) -> None:
    result = tc.search(_recipe(tmp_path), runs_dir=tmp_path / "runs")
    trials = result["trials"]
    assert [t["trial"] for t in trials] == [0, 1, 2, 3] and all(t["status"] == "finished" for t in trials)
    assert trials[0]["settings"] == {} and trials[0]["values"] == {"train.lr": 0.002, "model.hidden": [256, 256]}  # the recipe's own
    assert all(t["values"] == t["settings"] for t in trials[1:])
    values = [t["value"] for t in trials]
    assert result["metric"] == "accuracy" and result["mode"] == "max"
    assert [trials[i]["value"] for i in result["ranking"]] == sorted(values, reverse=True)
    for t in trials:  # a trial's run has validation metrics and no test metrics, evaluation or test read
        summary = json.loads((Path(t["run_dir"]) / "run.json").read_text())
        assert summary["metrics"] == {} and summary["validation_metrics"]["accuracy"] == t["value"]
        assert not (Path(t["run_dir"]) / "evaluation.json").exists()
    assert test_reads == [268]  # once, by the final run: 15% of 1,797 rows
    final = result["final"]
    assert final["reproduces_best_trial"] and final["validation"]["accuracy"] == result["best"]["value"]
    assert final["test"]["accuracy"] > 0.5 and Path(final["bundle"], "bundle.json").exists()
    best = tc.load_recipe(result["best_recipe"])  # the recipe to train the best settings again
    assert best.train.lr == result["best"]["values"]["train.lr"] and best.model.hidden == result["best"]["values"]["model.hidden"]
    assert best.train.epochs == 2 and not best.search.space and best.name is None


def test_a_killed_search_resumes_with_the_same_draws(tmp_path, monkeypatch) -> None:
    recipe = _recipe(tmp_path, final=False)
    first = tc.search(recipe, runs_dir=tmp_path / "runs")
    folder = Path(first["search_dir"])
    lines = (folder / "trials.jsonl").read_text().splitlines()
    (folder / "trials.jsonl").write_text(lines[0] + "\n" + lines[1][: len(lines[1]) // 2])  # killed while writing trial 1
    trained: list[str] = []
    real = search_module.train
    monkeypatch.setattr(search_module, "train", lambda *a, **k: trained.append(k["name"]) or real(*a, **k))
    again = tc.search(recipe, runs_dir=tmp_path / "runs", resume=folder)
    assert trained == ["trial-001", "trial-002", "trial-003"]  # trial 0 was done; the torn line's trial runs again
    assert [t["value"] for t in again["trials"]] == [t["value"] for t in first["trials"]]
    assert [t["settings"] for t in again["trials"]] == [t["settings"] for t in first["trials"]]
    assert "final" not in again


def test_resume_refuses_a_changed_space(tmp_path) -> None:
    first = tc.search(_recipe(tmp_path, final=False, trials=1), runs_dir=tmp_path / "runs")
    with pytest.raises(RecipeError, match="was started with other settings"):
        tc.search(_recipe(tmp_path, final=False, trials=2), runs_dir=tmp_path / "runs", resume=first["search_dir"])
    with pytest.raises(RecipeError, match="was started with search.folds: None, not 3"):
        tc.search(_recipe(tmp_path, final=False, trials=1, folds=3), runs_dir=tmp_path / "runs", resume=first["search_dir"])


def test_a_misspelt_path_fails_before_anything_trains(tmp_path) -> None:
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump({**BASE, "search": {"space": {"train.lrr": [0.1, 0.01]}}}))
    with pytest.raises(RecipeError, match=r"'train.lrr' is not a recipe setting. Did you mean 'lr'\?"):
        tc.search(path, runs_dir=tmp_path / "runs")
    path.write_text(yaml.safe_dump({**BASE, "search": {"space": {"train.batch_size": [64, -1]}}}))
    with pytest.raises(RecipeError, match="search.space gives a value the recipe refuses"):
        tc.search(path, runs_dir=tmp_path / "runs")
    path.write_text(yaml.safe_dump(BASE))
    with pytest.raises(RecipeError, match="search.space is empty"):
        tc.search(path, runs_dir=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()


def test_an_unknown_metric_names_the_validation_metrics(tmp_path) -> None:
    with pytest.raises(RecipeError, match=r"search.metric 'acuracy' is not a validation metric of this task. Did you mean 'accuracy'\?"):
        tc.search(_recipe(tmp_path, metric="acuracy", trials=1), runs_dir=tmp_path / "runs")


def test_search_refuses_tasks_without_a_validation_score(tmp_path) -> None:
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump({"task": "cluster", "data": {"source": "sklearn:digits"}, "search": {"space": {"train.lr": [0.1]}}}))
    with pytest.raises(RecipeError, match="tunes supervised models; this recipe's task is cluster"):
        tc.search(path, runs_dir=tmp_path / "runs")


def test_cli_prints_the_ranked_trials(tmp_path) -> None:
    r = CliRunner().invoke(app, ["search", str(_recipe(tmp_path, trials=2)), "--no-final", "--runs-dir", str(tmp_path / "runs")], env={"COLUMNS": "120"})
    assert r.exit_code == 0, r.output
    text = " ".join(r.stdout.split())
    assert "3 trials, best first by validation accuracy (higher is better)" in text and "best.yaml" in r.stdout
    assert "0*" in r.stdout and "the recipe's own settings" in text and "[256,256]" in r.stdout
    r = CliRunner().invoke(app, ["search", str(_recipe(tmp_path, trials=1)), "--json", "--runs-dir", str(tmp_path / "runs")])
    doc = json.loads(r.stdout)
    assert len(doc["trials"]) == 2 and doc["final"]["validation"]["accuracy"] == doc["best"]["value"]
    assert 0.0 < doc["final"]["test"]["accuracy"] <= 1.0


def test_cross_validated_trials_score_the_mean_over_folds(tmp_path, test_reads) -> None:
    result = tc.search(_recipe(tmp_path, trials=1, folds=3, include_recipe=False), runs_dir=tmp_path / "runs")
    (trial,) = result["trials"]
    assert result["folds"] == 3 and len(trial["fold_values"]) == 3 and len(trial["run_dirs"]) == 3
    assert trial["value"] == pytest.approx(sum(trial["fold_values"]) / 3) and trial["std"] >= 0
    held = []
    for run_dir in trial["run_dirs"]:
        splits = json.loads((Path(run_dir) / "data" / "splits.json").read_text())
        held.append(set(splits["validation"]))
        assert len(splits["test"]) == 268 and not set(splits["test"]) & (set(splits["train"]) | set(splits["validation"]))
    assert not (held[0] & held[1] or held[0] & held[2] or held[1] & held[2])  # each row is held out by one fold
    assert sum(map(len, held)) == 1797 - 268  # the training and validation rows, all of them
    assert test_reads == [268] and result["final"]["reproduces_best_trial"] is None  # the final run reads the test split once
    again = tc.search(_recipe(tmp_path, trials=1, folds=3, include_recipe=False), runs_dir=tmp_path / "runs", resume=result["search_dir"])
    assert again["final"] == result["final"] and test_reads == [268]  # resuming a finished search reads the test split no more


def test_a_dataframe_search_keeps_the_label_and_a_broken_recipe_fails_at_once(tmp_path, caplog) -> None:
    from sklearn.datasets import load_diabetes

    df = load_diabetes(as_frame=True).frame
    settings = {"train": {"epochs": 2, "threads": 1}, "evaluate": {"bootstrap": 0},
                "search": {"trials": 1, "final": False, "space": {"train.lr": {"log_uniform": [1e-3, 1e-2]}}}}
    result = tc.search(df, label="target", recipe=settings, runs_dir=tmp_path / "runs")
    assert result["metric"] == "rmse" and result["mode"] == "min" and all(t["status"] == "finished" for t in result["trials"])
    assert "are ignored" not in caplog.text  # trials pass only the settings that were given
    with pytest.raises(RecipeError, match="No label column given"):  # every trial would fail: stop at the first
        tc.search(df, recipe=settings, runs_dir=tmp_path / "runs")
