"""Fairness across groups of people: per-group tables, disparities, limits, threshold mitigation.

For a binary task, each group of a sensitive column (and each intersection of them) gets rows,
base rate (share truly positive), selection rate (share predicted positive), accuracy, TPR, FPR
and calibration (mean predicted probability against the base rate). Disparities follow
fairlearn's definitions: demographic-parity difference (max - min selection rate) and ratio
(min / max), equalized-odds difference (the larger of the TPR and FPR gaps). Groups smaller than
``min_group_size`` are listed with a warning and left out of the disparities. Multiclass tasks get
per-group accuracy, regression per-group MAE.

Mitigation chooses one decision threshold per group on the validation split — equal selection
rates (demographic parity) or equal true-positive rates (equal opportunity) — and reports on the
test split what that does to the disparity and to accuracy. Reweighting (Kamiran & Calders, 2012,
"Data preprocessing techniques for classification without discrimination") mitigates in training
instead: :func:`reweighing_weights` gives each training row the weight P(group)·P(label) / P(group,
label), so that label and group are independent in the weighted training data; ``train`` fits a
second model with these weights and :func:`reweighting_tradeoff` compares it with the first on the
test split, both at the one threshold of 0.5.
"""

from __future__ import annotations

import logging
from typing import Any, Sequence

import numpy as np
import pandas as pd

from traincraft.errors import RecipeError, SchemaError
from traincraft.recipe._evaluate import FairnessConfig, FairnessLimits

__all__ = [
    "group_labels",
    "group_table",
    "disparities",
    "check_limits",
    "threshold_mitigation",
    "reweighing_weights",
    "reweighting_tradeoff",
    "fairness_report",
    "MISSING_GROUP",
    "INTERSECTION",
]

log = logging.getLogger(__name__)

MISSING_GROUP = "(missing)"
INTERSECTION = " × "  # joins column names and group values of intersectional groups


def group_labels(frame: pd.DataFrame, columns: Sequence[str], *, intersectional: bool = True) -> dict[str, pd.Series]:
    """``{attribute: group label per row}``: one attribute per column, plus their intersection
    (e.g. ``"sex × race"`` with groups like ``"Female × Black"``) when there are several."""
    out: dict[str, pd.Series] = {}
    for col in columns:
        values = frame[col]
        labels = values.map(lambda v: MISSING_GROUP if pd.isna(v) else str(v).strip())
        out[col] = labels.astype(object)
    if intersectional and len(columns) > 1:
        joined = out[columns[0]]
        for col in columns[1:]:
            joined = joined + INTERSECTION + out[col]
        out[INTERSECTION.join(columns)] = joined
    return out


def _rate(mask: np.ndarray, within: np.ndarray) -> float:
    n = int(within.sum())
    return float(mask[within].mean()) if n else float("nan")


def group_table(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    groups: pd.Series | np.ndarray,
    *,
    task: str = "binary",
    positive: int = 1,
    proba_positive: np.ndarray | None = None,
    min_group_size: int = 30,
) -> list[dict[str, Any]]:
    """One row per group, largest first: the numbers a fairness table shows."""
    groups = np.asarray(groups, dtype=object)
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    rows = []
    n = len(groups)
    for g in pd.unique(groups):
        member = groups == g
        size = int(member.sum())
        row: dict[str, Any] = {"group": str(g), "rows": size, "share": size / n if n else float("nan"), "small": size < min_group_size}
        if task == "regression":
            row["mae"] = float(np.mean(np.abs(y_true[member] - y_pred[member])))
        elif task == "binary":
            actual, said = y_true == positive, y_pred == positive
            row["base_rate"] = _rate(actual, member)
            row["selection_rate"] = _rate(said, member)
            row["accuracy"] = _rate(actual == said, member)
            row["tpr"] = _rate(said, member & actual)
            row["fpr"] = _rate(said, member & ~actual)
            if proba_positive is not None:
                row["mean_score"] = float(np.mean(np.asarray(proba_positive)[member]))
                row["calibration_gap"] = row["mean_score"] - row["base_rate"]
        else:
            row["accuracy"] = _rate(y_true == y_pred, member)
        rows.append(row)
    rows.sort(key=lambda r: (-r["rows"], r["group"]))
    return rows


def _spread(rows: list[dict], key: str) -> tuple[float, str | None, str | None]:
    values = [(r[key], r["group"]) for r in rows if key in r and np.isfinite(r[key])]
    if len(values) < 2:
        return float("nan"), None, None
    high = max(values)
    low = min(values)
    return high[0] - low[0], high[1], low[1]


