"""traincraft.load on the bundles of task: cluster, anomaly and rl runs: predictions, checksums, no training code."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import traincraft as tc
from traincraft.api.unsupervised import cluster, detect_anomalies
from traincraft.errors import BundleError, RecipeError, SchemaError
from traincraft.serving import AnomalyPredictor, ClusterPredictor


def _blobs(n: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    half = n // 2
    return pd.DataFrame({
        "a": np.r_[rng.normal(0, 1, half), rng.normal(10, 1, n - half)],
        "b": rng.normal(0, 1, n),
        "colour": (["red"] * half) + (["blue"] * (n - half)),
    })


@pytest.fixture(scope="module")
def cluster_run(tmp_path_factory):
    return cluster(_blobs(), recipe={"cluster": {"k": 2}, "train": {"threads": 1}}, runs_dir=tmp_path_factory.mktemp("runs"))


@pytest.fixture(scope="module")
def anomaly_run(tmp_path_factory):
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"x": rng.normal(0, 1, 200), "y": rng.normal(0, 1, 200)})
    frame["z"] = frame["x"] + frame["y"] + rng.normal(0, 0.05, 200)  # normal rows keep z = x + y
    recipe = {"anomaly": {"contamination": 0.05, "hidden": [8], "bottleneck": 2}, "train": {"epochs": 30, "threads": 1, "lr": 0.01}}
    return detect_anomalies(frame, recipe=recipe, runs_dir=tmp_path_factory.mktemp("runs"))


@pytest.fixture(scope="module")
def policy_run(tmp_path_factory):
    pytest.importorskip("gymnasium")
    from traincraft.api.rl import train_rl

    recipe = {"task": "rl", "seed": 0, "rl": {"env": "CartPole-v1", "total_steps": 128, "n_envs": 2, "hidden": [8],
                                               "eval_episodes": 2, "ppo": {"rollout_steps": 32, "epochs": 1, "minibatch_size": 32}}}
    return train_rl(recipe, runs_dir=tmp_path_factory.mktemp("runs"))


def test_a_cluster_bundle_predicts_clusters_and_distances(cluster_run):
    model = tc.load(cluster_run.bundle_dir)
    assert isinstance(model, ClusterPredictor) and model.k == 2 and model.input_columns == ["a", "b", "colour"]
    frame = _blobs()
    out = model.predict(frame)
    assert out["cluster"].tolist() == cluster_run.labels.tolist()
    distances = model.distances(frame)  # (N, k)
    assert distances.shape == (60, 2)
    assert np.allclose(out["distance"], distances.min(axis=1), atol=1e-5)
    one = model.predict({"a": 10.0, "b": 0.0, "colour": "blue"})
    assert one["cluster"].iloc[0] == out["cluster"].iloc[-1]
    with pytest.raises(SchemaError, match="lacks 1 column the model needs: colour"):
        model.predict(frame.drop(columns="colour"))
    with pytest.raises(SchemaError, match="a pandas DataFrame, a dict"):
        model.predict("a=1")
    assert tc.load(cluster_run.run_dir).k == 2  # the run directory works too


def test_an_anomaly_bundle_gives_scores_and_flags(anomaly_run):
    model = tc.load(anomaly_run.bundle_dir)
    assert isinstance(model, AnomalyPredictor) and model.threshold == pytest.approx(anomaly_run.threshold)
    normal = pd.DataFrame({"x": [0.1, -0.5], "y": [0.3, 0.2], "z": [0.4, -0.3]})
    broken = pd.DataFrame({"x": [0.1], "y": [0.3], "z": [6.0]})  # z far from x + y
    scores = model.predict(pd.concat([normal, broken], ignore_index=True))
    assert list(scores.columns) == ["score", "is_anomaly"]
    assert scores["score"].iloc[2] > scores["score"].iloc[:2].max()
    assert bool(scores["is_anomaly"].iloc[2]) and not scores["is_anomaly"].iloc[:2].any()
    with pytest.raises(SchemaError, match="z"):
        model.predict(normal.drop(columns="z"))


def test_a_policy_bundle_gives_actions(policy_run):
    from traincraft.rl.bundle import PolicyBundle

    policy = tc.load(policy_run.bundle_dir)
    assert isinstance(policy, PolicyBundle) and policy.env_id == "CartPole-v1"
    obs = np.zeros((5, 4), dtype=np.float32)
    actions = policy.predict(obs)
    assert actions.shape == (5,) and actions.dtype == np.int64 and set(actions.tolist()) <= {0, 1}
    assert policy.predict(obs[0]) == actions[0]  # one observation, one action
    assert np.array_equal(actions, policy.policy.act(obs))
    with pytest.raises(SchemaError, match="4 numbers each"):
        policy.predict(np.zeros((2, 3)))
    with pytest.raises(SchemaError, match="NaN or inf"):
        policy.predict(np.full(4, np.nan))
    with pytest.raises(SchemaError, match="must be numbers"):
        policy.predict(["left", "right", "up", "down"])
    with pytest.raises(RecipeError, match="runtime='torch'"):
        tc.load(policy_run.bundle_dir, runtime="onnx")


def test_changed_weights_are_refused_for_every_kind(cluster_run, anomaly_run, policy_run, tmp_path):
    for name, run in (("cluster", cluster_run), ("anomaly", anomaly_run), ("policy", policy_run)):
        copy = tmp_path / name
        copy.mkdir()
        (copy / "bundle.json").write_text((run.bundle_dir / "bundle.json").read_text())
        weights = (run.bundle_dir / "model.safetensors").read_bytes()
        (copy / "model.safetensors").write_bytes(weights[:-1] + bytes([weights[-1] ^ 0x40]))  # one weight changed
        with pytest.raises(BundleError, match="checksum"):
            tc.load(copy)


def test_an_old_or_edited_cluster_bundle_is_refused(cluster_run, tmp_path):
    meta = json.loads((cluster_run.bundle_dir / "bundle.json").read_text())
    (tmp_path / "model.safetensors").write_bytes((cluster_run.bundle_dir / "model.safetensors").read_bytes())
    (tmp_path / "bundle.json").write_text(json.dumps({**meta, "format_version": 1}))
    with pytest.raises(BundleError, match="format version 1"):
        tc.load(tmp_path)
    (tmp_path / "bundle.json").write_text(json.dumps({k: v for k, v in meta.items() if k != "weights_sha256"}))
    with pytest.raises(BundleError, match="no weights_sha256"):
        tc.load(tmp_path)


def test_loading_any_kind_imports_no_training_code(cluster_run, anomaly_run, policy_run):
    """A served model carries no training code (DESIGN.md): checked in a fresh interpreter."""
    script = (
        "import sys, traincraft as tc\n"
        f"for b in {[str(cluster_run.bundle_dir), str(anomaly_run.bundle_dir), str(policy_run.bundle_dir)]!r}: tc.load(b)\n"
        "bad = sorted(m for m in sys.modules if m.startswith('traincraft.training') or m == 'gymnasium')\n"
        "assert not bad, bad\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def test_supervised_only_commands_refuse_other_kinds_and_predict_scores_files(cluster_run, anomaly_run, policy_run, tmp_path):
    from traincraft.api.predict import predict_file
    from traincraft.api.serve import serve_summary
    from traincraft.serving.predictor import load_predictor

    with pytest.raises(BundleError, match="traincraft serve needs the bundle of a supervised model; .* task: cluster bundle"):
        serve_summary(cluster_run.bundle_dir)
    with pytest.raises(BundleError, match="task: rl bundle. Instead, .* traincraft play"):
        load_predictor(policy_run.bundle_dir, purpose="traincraft evaluate")
    source = tmp_path / "rows.csv"
    _blobs().to_csv(source, index=False)
    done = predict_file(cluster_run.bundle_dir, source, tmp_path / "clusters.csv")
    assert done["rows"] == 60
    assert pd.read_csv(tmp_path / "clusters.csv")["cluster"].tolist() == cluster_run.labels.tolist()
    with pytest.raises(BundleError, match="policy .* traincraft play"):
        predict_file(policy_run.bundle_dir, source, tmp_path / "actions.csv")


def test_the_http_server_refuses_other_kinds_at_startup(cluster_run, anomaly_run, policy_run):
    """create_app refuses a cluster, anomaly or policy bundle (path or loaded) before serving, naming its kind."""
    pytest.importorskip("fastapi")
    from traincraft.serving.server import create_app

    for run, kind, hint in ((cluster_run, "cluster", "traincraft predict"), (anomaly_run, "anomaly", "traincraft predict"),
                            (policy_run, "rl", "traincraft play")):
        for given in (run.bundle_dir, tc.load(run.bundle_dir)):
            with pytest.raises(BundleError, match=f"Serving over HTTP needs the bundle of a supervised model; .* task: {kind} bundle. Instead, .*{hint}"):
                create_app(given)
    with pytest.raises(RecipeError, match="Serving over HTTP takes a bundle path or a model from traincraft.load; got int"):
        create_app(3)


def test_info_describes_every_kind(cluster_run, anomaly_run, policy_run, capsys):
    from traincraft.api.info import bundle_info
    from traincraft.cli import main

    clusters = bundle_info(cluster_run.bundle_dir)
    assert clusters["task"] == "cluster" and clusters["parameters"] == 2 * tc.load(cluster_run.bundle_dir).model.dim  # k centres
    assert [c["name"] for c in clusters["inputs"]] == ["a", "b", "colour"] and clusters["metrics"]["k"] == 2
    anomaly = bundle_info(anomaly_run.bundle_dir)
    assert anomaly["task"] == "anomaly" and anomaly["metrics"]["threshold"] == pytest.approx(anomaly_run.threshold)
    policy = bundle_info(policy_run.bundle_dir)
    assert policy["task"] == "rl" and policy["data"]["env"]["id"] == "CartPole-v1" and "4 numbers" in policy["inputs"][0]["type"]
    for described, run in ((clusters, cluster_run), (anomaly, anomaly_run)):  # the fingerprint of the table trained on
        manifest = json.loads((run.run_dir / "data" / "manifest.json").read_text())
        assert described["data"]["fingerprint"] == manifest["fingerprint"] and manifest["fingerprint"].startswith("sha256:")
    for run in (cluster_run, anomaly_run, policy_run):
        main(["info", str(run.bundle_dir)])
    text = " ".join(capsys.readouterr().out.split())
    assert "cluster" in text and "anomaly" in text and "environment CartPole-v1" in text and "of 'None'" not in text
    assert "fingerprint None" not in text
