"""The model card as data: everything the report shows, read from a run directory.

Sources (all written by ``traincraft train``; each optional except recipe.yaml): recipe.yaml,
run.json, metrics.jsonl, data/manifest.json, data/splits.json, audit.json, bundle/bundle.json,
evaluation.json (:mod:`traincraft.evaluation.run_evaluation`) and curve.json (``traincraft curve``).
The overfitting verdict is computed here, from the learning curves.
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

__all__ = ["build_card", "read_jsonl", "CARD_FORMAT_VERSION", "CURVE_FILE", "HEADLINE"]

log = logging.getLogger(__name__)

CARD_FORMAT_VERSION = 1
CURVE_FILE = "curve.json"
HEADLINE = {  # the metrics a card leads with, in this order
    "binary": ["accuracy", "balanced_accuracy", "positive_f1", "roc_auc", "pr_auc", "log_loss", "brier", "ece"],
    "multiclass": ["accuracy", "balanced_accuracy", "macro_f1", "roc_auc", "pr_auc", "log_loss", "brier", "ece"],
    "regression": ["mae", "rmse", "r2"],
}
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
    evaluation = _read_json(root / EVALUATION_FILE)
    curve = _read_json(root / CURVE_FILE)
    history = read_jsonl(root / "metrics.jsonl")
    task = summary.get("task") or bundle.get("task") or (evaluation or {}).get("task") or recipe.get("task")
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