def disparities(rows: list[dict[str, Any]], *, task: str = "binary") -> dict[str, Any]:
    """Disparity measures over the groups of one attribute that are not ``small``."""
    judged = [r for r in rows if not r["small"]]
    out: dict[str, Any] = {"groups_judged": len(judged), "groups_small": [r["group"] for r in rows if r["small"]]}
    if task == "binary":
        dp, hi, lo = _spread(judged, "selection_rate")
        out["dp_difference"] = dp
        out["dp_highest"], out["dp_lowest"] = hi, lo
        rates = [r["selection_rate"] for r in judged if np.isfinite(r["selection_rate"])]
        out["dp_ratio"] = (min(rates) / max(rates)) if len(rates) >= 2 and max(rates) > 0 else float("nan")
        tpr_gap = _spread(judged, "tpr")[0]
        fpr_gap = _spread(judged, "fpr")[0]
        out["tpr_difference"], out["fpr_difference"] = tpr_gap, fpr_gap
        out["eo_difference"] = float(np.nanmax([tpr_gap, fpr_gap])) if np.isfinite([tpr_gap, fpr_gap]).any() else float("nan")
        out["accuracy_difference"] = _spread(judged, "accuracy")[0]
    elif task == "regression":
        out["mae_difference"] = _spread(judged, "mae")[0]
    else:
        out["accuracy_difference"] = _spread(judged, "accuracy")[0]
    return out


def check_limits(by_attribute: dict[str, dict[str, Any]], limits: FairnessLimits) -> list[dict[str, Any]]:
    """One check per (attribute, limit set in the recipe): value, limit, passed."""
    checks = []
    for attribute, d in by_attribute.items():
        disparity = d["disparity"]
        for measure, limit in limits.model_dump().items():
            if limit is None or measure not in disparity:
                continue
            value = disparity[measure]
            if not np.isfinite(value):
                checks.append({"attribute": attribute, "measure": measure, "value": None, "limit": limit, "passed": None,
                               "note": "not computable: fewer than two groups large enough to judge"})
                continue
            passed = value >= limit if measure == "dp_ratio" else value <= limit
            checks.append({"attribute": attribute, "measure": measure, "value": float(value), "limit": limit, "passed": bool(passed)})
    return checks


def _group_threshold(scores: np.ndarray, target: float) -> float:
    """The cut that selects a ``target`` share of ``scores`` (the k-th highest score)."""
    k = int(round(target * len(scores)))
    if k <= 0:
        return float(np.nextafter(scores.max(), np.inf))
    return float(np.sort(scores)[::-1][min(k, len(scores)) - 1])


def _judge(y: np.ndarray, pred: np.ndarray, g: np.ndarray, p: np.ndarray, *, positive: int, min_group_size: int) -> dict[str, Any]:
    """Accuracy, selection rate and disparities of decisions ``pred``, with the per-group rates."""
    rows = group_table(y, pred, g, positive=positive, proba_positive=p, min_group_size=min_group_size)
    d = disparities(rows)
    return {"accuracy": float(np.mean(pred == y)), "selection_rate": float(np.mean(pred == positive)),
            "dp_difference": d["dp_difference"], "dp_ratio": d["dp_ratio"], "eo_difference": d["eo_difference"],
            "groups": {r["group"]: {"rows": r["rows"], "selection_rate": r["selection_rate"], "tpr": r["tpr"], "fpr": r["fpr"]} for r in rows}}


