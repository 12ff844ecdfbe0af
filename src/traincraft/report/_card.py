"""The model card as data: everything the report shows, read from a run directory.

Sources (all written by ``traincraft train``; each optional except recipe.yaml): recipe.yaml,
run.json, metrics.jsonl, data/manifest.json, data/splits.json, audit.json, bundle/bundle.json,
evaluation.json (:mod:`traincraft.evaluation.run_evaluation`, supervised runs only) and curve.json
(``traincraft curve``). Runs without labels write their own file instead of evaluation.json:
clusters.json, anomalies.json, episodes.json (RL). The overfitting verdict is computed here, from
the learning curves.
"""

from __future__ import annotations

import json
import logging
import math
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from traincraft._version import __version__
from traincraft.errors import RecipeError
from traincraft.evaluation import EVALUATION_FILE, diagnose_learning_curves, jsonable

__all__ = ["build_card", "read_jsonl", "CARD_FORMAT_VERSION", "CURVE_FILE", "HEADLINE", "UNSUPERVISED_TASKS"]

log = logging.getLogger(__name__)

CARD_FORMAT_VERSION = 2  # 2: an RL card holds rl.episodes (from episodes.json), no longer rl.evaluation
CURVE_FILE = "curve.json"
HEADLINE = {  # the metrics a card leads with, in this order
    "binary": ["accuracy", "balanced_accuracy", "positive_f1", "roc_auc", "pr_auc", "log_loss", "brier", "ece"],
    "multiclass": ["accuracy", "balanced_accuracy", "macro_f1", "roc_auc", "pr_auc", "log_loss", "brier", "ece"],
    "regression": ["mae", "rmse", "r2"],
    "cluster": ["k", "silhouette", "adjusted_rand", "normalized_mutual_info", "inertia"],
    "anomaly": ["roc_auc", "average_precision", "precision_at_threshold", "recall_at_threshold", "threshold", "flagged", "flagged_share"],
    "rl": ["eval_return_mean", "eval_return_std", "eval_return_min", "eval_return_max", "eval_episodes", "env_steps"],
}
UNSUPERVISED_TASKS = ("cluster", "anomaly", "rl")
CLUSTERS_FILE = "clusters.json"  # written by traincraft.api.unsupervised.cluster
ANOMALIES_FILE = "anomalies.json"  # written by traincraft.api.unsupervised.detect_anomalies
EPISODES_FILE = "episodes.json"  # written by traincraft.api.rl.train_rl (evaluation.json is supervised only)
REWARD_KEYS = ("rl/steps", "rl/episode_return", "rl/eval_return")  # the metrics.jsonl keys the reward curves plot
ECE_WARN = 0.05  # top-label ECE above 5 points: probabilities should not be read as chances without recalibration
WIDE_INTERVAL = 0.05  # a 95% interval wider than this (e.g. accuracy ±2.5 points) is worth saying


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Records of a JSON-lines file; unreadable lines (a kill mid-write) are skipped with a warning."""
    if not path.exists():
        return []
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            log.warning("Skipping unreadable line %d of %s.", number, path)
    return records


def _read_json(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        log.warning("%s is not valid JSON (%s); the report leaves it out.", path, exc)
        return None


def _entropy(counts: list[int]) -> float | None:
    total = sum(counts)
    if total <= 0:
        return None
    return -sum(c / total * math.log(c / total) for c in counts if c > 0)


def _baseline_loss(task: str, evaluation: dict | None) -> float | None:
    """Loss of predicting the label distribution: its entropy (classification), or 1.0 for the
    standardised regression target (its variance)."""
    if task == "regression":
        return 1.0
    if evaluation and evaluation.get("test", {}).get("per_class"):
        return _entropy([c["support"] for c in evaluation["test"]["per_class"]])
    return None


def build_card(run_dir: str | Path) -> dict[str, Any]:
    """The card of the run in ``run_dir`` as plain JSON-able data."""
    root = Path(run_dir)
    recipe_path = root / "recipe.yaml"
    if not root.is_dir():
        raise RecipeError(f"Run directory {root} does not exist; pass the runs/<name> folder of a training run.")
    if not recipe_path.exists():
        raise RecipeError(f"{root} is not a traincraft run directory (no recipe.yaml in it).")
    recipe = yaml.safe_load(recipe_path.read_text(encoding="utf-8")) or {}
    summary = _read_json(root / "run.json") or {}
    bundle = _read_json(root / "bundle" / "bundle.json") or {}
    manifest = _read_json(root / "data" / "manifest.json")
    splits = _read_json(root / "data" / "splits.json")
    audit = _read_json(root / "audit.json")
    curve = _read_json(root / CURVE_FILE)
    history = read_jsonl(root / "metrics.jsonl")
    task = summary.get("task") or bundle.get("task") or recipe.get("task")
    if task in UNSUPERVISED_TASKS:  # each writes its own file (clusters, anomalies, episodes); evaluation.json is supervised
        return _unsupervised_card(root, task, recipe, summary, bundle, manifest, splits, history)
    evaluation = _read_json(root / EVALUATION_FILE)
    task = task or (evaluation or {}).get("task")
    train_cfg = recipe.get("train", {})
    model_cfg = recipe.get("model", {})
    early = train_cfg.get("early_stopping", {}).get("enabled", False)
    diagnosis = diagnose_learning_curves(
        history,
        best_epoch=summary.get("best_epoch"),
        restored_best=bool(early),
        baseline_loss=_baseline_loss(task, evaluation),
        settings={
            "dropout": model_cfg.get("dropout"),
            "weight_decay": train_cfg.get("weight_decay"),
            "hidden": model_cfg.get("hidden"),
            "epochs": train_cfg.get("epochs"),
            "early_stopping": early,
        },
    )
    data = recipe.get("data", {})
    card: dict[str, Any] = {
        "format": "traincraft-model-card",
        "format_version": CARD_FORMAT_VERSION,
        "generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "generated_by": f"traincraft {__version__}",
        "run_dir": str(root),
        "model": {
            "name": summary.get("name") or recipe.get("name") or root.name,
            "task": task,
            "label": data.get("label"),
            "classes": (evaluation or {}).get("classes") or bundle.get("label_codec", {}).get("classes"),
            "positive_label": bundle.get("positive_label"),
            "created": bundle.get("created"),
            "architecture": {"hidden": model_cfg.get("hidden"), "activation": model_cfg.get("activation"), "dropout": model_cfg.get("dropout")},
            "versions": bundle.get("versions", {}),
        },
        "intended_use": recipe.get("description")
        or "Not stated: add a `description:` to the recipe saying what the model is for and for whom.",
        "data": {
            "source": data.get("source") or (manifest or {}).get("source"),
            "fingerprint": (manifest or {}).get("fingerprint") or bundle.get("data", {}).get("fingerprint"),
            "rows_in": (manifest or {}).get("rows_in"),
            "rows_out": (manifest or {}).get("rows_out"),
            "preparation": (manifest or {}).get("steps", []),
            "sensitive": data.get("sensitive", []),
            "audit": _audit_summary(audit),
        },
        "splits": {
            "method": (splits or {}).get("method") or recipe.get("split", {}).get("method"),
            "seed": (splits or {}).get("seed"),
            "sizes": summary.get("splits") or {k: len(v) for k, v in (splits or {}).items() if isinstance(v, list)},
            "fractions": {k: recipe.get("split", {}).get(k) for k in ("train", "validation", "test")},
        },
        "training": {
            "recipe": recipe,
            "epochs": summary.get("epochs"),
            "best_epoch": summary.get("best_epoch"),
            "stopped_early": summary.get("stopped_early"),
            "lr": summary.get("lr"),
            "seconds": summary.get("train_seconds"),
            "hardware": {"device": summary.get("device"), "python": bundle.get("versions", {}).get("python"),
                         "torch": bundle.get("versions", {}).get("torch")},
            "history": history,
        },
        "learning_curves": diagnosis,
        "evaluation": evaluation,
        "headline": _headline(task, evaluation, summary),
        "data_curve": curve,
        "checks": ((evaluation or {}).get("fairness") or {}).get("checks", []),
    }
    card["limitations"] = _limitations(card, evaluation, diagnosis)
    return jsonable(card)


def _unsupervised_card(
    root: Path,
    task: str,
    recipe: dict[str, Any],
    summary: dict[str, Any],
    bundle: dict[str, Any],
    manifest: dict | None,
    splits: dict | None,
    history: list[dict[str, Any]],
) -> dict[str, Any]:
    """The card of a ``task: cluster | anomaly | rl`` run: what it shares with a supervised card, plus its own section."""
    data = recipe.get("data", {})
    train_cfg = recipe.get("train", {})
    card: dict[str, Any] = {
        "format": "traincraft-model-card",
        "format_version": CARD_FORMAT_VERSION,
        "generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "generated_by": f"traincraft {__version__}",
        "run_dir": str(root),
        "model": {
            "name": summary.get("name") or recipe.get("name") or root.name,
            "task": task,
            "label": None,
            "classes": None,
            "positive_label": None,
            "created": bundle.get("created"),
            "architecture": bundle.get("model") if task != "rl" else bundle.get("policy"),
            "versions": bundle.get("versions", {}),
        },
        "intended_use": recipe.get("description")
        or "Not stated: add a `description:` to the recipe saying what the model is for and for whom.",
        "data": {
            "source": data.get("source") or (manifest or {}).get("source"),
            "fingerprint": (manifest or {}).get("fingerprint"),
            "rows_in": (manifest or {}).get("rows_in"),
            "rows_out": (manifest or {}).get("rows_out"),
            "preparation": (manifest or {}).get("steps", []),
            "sensitive": data.get("sensitive", []),
            "audit": None,
        },
        "splits": {
            "method": (splits or {}).get("method"),
            "seed": (splits or {}).get("seed"),
            "sizes": {k: len(v) for k, v in (splits or {}).items() if isinstance(v, list)},
            "fractions": {},
        },
        "training": {
            "recipe": recipe,
            "epochs": summary.get("epochs"),
            "best_epoch": summary.get("best_epoch"),
            "stopped_early": None,
            "lr": train_cfg.get("lr") if task == "anomaly" else None,
            "seconds": summary.get("seconds"),
            "hardware": {"device": summary.get("device"), "python": bundle.get("versions", {}).get("python"),
                         "torch": bundle.get("versions", {}).get("torch")},
            "history": history,
        },
        "learning_curves": {"verdict": "not_applicable", "summary": f"There is no held-out loss to diagnose for task: {task}.",
                            "evidence": [], "advice": [], "from_epoch": None},
        "evaluation": None,
        "headline": _headline(task, None, summary),
        "data_curve": None,
        "checks": [],
    }
    if task == "anomaly":
        card["learning_curves"] = diagnose_learning_curves(
            history, best_epoch=summary.get("best_epoch"), restored_best=True, baseline_loss=None,
            settings={"epochs": train_cfg.get("epochs"), "early_stopping": True},
        )
        card["anomalies"] = _read_json(root / ANOMALIES_FILE)
    elif task == "cluster":
        card["clusters"] = _read_json(root / CLUSTERS_FILE)
    else:
        card["rl"] = _rl_section(recipe, summary, _read_json(root / EPISODES_FILE), history)
    card["limitations"] = _unsupervised_limitations(card)
    return jsonable(card)


def _rl_section(recipe: dict[str, Any], summary: dict[str, Any], episodes: dict | None, history: list[dict[str, Any]]) -> dict[str, Any]:
    """The environment, the final evaluation episodes (episodes.json) and the reward curves (from metrics.jsonl)."""
    rl = recipe.get("rl", {})
    curve = [{k: r[k] for k in ("epoch", *REWARD_KEYS) if r.get(k) is not None} for r in history if r.get("rl/steps") is not None]
    returns = [r["rl/episode_return"] for r in curve if "rl/episode_return" in r]
    return {
        "env": rl.get("env"),
        "env_kwargs": rl.get("env_kwargs") or {},
        "algorithm": rl.get("algorithm"),
        "n_envs": rl.get("n_envs"),
        "total_steps": rl.get("total_steps"),
        "env_steps": summary.get("env_steps"),
        "iterations": summary.get("iterations"),
        "episodes": summary.get("episodes"),
        "env_steps_per_s": summary.get("env_steps_per_s"),
        "resumed_from_iteration": summary.get("resumed_from_iteration"),
        "first_return": returns[0] if returns else None,
        "best_training_return": max(returns) if returns else None,
        "episodes": episodes,
        "curve": curve,
    }


def _unsupervised_limitations(card: dict[str, Any]) -> list[str]:
    task = card["model"]["task"]
    if task == "rl":
        rl = card["rl"]
        out = [f"Evaluated in the environment it was trained in ({rl['env']}{', ' + str(rl['env_kwargs']) if rl['env_kwargs'] else ''}); "
               "a changed environment (other physics, noise, time limits) may need retraining."]
        ev = rl.get("episodes") or {}
        if ev.get("eval_episodes", 0) < 20:
            out.append(f"Only {ev.get('eval_episodes', 0)} evaluation episodes: the mean return is a rough estimate.")
        if ev.get("eval_return_std") and ev.get("eval_return_mean") and abs(ev["eval_return_std"]) > 0.2 * abs(ev["eval_return_mean"]):
            out.append(f"Returns vary widely between episodes (std {ev['eval_return_std']:.1f} around {ev['eval_return_mean']:.1f}).")
        return out
    source = card["data"]["source"] or "the training data"
    if task == "cluster":
        clusters = card.get("clusters") or {}
        out = [f"Clusters describe {source} as it was; they are groups of similar rows, not classes, and new data may "
               "group differently."]
        sil = (clusters.get("metrics") or {}).get("silhouette")
        if sil is not None and sil < 0.25:
            out.append(f"The clusters overlap (silhouette {sil:.3f}; below 0.25 there is little separated structure): "
                       "read the profiles as tendencies.")
        small = [p["cluster"] for p in clusters.get("profiles", []) if p.get("share", 1) < 0.02]
        if small:
            out.append(f"Cluster(s) {', '.join(map(str, small))} hold under 2% of the rows each; they may be outliers rather than groups.")
        return out
    anomalies = card.get("anomalies") or {}
    metrics = anomalies.get("metrics") or {}
    out = [f"The threshold flags the {100 * (anomalies.get('contamination') or 0):.1f}% highest-scoring training rows of "
           f"{source}; it is a share, not a proof that a row is wrong: check flagged rows before acting on them."]
    if "roc_auc" not in metrics:
        out.append("No known anomalies (anomaly.reference) to check the scores against: their quality is unmeasured.")
    return out


def _audit_summary(audit: dict | None) -> dict[str, Any] | None:
    if audit is None:
        return None
    findings = audit.get("findings", audit if isinstance(audit, list) else [])
    if not isinstance(findings, list):
        return {"raw": audit}
    return {"count": len(findings), "findings": findings[:50]}


def _headline(task: str | None, evaluation: dict | None, summary: dict) -> list[dict[str, Any]]:
    """Headline test metrics in a fixed order, each with its bootstrap interval when there is one."""
    test = (evaluation or {}).get("test") or {}
    metrics = test.get("metrics") or summary.get("metrics") or {}
    intervals = test.get("intervals") or {}
    rows = []
    for name in HEADLINE.get(task or "", list(metrics)):
        if name not in metrics or metrics[name] is None:
            continue
        interval = intervals.get(name) or {}
        rows.append({"metric": name, "value": metrics[name], "low": interval.get("low"), "high": interval.get("high")})
    return rows


def _limitations(card: dict, evaluation: dict | None, diagnosis: dict) -> list[str]:
    """What a reader must keep in mind, derived from the numbers rather than boilerplate."""
    out = [
        f"Evaluated on {card['splits']['sizes'].get('test', 0) if card['splits']['sizes'] else 0} held-out rows drawn from "
        f"the same source ({card['data']['source'] or 'the training data'}); performance on data from elsewhere or later in time is unknown."
    ]
    if evaluation is None:
        out.append("No evaluation.json: the detailed test evaluation is missing (the run predates it or had no test split).")
        return out
    for row in card["headline"]:
        if row["low"] is not None and row["high"] is not None and row["high"] - row["low"] > WIDE_INTERVAL and row["metric"] in ("accuracy", "r2", "roc_auc"):
            out.append(f"The test {row['metric']} is uncertain: its 95% interval is {row['low']:.3f} to {row['high']:.3f}; more test rows would narrow it.")
    ece = (evaluation.get("test", {}).get("metrics") or {}).get("ece")
    if ece is not None and ece > ECE_WARN:
        out.append(f"Probabilities are miscalibrated (ECE {ece:.3f}): do not read them as chances without recalibration.")
    if diagnosis["verdict"] in ("overfitting", "underfitting"):
        out.append(diagnosis["summary"])
    fairness = evaluation.get("fairness")
    if not fairness:
        out.append("Fairness was not assessed: the recipe names no data.sensitive columns.")
    else:
        if fairness["warnings"]:
            out.append(f"{len(fairness['warnings'])} group(s) are too small to judge (fewer than {fairness['min_group_size']} test rows); their numbers are noise.")
        failed = [c for c in fairness["checks"] if c.get("passed") is False]
        for c in failed:
            out.append(f"Fairness check failed: {c['attribute']} {c['measure']} = {c['value']:.3f} (limit {c['limit']}).")
    slices = evaluation.get("slices")
    if slices and slices.get("worst"):
        worst = slices["worst"][0]
        if worst["gap"] < -WIDE_INTERVAL:
            out.append(f"Weakest slice: {worst['slice']} ({worst['rows']} rows) has {slices['metric']} {worst['metric']:.3f} against {slices['overall']:.3f} overall.")
    return out
