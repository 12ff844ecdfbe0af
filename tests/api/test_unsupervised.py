"""cluster and detect_anomalies end to end on real data: the examples' recipes, run directories, bundles, errors."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from traincraft.api.unsupervised import cluster, detect_anomalies, load_unsupervised, run_task
from traincraft.cli._rl_commands import render_summary
from traincraft.errors import BundleError, RecipeError, SchemaError
from traincraft.recipe import load_recipe
from traincraft.training import read_metrics

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _plant_module():
    spec = importlib.util.spec_from_file_location("plant_outliers", EXAMPLES / "anomaly" / "plant_outliers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def digits_k10(tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    return cluster(EXAMPLES / "clustering" / "recipe.yaml", recipe={"cluster": {"k": 10}}, name="digits-k10", runs_dir=runs)


def test_digits_k10_beats_scikit_learn_kmeans_in_the_same_run(digits_k10):
    """Acceptance: ARI against the true digits >= scikit-learn KMeans on the same features (defaults, seed 0)."""
    from sklearn.cluster import KMeans as SkKMeans

    from traincraft.api._inputs import sklearn_frame

    model = load_unsupervised(digits_k10.bundle_dir)
    frame = sklearn_frame("digits")
    x = model.space.transform(frame).numpy()
    theirs = adjusted_rand_score(frame["target"], SkKMeans(10, random_state=0).fit(x).labels_)
    ours = digits_k10.metrics["adjusted_rand"]
    assert ours == pytest.approx(adjusted_rand_score(frame["target"], digits_k10.labels))
    assert 0.5 <= theirs <= ours
    assert digits_k10.k == 10 and sum(p["size"] for p in digits_k10.profiles) == 1797


def test_cluster_run_directory_and_bundle(digits_k10):
    root = digits_k10.run_dir
    for name in ("recipe.yaml", "clusters.json", "metrics.jsonl", "run.json", "data/manifest.json", "data/assignments.parquet"):
        assert (root / name).exists(), name
    saved = load_recipe(root / "recipe.yaml")
    assert saved.task == "cluster" and saved.cluster.k == 10 and saved.data.columns["target"].role == "ignore"
    clusters = json.loads((root / "clusters.json").read_text())
    assert clusters["chosen_by"] == "recipe" and len(clusters["profiles"]) == 10
    assert all(len(p["nearest_rows"]) == 5 for p in clusters["profiles"])
    assert all("target" not in [e["column"] for e in p["distinctive"]] for p in clusters["profiles"])
    assert read_metrics(root / "metrics.jsonl")[0]["cluster/k"] == 10
    assignments = pd.read_parquet(root / "data" / "assignments.parquet")
    assert assignments["cluster"].tolist() == digits_k10.labels.tolist()
    from traincraft.api._inputs import sklearn_frame

    frame = sklearn_frame("digits").drop(columns="target")
    predicted = load_unsupervised(digits_k10.bundle_dir).predict(frame.iloc[:300])
    assert predicted["cluster"].tolist() == digits_k10.labels[:300].tolist()
    assert np.allclose(predicted["distance"], assignments["distance"][:300], atol=1e-4)


def test_digits_k_auto_picks_between_8_and_12(tmp_path):
    run = cluster(EXAMPLES / "clustering" / "recipe.yaml", runs_dir=tmp_path)
    assert 8 <= run.k <= 12
    clusters = json.loads((run.run_dir / "clusters.json").read_text())
    assert [s["k"] for s in clusters["scores"]] == list(range(2, 16))
    assert len(read_metrics(run.run_dir / "metrics.jsonl")) == 14


@pytest.fixture(scope="module")
def planted_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("anomaly")
    (root / "recipe.yaml").write_text((EXAMPLES / "anomaly" / "recipe.yaml").read_text())
    _plant_module().main(root / "breast_cancer_planted.csv")
    return detect_anomalies(root / "recipe.yaml", runs_dir=root / "runs")


def test_planted_outliers_in_breast_cancer_reach_roc_auc_09(planted_run):
    """Acceptance: ROC-AUC >= 0.9 on 28 planted outliers among 569 real rows."""
    m = planted_run.metrics
    assert m["known_anomalies"] == 28
    assert m["roc_auc"] >= 0.9
    assert m["flagged"] == int(planted_run.flagged.sum()) and 0.03 < m["flagged_share"] < 0.08


def test_anomaly_run_directory_and_bundle(planted_run):
    root = planted_run.run_dir
    for name in ("anomalies.json", "metrics.jsonl", "checkpoints/best/model.safetensors", "data/splits.json", "data/scores.parquet"):
        assert (root / name).exists(), name
    anomalies = json.loads((root / "anomalies.json").read_text())
    assert len(anomalies["top"]) == 20
    assert anomalies["top"][0]["score"] == pytest.approx(float(planted_run.scores.max()))
    assert all(c["column"] != "planted" for row in anomalies["top"] for c in row["columns"])
    frame = pd.read_csv(root.parent.parent / "breast_cancer_planted.csv")
    predicted = load_unsupervised(planted_run.bundle_dir).predict(frame.drop(columns="planted"))
    assert np.allclose(predicted["score"], planted_run.scores, rtol=1e-5)
    assert predicted["is_anomaly"].tolist() == planted_run.flagged.tolist()


def test_a_label_is_refused_and_the_reference_must_exist(tmp_path):
    frame = pd.DataFrame({"a": np.arange(30.0), "b": np.arange(30.0) ** 2, "kind": ["x", "y"] * 15})
    with pytest.raises(RecipeError, match="set cluster.reference: kind instead"):
        cluster(frame, recipe={"data": {"label": "kind"}}, runs_dir=tmp_path)
    with pytest.raises(SchemaError, match="Did you mean 'kind'"):
        detect_anomalies(frame, recipe={"anomaly": {"reference": "kinds"}}, runs_dir=tmp_path)
    with pytest.raises(RecipeError, match="task: regression"):
        cluster(frame, recipe={"task": "regression"}, runs_dir=tmp_path)
    assert not any(tmp_path.iterdir())  # nothing half-made is left behind


def test_reference_column_is_kept_out_of_the_features_even_when_not_declared(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": np.r_[rng.normal(0, 1, 40), rng.normal(8, 1, 40)], "b": rng.normal(0, 1, 80), "group": [0] * 40 + [1] * 40})
    run = cluster(frame, recipe={"cluster": {"k": 2, "reference": "group"}, "train": {"threads": 1}}, runs_dir=tmp_path)
    assert run.metrics["adjusted_rand"] == 1.0
    assert load_unsupervised(run.bundle_dir).input_columns == ["a", "b"]


def test_run_task_dispatches_by_task_and_refuses_resume(tmp_path):
    from traincraft.recipe import Recipe

    frame = pd.DataFrame({"a": np.arange(20.0), "b": np.arange(20.0) % 3})
    cfg = Recipe.model_validate({"task": "cluster", "cluster": {"k": 2}, "train": {"threads": 1}})
    run = run_task(cfg, frame, runs_dir=tmp_path, name="dispatched")
    assert run.run_dir.name == "dispatched" and run.k == 2
    with pytest.raises(RecipeError, match="--resume"):
        run_task(cfg, frame, runs_dir=tmp_path, resume=tmp_path / "dispatched")


def test_load_unsupervised_refuses_other_bundles(tmp_path, digits_k10):
    with pytest.raises(BundleError, match="missing"):
        load_unsupervised(tmp_path)
    (tmp_path / "bundle.json").write_text(json.dumps({"format": "traincraft-policy"}))
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(BundleError, match="traincraft-policy bundle, not a cluster or anomaly bundle"):
        load_unsupervised(tmp_path)
    weights = digits_k10.bundle_dir / "model.safetensors"
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "bundle.json").write_text((digits_k10.bundle_dir / "bundle.json").read_text())
    (copy / "model.safetensors").write_bytes(weights.read_bytes()[:-4] + b"\0\0\0\0")
    with pytest.raises(BundleError, match="checksum"):
        load_unsupervised(copy)


def test_summaries_render_for_the_cli(digits_k10, planted_run, capsys):
    render_summary(digits_k10.summary())
    render_summary(planted_run.summary())
    text = capsys.readouterr().out
    assert "k = 10" in text and "adjusted_rand" in text
    assert "flags" in text and "roc_auc" in text
    json.dumps(digits_k10.summary()), json.dumps(planted_run.summary())  # what --json prints