def reweighing_weights(y: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Kamiran & Calders reweighing: each row of (group g, label y) gets P(g)·P(y) / P(g, y), the
    weight under which label and group are independent (counts from the rows given: the training
    split). Returns the per-row weights and one record per (group, label) cell."""
    y = np.asarray(y)
    groups = np.asarray(groups, dtype=object)
    n = len(y)
    if n == 0:
        raise ValueError("reweighing needs at least one row")
    weights = np.ones(n, dtype=np.float64)
    cells = []
    for g in pd.unique(groups):
        in_g = groups == g
        for label in np.unique(y):
            cell = in_g & (y == label)
            count = int(cell.sum())
            if count == 0:
                continue
            expected = in_g.sum() * (y == label).sum() / n  # rows the cell would hold if label and group were independent
            weights[cell] = expected / count
            cells.append({"group": str(g), "label": label.item() if isinstance(label, np.generic) else label,
                          "rows": count, "expected_rows": float(expected), "weight": float(expected / count)})
    return weights, cells


def reweighting_tradeoff(
    y_test: np.ndarray,
    p_unmitigated: np.ndarray,
    p_reweighted: np.ndarray,
    groups: np.ndarray,
    *,
    positive: int,
    min_group_size: int = 30,
    base_threshold: float = 0.5,
) -> dict[str, Any]:
    """The test split judged for the unweighted model and the reweighted one (probabilities of the
    positive class), both at ``base_threshold``: accuracy, disparities, and what changed."""
    y_test, groups = np.asarray(y_test), np.asarray(groups, dtype=object)
    decide = lambda p: np.where(np.asarray(p) >= base_threshold, positive, 1 - positive)  # noqa: E731
    before = _judge(y_test, decide(p_unmitigated), groups, np.asarray(p_unmitigated), positive=positive, min_group_size=min_group_size)
    after = _judge(y_test, decide(p_reweighted), groups, np.asarray(p_reweighted), positive=positive, min_group_size=min_group_size)
    cut = before["dp_difference"] - after["dp_difference"]
    return {
        "base_threshold": base_threshold,
        "test_before": before,
        "test_after": after,
        "accuracy_cost": before["accuracy"] - after["accuracy"],
        "dp_difference_reduction": cut / before["dp_difference"] if before["dp_difference"] > 0 else float("nan"),
        "eo_difference_change": after["eo_difference"] - before["eo_difference"],
    }


def threshold_mitigation(
    validation: tuple[np.ndarray, np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray, np.ndarray],
    *,
    positive: int,
    constraint: str = "demographic_parity",
    min_group_size: int = 30,
    base_threshold: float = 0.5,
) -> dict[str, Any]:
    """Per-group thresholds from ``validation`` = (y, p_positive, group), judged on ``test``.

    The target is the validation split's overall selection rate (or TPR, for equal opportunity)
    at ``base_threshold``; each group large enough on validation gets the cut that reaches it,
    the others keep ``base_threshold``.
    """
    if constraint not in ("demographic_parity", "equal_opportunity"):
        raise ValueError(f"constraint must be demographic_parity or equal_opportunity, got {constraint!r}")
    y_val, p_val, g_val = (np.asarray(a) for a in validation)
    y_test, p_test, g_test = (np.asarray(a) for a in test)
    pos_val = y_val == positive
    said_val = p_val >= base_threshold
    target = float(said_val.mean()) if constraint == "demographic_parity" else float(said_val[pos_val].mean())
    thresholds: dict[str, float] = {}
    kept_base = []
    for g in pd.unique(g_val):
        member = g_val == g
        pool = p_val[member] if constraint == "demographic_parity" else p_val[member & pos_val]
        if member.sum() < min_group_size or len(pool) == 0:
            kept_base.append(str(g))
            continue
        thresholds[str(g)] = _group_threshold(pool, target)

    def decide(p: np.ndarray, g: np.ndarray) -> np.ndarray:
        cut = np.array([thresholds.get(str(x), base_threshold) for x in g])
        return np.where(p >= cut, positive, 1 - positive)

    base_test = np.where(p_test >= base_threshold, positive, 1 - positive)
    before = _judge(y_test, base_test, g_test, p_test, positive=positive, min_group_size=min_group_size)
    after = _judge(y_test, decide(p_test, g_test), g_test, p_test, positive=positive, min_group_size=min_group_size)
    unseen = sorted({str(x) for x in pd.unique(g_test)} - set(thresholds) - set(kept_base))
    cut = before["dp_difference"] - after["dp_difference"]
    return {
        "constraint": constraint,
        "chosen_on": "validation",
        "target": target,
        "target_is": "selection_rate" if constraint == "demographic_parity" else "tpr",
        "base_threshold": base_threshold,
        "thresholds": thresholds,
        "groups_at_base_threshold": sorted(kept_base + unseen),
        "test_before": before,
        "test_after": after,
        "accuracy_cost": before["accuracy"] - after["accuracy"],
        "dp_difference_reduction": cut / before["dp_difference"] if before["dp_difference"] > 0 else float("nan"),
        "eo_difference_change": after["eo_difference"] - before["eo_difference"],
    }


def fairness_report(
    y_true: np.ndarray,
    predictions: np.ndarray,
    frame: pd.DataFrame,
    *,
    sensitive: Sequence[str],
    task: str,
    positive: int | None = None,
    y_pred: np.ndarray | None = None,
    config: FairnessConfig | None = None,
    validation: tuple[np.ndarray, np.ndarray, pd.DataFrame] | None = None,
    reweighted: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything fairness for one test split: per attribute its table and disparity, warnings,
    limit checks and (binary) threshold mitigation.

    ``predictions`` are probabilities (N, C) for classification, values (N,) for regression;
    ``y_pred`` the decisions (default argmax); ``validation`` = (y, predictions, frame) enables mitigation;
    ``reweighted`` = ``{"predictions": (N, C) test probabilities of the reweighted model, "attribute":
    the column it was reweighted by, ...}`` (binary) adds the reweighting trade-off; its other keys
    (weights, training) are reported as they are.
    """
    config = config or FairnessConfig()
    sensitive = list(sensitive)
    if not sensitive:
        return {"sensitive": [], "attributes": {}, "warnings": [], "checks": [], "mitigation": None}
    missing = [c for c in sensitive if c not in frame.columns]
    if missing:
        raise SchemaError(
            f"Sensitive column(s) {', '.join(missing)} (data.sensitive) are not in the evaluated rows; "
            f"columns: {', '.join(map(str, list(frame.columns)[:20]))}. Fix data.sensitive or keep the columns in the data."
        )
    y_true = np.asarray(y_true)
    predictions = np.asarray(predictions, dtype=np.float64)
    pos = (1 if positive is None else positive) if task == "binary" else 0
    if task == "regression":
        decisions = predictions
        p_pos = None
    else:
        decisions = predictions.argmax(axis=1) if y_pred is None else np.asarray(y_pred)
        p_pos = predictions[:, pos] if task == "binary" else None
    labels = group_labels(frame, sensitive, intersectional=config.intersectional)
    attributes: dict[str, Any] = {}
    warnings: list[str] = []
    for attribute, groups in labels.items():
        rows = group_table(y_true, decisions, groups.to_numpy(), task=task, positive=pos, proba_positive=p_pos,
                           min_group_size=config.min_group_size)
        d = disparities(rows, task=task)
        attributes[attribute] = {"intersectional": INTERSECTION in attribute, "groups": rows, "disparity": d}
        for r in rows:
            if r["small"]:
                warnings.append(
                    f"{attribute} = {r['group']}: {r['rows']} test row(s), fewer than {config.min_group_size}; "
                    "too few to judge, left out of the disparity measures."
                )
    out: dict[str, Any] = {
        "sensitive": sensitive,
        "min_group_size": config.min_group_size,
        "attributes": attributes,
        "warnings": warnings,
        "checks": check_limits(attributes, config.limits),
        "mitigation": None,
        "reweighting": None,
    }
    if task == "binary" and validation is not None and config.mitigation != "none":
        on = config.mitigate_on or sensitive[0]
        if on not in sensitive:
            raise RecipeError(
                f"evaluate.fairness.mitigate_on '{on}' is not one of data.sensitive ({', '.join(sensitive)}); "
                "name one of those columns or leave it empty for the first."
            )
        y_val, pred_val, frame_val = validation
        g_val = group_labels(frame_val, [on], intersectional=False)[on].to_numpy()
        out["mitigation"] = {
            "attribute": on,
            **threshold_mitigation(
                (np.asarray(y_val), np.asarray(pred_val, dtype=np.float64)[:, pos], g_val),
                (y_true, p_pos, labels[on].to_numpy()),
                positive=pos,
                constraint=config.mitigation,
                min_group_size=config.min_group_size,
            ),
        }
    if task == "binary" and reweighted is not None:
        on = reweighted["attribute"]
        if on not in labels:
            raise RecipeError(f"The reweighted attribute '{on}' is not one of data.sensitive ({', '.join(sensitive)}).")
        extra = {k: v for k, v in reweighted.items() if k not in ("predictions", "attribute")}
        out["reweighting"] = {
            "attribute": on,
            "method": "Kamiran & Calders reweighing: weight P(group)·P(label) / P(group, label) on the training split",
            **extra,
            **reweighting_tradeoff(y_true, p_pos, np.asarray(reweighted["predictions"], dtype=np.float64)[:, pos], labels[on].to_numpy(),
                                   positive=pos, min_group_size=config.min_group_size),
        }
    return out
