"""The model card of task: cluster, anomaly and rl runs: cluster profiles, the most anomalous rows, reward curves.

Each run is small and real (digits, breast cancer with planted outliers, CartPole); the report is
written by the run and rebuilt by ``traincraft report RUN_DIR``.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from traincraft.api.unsupervised import cluster, detect_anomalies
from traincraft.report import CARD_FILE, REPORT_FILE, build_card
from traincraft.training import read_metrics

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _section_ids(html: str) -> list[str]:
    return re.findall(r'<section id="([a-z-]+)">', html)


def _images(html: str) -> int:
    return html.count('src="data:image/png;base64,')


@pytest.fixture(scope="module")
def digits_clusters(tmp_path_factory):
    recipe = {"cluster": {"k": 10, "n_init": 2}}
    return cluster(EXAMPLES / "clustering" / "recipe.yaml", recipe=recipe, name="digits", runs_dir=tmp_path_factory.mktemp("runs"))


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    root = tmp_path_factory.mktemp("anomaly")
    spec = importlib.util.spec_from_file_location("plant_outliers", EXAMPLES / "anomaly" / "plant_outliers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(root / "breast_cancer_planted.csv")
    (root / "recipe.yaml").write_text((EXAMPLES / "anomaly" / "recipe.yaml").read_text())
    return detect_anomalies(root / "recipe.yaml", recipe={"train": {"epochs": 40}}, runs_dir=root / "runs")


@pytest.fixture(scope="module")
def cartpole(tmp_path_factory):
    pytest.importorskip("gymnasium")
    from traincraft.api.rl import train_rl

    recipe = {"task": "rl", "seed": 0, "name": "cart", "rl": {
        "env": "CartPole-v1", "total_steps": 1024, "n_envs": 4, "hidden": [16], "eval_episodes": 3, "eval_every": 512,
        "ppo": {"rollout_steps": 64, "epochs": 2, "minibatch_size": 64}}}
    return train_rl(recipe, runs_dir=tmp_path_factory.mktemp("runs"))


def test_a_cluster_report_shows_profiles_typical_values_and_nearest_rows(digits_clusters):
    root = digits_clusters.run_dir
    html = (root / REPORT_FILE).read_text(encoding="utf-8")
    assert _section_ids(html) == ["intended-use", "data", "training", "quality", "clusters", "limitations"]
    for c in range(10):
        assert f'<h3 id="cluster-{c}">Cluster {c}: ' in html
    card = json.loads((root / CARD_FILE).read_text())
    assert card["model"]["task"] == "cluster" and card["evaluation"] is None
    profiles = card["clusters"]["profiles"]
    assert [p["size"] for p in profiles] == [int((digits_clusters.labels == c).sum()) for c in range(10)]
    first = profiles[0]
    assert len(first["nearest"]) == 5 and first["nearest"][0]["distance"] <= first["nearest"][-1]["distance"]
    shown = list(first["nearest"][0]["values"])
    assert shown == [e["column"] for e in first["distinctive"][:6]]  # the cluster's most distinctive pixels
    assert f"<td>{first['size']}</td>" in html and f">{first['nearest'][0]['row_id']}</td>" in html
    assert {h["metric"] for h in card["headline"]} >= {"k", "silhouette", "adjusted_rand"}
    assert "adjusted rand" in html and "test split" not in html


def test_an_anomaly_report_shows_the_threshold_and_the_most_anomalous_rows(planted):
    root = planted.run_dir
    html = (root / REPORT_FILE).read_text(encoding="utf-8")
    assert _section_ids(html) == ["intended-use", "data", "splits", "training", "learning-curves", "quality", "anomalies", "limitations"]
    card = json.loads((root / CARD_FILE).read_text())
    anomalies = card["anomalies"]
    assert anomalies["threshold"] == pytest.approx(planted.threshold)
    assert f"Threshold <b>{planted.threshold:.5f}</b>" in html
    top = anomalies["top"]
    assert [t["row_id"] for t in top] == [int(i) for i in planted.scores.argsort()[::-1][:20]]
    assert all(f'<td class="l">{t["row_id"]}</td><td>{t["score"]:.5f}</td>' in html for t in top)
    assert sum(anomalies["histogram"]["counts"]) == 569
    assert _images(html) == 2  # learning curves and the score histogram
    assert {h["metric"] for h in card["headline"]} >= {"roc_auc", "threshold", "flagged"}


def test_an_rl_report_shows_the_reward_curves_from_metrics_jsonl(cartpole):
    root = cartpole.run_dir
    html = (root / REPORT_FILE).read_text(encoding="utf-8")
    assert _section_ids(html) == ["intended-use", "environment", "training", "reward-curves", "quality", "limitations"]
    card = json.loads((root / CARD_FILE).read_text())
    history = read_metrics(root / "metrics.jsonl")
    curve = card["rl"]["curve"]
    assert [r["rl/steps"] for r in curve] == [r["rl/steps"] for r in history] == [256, 512, 768, 1024]
    assert [r["rl/episode_return"] for r in curve] == [r["rl/episode_return"] for r in history]
    assert [r["rl/steps"] for r in curve if "rl/eval_return" in r] == [512, 1024]
    assert card["rl"]["episodes"]["returns"] == cartpole.result.eval_returns and card["evaluation"] is None
    assert "Final evaluation: 3 episodes with deterministic actions" in html
    assert '<img alt="reward curves"' in html and "CartPole-v1" in html
    assert card["headline"][0] == {"metric": "eval_return_mean", "value": cartpole.metrics["eval_return_mean"], "low": None, "high": None}


@pytest.mark.parametrize("which", ["digits_clusters", "planted", "cartpole"])
def test_traincraft_report_rebuilds_the_same_sections(which, request):
    from traincraft.cli._app import app

    root = request.getfixturevalue(which).run_dir
    before = _section_ids((root / REPORT_FILE).read_text(encoding="utf-8"))
    card_before = json.loads((root / CARD_FILE).read_text())
    (root / REPORT_FILE).unlink()
    (root / CARD_FILE).unlink()
    result = CliRunner().invoke(app, ["report", str(root)])
    assert result.exit_code == 0, result.output
    assert "test " not in result.output and "learning curves: not applicable" not in result.output
    assert _section_ids((root / REPORT_FILE).read_text(encoding="utf-8")) == before
    card = json.loads((root / CARD_FILE).read_text())
    for key in ("clusters", "anomalies", "rl"):
        assert card.get(key) == card_before.get(key)
    assert build_card(root)["headline"] == card["headline"]
