"""The model card of a run: ``report.html`` (self-contained: inline CSS and figures, no network)
and ``card.json`` (the same content for machines), built from the run directory.

    build_report(run_dir) -> {"html": path, "card": path}
    build_card(run_dir)   -> dict
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import yaml

from traincraft._util.atomic import atomic_write_json, atomic_write_text
from traincraft.errors import MissingDependencyError
from traincraft.report._card import CURVE_FILE, UNSUPERVISED_TASKS, build_card, read_jsonl

__all__ = ["build_report", "build_card", "failed_checks", "REPORT_FILE", "CARD_FILE", "CURVE_FILE", "UNSUPERVISED_TASKS", "read_jsonl"]

log = logging.getLogger(__name__)

REPORT_FILE = "report.html"
CARD_FILE = "card.json"
SECTIONS = [
    ("intended-use", "Intended use"), ("data", "Data"), ("splits", "Splits"), ("training", "Training"),
    ("learning-curves", "Learning curves"), ("metrics", "Test metrics"), ("calibration", "Calibration"),
    ("confusion", "Confusion matrix"), ("fairness", "Fairness"), ("slices", "Slices"),
    ("data-curve", "More data"), ("limitations", "Limitations"),
]
SECTIONS_BY_TASK = {  # tasks without labels: their own sections instead of test metrics, calibration, fairness
    "cluster": [("intended-use", "Intended use"), ("data", "Data"), ("training", "Training"), ("quality", "Cluster quality"),
                ("clusters", "Cluster profiles"), ("limitations", "Limitations")],
    "anomaly": [("intended-use", "Intended use"), ("data", "Data"), ("splits", "Splits"), ("training", "Training"),
                ("learning-curves", "Learning curves"), ("quality", "Detection quality"), ("anomalies", "Most anomalous rows"),
                ("limitations", "Limitations")],
    "rl": [("intended-use", "Intended use"), ("environment", "Environment"), ("training", "Training"),
           ("reward-curves", "Reward curves"), ("quality", "Evaluation episodes"), ("limitations", "Limitations")],
}
METRIC_KEYS = {  # per-group columns of the fairness tables
    "binary": ["share", "base_rate", "selection_rate", "accuracy", "tpr", "fpr", "mean_score", "calibration_gap"],
    "multiclass": ["share", "accuracy"],
    "regression": ["share", "mae"],
}


def failed_checks(card: dict[str, Any]) -> list[dict[str, Any]]:
    """The card's checks that failed (fairness limits set in the recipe)."""
    return [c for c in card.get("checks", []) if c.get("passed") is False]


def _images(card: dict[str, Any]) -> dict[str, Any]:
    from traincraft.report import _plots

    images: dict[str, Any] = {"fairness": {}}
    history = card["training"]["history"]
    ev = card.get("evaluation") or {}
    task = card["model"]["task"]
    if history and task not in ("cluster", "rl"):
        metric = "accuracy" if task in ("binary", "multiclass") else ("rmse" if task == "regression" else None)
        if metric and not any(f"val/{metric}" in r for r in history):
            metric = None
        images["learning_curves"] = _plots.learning_curves_png(
            history, metric=metric, from_epoch=card["learning_curves"].get("from_epoch"), best_epoch=card["training"].get("best_epoch")
        )
    test = ev.get("test") or {}
    if test.get("calibration", {}).get("bins"):
        images["reliability"] = _plots.reliability_png(test["calibration"])
    if test.get("confusion_matrix") and ev.get("classes"):
        images["confusion"] = _plots.confusion_png(test["confusion_matrix"], ev["classes"])
    if test.get("residuals", {}).get("predicted"):
        images["residuals"] = _plots.residuals_png(test["residuals"])
    if task == "cluster" and len((card.get("clusters") or {}).get("scores") or []) > 1:
        images["silhouette"] = _plots.silhouette_png(card["clusters"]["scores"], chosen=card["clusters"]["k"])
    if task == "anomaly" and ((card.get("anomalies") or {}).get("histogram") or {}).get("counts"):
        images["scores"] = _plots.score_histogram_png(card["anomalies"]["histogram"], threshold=card["anomalies"]["threshold"])
    if task == "rl" and card["rl"]["curve"]:
        images["rewards"] = _plots.reward_curves_png(card["rl"]["curve"], evaluation=card["rl"].get("episodes"))
    fairness = ev.get("fairness") or {}
    if task == "binary":
        for name, attribute in (fairness.get("attributes") or {}).items():
            images["fairness"][name] = _plots.fairness_png(name, attribute["groups"])
        if fairness.get("mitigation"):
            images["mitigation"] = _plots.mitigation_png(fairness["mitigation"])
    curve = card.get("data_curve")
    if curve and curve.get("points"):
        images["data_curve"] = _plots.data_curve_png(curve)
    return images


def build_report(run_dir: str | Path) -> dict[str, Path]:
    """Write ``report.html`` and ``card.json`` into ``run_dir``; return their paths."""
    try:
        import jinja2
    except ImportError:
        raise MissingDependencyError("jinja2", "report", "The HTML report") from None
    from traincraft.report._template import CSP, TEMPLATE

    root = Path(run_dir)
    card = build_card(root)
    sections = SECTIONS_BY_TASK.get(card["model"]["task"], SECTIONS)
    env = jinja2.Environment(autoescape=True, undefined=jinja2.ChainableUndefined, trim_blocks=True, lstrip_blocks=True)
    html = env.from_string(TEMPLATE).render(
        card=card,
        ev=card.get("evaluation"),
        images=_images(card),
        csp=CSP,
        sections=sections,
        titles=dict(sections),
        metric_keys=METRIC_KEYS,
        failed_checks=failed_checks(card),
        recipe_yaml=yaml.safe_dump(card["training"]["recipe"], sort_keys=False),
    )
    paths = {"html": root / REPORT_FILE, "card": root / CARD_FILE}
    atomic_write_text(paths["html"], html)
    atomic_write_json(paths["card"], card)
    log.info("report: %s", paths["html"])
    return paths
