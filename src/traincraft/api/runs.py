"""``runs``: list the runs in a folder with their headline metrics, and compare two of them."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from traincraft.errors import RecipeError
from traincraft.evaluation import EVALUATION_FILE
from traincraft.report import UNSUPERVISED_TASKS

__all__ = ["list_runs", "compare_runs"]


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def list_runs(runs_dir: str | Path = "runs") -> list[dict[str, Any]]:
    """Every run directory under ``runs_dir`` (newest first): name, status, task, epochs, test
    metrics. A folder with a recipe.yaml but no run.json is an unfinished (or killed) run."""
    root = Path(runs_dir)
    if not root.is_dir():
        raise RecipeError(f"Runs folder {root} does not exist; train a model first (traincraft train RECIPE) or pass --runs-dir.")
    found = []
    for recipe in root.rglob("recipe.yaml"):
        run_dir = recipe.parent
        summary = _read_json(run_dir / "run.json") or {}
        modified = (run_dir / "run.json") if (run_dir / "run.json").exists() else recipe
        found.append({
            "name": str(run_dir.relative_to(root)),
            "path": str(run_dir),
            "status": summary.get("status", "unfinished"),
            "task": summary.get("task"),
            "epochs": summary.get("epochs"),
            "metrics": summary.get("metrics", {}),
            "report": str(run_dir / "report.html") if (run_dir / "report.html").exists() else None,
            "modified": datetime.fromtimestamp(modified.stat().st_mtime, timezone.utc).isoformat(timespec="seconds"),
        })
    found.sort(key=lambda r: r["modified"], reverse=True)
    return found


def _flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(d, dict):
        out: dict[str, Any] = {}
        for key, value in d.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): d}


def _run(path: str | Path) -> tuple[Path, dict, dict, dict | None]:
    run_dir = Path(path)
    recipe_path = run_dir / "recipe.yaml"
    if not recipe_path.exists():
        raise RecipeError(f"{run_dir} is not a traincraft run directory (no recipe.yaml in it); `traincraft runs` lists them.")
    recipe = yaml.safe_load(recipe_path.read_text(encoding="utf-8")) or {}
    summary = _read_json(run_dir / "run.json") or {}
    task = summary.get("task") or recipe.get("task")
    # evaluation.json is the supervised test evaluation; cluster, anomaly and RL runs write their own files
    evaluation = _read_json(run_dir / EVALUATION_FILE) if task not in UNSUPERVISED_TASKS else None
    return run_dir, recipe, summary, evaluation


def compare_runs(a: str | Path, b: str | Path) -> dict[str, Any]:
    """How run ``b`` differs from run ``a``: recipe settings that differ, and each test metric with
    the change and whether the two 95% bootstrap intervals overlap (if not, the change is beyond noise)."""
    dir_a, recipe_a, sum_a, ev_a = _run(a)
    dir_b, recipe_b, sum_b, ev_b = _run(b)
    flat_a, flat_b = _flatten(recipe_a), _flatten(recipe_b)
    ignore = {"name"}
    recipe_diff = [
        {"key": key, "a": flat_a.get(key), "b": flat_b.get(key)}
        for key in sorted(set(flat_a) | set(flat_b))
        if key not in ignore and flat_a.get(key) != flat_b.get(key)
    ]
    metrics_a, metrics_b = sum_a.get("metrics", {}), sum_b.get("metrics", {})
    intervals_a = ((ev_a or {}).get("test") or {}).get("intervals") or {}
    intervals_b = ((ev_b or {}).get("test") or {}).get("intervals") or {}
    rows = []
    for name in [k for k in metrics_a if k in metrics_b] + [k for k in metrics_b if k not in metrics_a]:
        va, vb = metrics_a.get(name), metrics_b.get(name)
        row: dict[str, Any] = {"metric": name, "a": va, "b": vb,
                               "change": (vb - va) if isinstance(va, (int, float)) and isinstance(vb, (int, float)) else None}
        ia, ib = intervals_a.get(name), intervals_b.get(name)
        if ia and ib and None not in (ia.get("low"), ia.get("high"), ib.get("low"), ib.get("high")):
            row["intervals_overlap"] = not (ia["high"] < ib["low"] or ib["high"] < ia["low"])
        rows.append(row)
    return {
        "a": str(dir_a),
        "b": str(dir_b),
        "recipe_differences": recipe_diff,
        "metrics": rows,
        "epochs": {"a": sum_a.get("epochs"), "b": sum_b.get("epochs")},
        "seconds": {"a": sum_a.get("train_seconds"), "b": sum_b.get("train_seconds")},
        "same_data": _fingerprint(dir_a) == _fingerprint(dir_b) and _fingerprint(dir_a) is not None,
    }


def _fingerprint(run_dir: Path) -> str | None:
    manifest = _read_json(run_dir / "data" / "manifest.json") or {}
    return manifest.get("fingerprint")
