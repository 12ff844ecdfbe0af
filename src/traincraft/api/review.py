"""Human label review: export the suspected label errors as a queue, apply a person's decisions.

    traincraft review export recipe.yaml -o queue.csv     # most likely mislabelled first
    (fill the decision column: keep, relabel:<label>, drop)
    traincraft review apply queue.csv --recipe recipe.yaml

Decisions are merged into the file the recipe's ``relabel`` step names (default ``review.csv``
beside the recipe), so every later ``prepare`` and ``train`` applies them, and re-running the
export pre-fills them.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from traincraft._util.atomic import atomic_write_with
from traincraft.api._inputs import read_source, resolve_recipe
from traincraft.api.audit import recipe_schema
from traincraft.api.prepare import _base_dir
from traincraft.data.audit import AuditContext
from traincraft.data.audit.label_issues import find_label_issues
from traincraft.data.prepare import apply_prepare
from traincraft.data.prepare.relabel import load_decisions, parse_decision
from traincraft.errors import DataError, RecipeError
from traincraft.recipe import Recipe
from traincraft.recipe._prepare import RelabelStep

__all__ = ["review_export", "review_apply", "QUEUE_COLUMNS"]

log = logging.getLogger(__name__)

QUEUE_COLUMNS = ("row_id", "content", "given_label", "suggested_label", "confidence", "given_label_probability", "reason", "decision")
CONTENT_CHARS = 500  # characters of a row's content shown in the queue


def _review_path(cfg: Recipe, recipe: Any) -> Path | None:
    step = next((s for s in cfg.prepare if isinstance(s, RelabelStep)), None)
    if step is None:
        return None
    path = Path(step.review)
    return path if path.is_absolute() else _base_dir(recipe) / path


def _content(frame: pd.DataFrame, label: str) -> pd.Series:
    cols = [c for c in frame.columns if c != label]
    text = frame[cols].astype(str).agg(" | ".join, axis=1) if len(cols) > 1 else frame[cols[0]].astype(str)
    return text.str.slice(0, CONTENT_CHARS)


def review_export(recipe: Recipe | dict | str | Path, output: str | Path, *, overwrite: bool = False) -> dict[str, Any]:
    """Write the review queue CSV: rows whose label looks wrong, most likely first."""
    output = Path(output)
    if output.exists() and not overwrite:
        raise DataError(f"{output} already exists; choose another file, or pass --overwrite (decisions in it would be lost).")
    cfg, frame = resolve_recipe(recipe)
    if frame is None:
        frame = read_source(cfg)
    label = cfg.data.label
    if label is None:
        raise RecipeError("review export needs a label column: set data.label in the recipe.")
    # the queue is about the rows training will see: apply the steps before the first label step
    before = []
    for step in cfg.prepare:
        if step.step in ("drop_label_issues", "relabel"):
            break
        before.append(step)
    table = apply_prepare(frame, before, label=label, base_dir=_base_dir(recipe), seed=cfg.seed).prepared if before else frame
    ctx = AuditContext.build(table, label=label, schema=recipe_schema(table, cfg))
    review = find_label_issues(ctx, seed=cfg.seed)
    if review.skipped:
        raise DataError(f"No review queue: label issues cannot be looked for ({review.skipped}).")
    content = _content(table.loc[review.row_ids], label) if review.row_ids else pd.Series(dtype=str)
    queue = pd.DataFrame(
        {
            "row_id": review.row_ids,
            "content": content.to_numpy() if len(content) else [],
            "given_label": review.given,
            "suggested_label": review.suggested,
            "confidence": np.round(review.confidence, 4),
            "given_label_probability": np.round(review.self_confidence, 4),
            "reason": [f"out-of-fold model predicts {s!r} with p={c:.3f}" for s, c in zip(review.suggested, review.confidence)],
            "decision": "",
        },
        columns=list(QUEUE_COLUMNS),
    )
    path = _review_path(cfg, recipe)
    prefilled = 0
    if path is not None and path.exists():
        earlier = load_decisions(path).set_index("row_id")["decision"]
        known = queue["row_id"].astype(str).map(earlier)
        prefilled = int(known.notna().sum())
        queue["decision"] = known.fillna("").to_numpy()
    atomic_write_with(output, lambda tmp: queue.to_csv(tmp, index=False))
    return {"queue": str(output), "rows": len(queue), "prefilled": prefilled, "classes": review.classes}


def review_apply(queue_csv: str | Path, *, recipe: Recipe | dict | str | Path) -> dict[str, Any]:
    """Record the filled-in decisions of ``queue_csv`` in the recipe's review file (merged by row id)."""
    queue_csv = Path(queue_csv)
    if not queue_csv.exists():
        raise DataError(f"Review queue {queue_csv} does not exist. Write one with: traincraft review export RECIPE -o {queue_csv}")
    cfg, _ = resolve_recipe(recipe)
    path = _review_path(cfg, recipe)
    if path is None:
        raise RecipeError(
            "The recipe has no relabel step, so no later prepare or train would use the decisions. "
            "Add it to the recipe's prepare: list, e.g.\nprepare:\n  - step: relabel\n    review: review.csv\nthen run review apply again."
        )
    queue = pd.read_csv(queue_csv, dtype=str, keep_default_na=False)
    missing = [c for c in ("row_id", "decision") if c not in queue.columns]
    if missing:
        raise DataError(f"{queue_csv} has no '{missing[0]}' column; it must be a queue written by traincraft review export.")
    decided = queue[queue["decision"].str.strip() != ""][["row_id", "decision"]].copy()
    decided["row_id"] = decided["row_id"].str.strip()
    counts = {"keep": 0, "drop": 0, "relabel": 0}
    for line, d in zip(decided.index, decided["decision"]):
        kind, _ = parse_decision(d, f"{queue_csv} line {line + 2}")
        counts[kind] += 1
    decided["decision"] = decided["decision"].str.strip()
    merged = decided
    if path.exists():
        earlier = load_decisions(path)[["row_id", "decision"]]
        merged = pd.concat([earlier[~earlier["row_id"].isin(decided["row_id"])], decided], ignore_index=True)
    atomic_write_with(path, lambda tmp: merged.to_csv(tmp, index=False))
    return {
        "review_file": str(path),
        "decisions": len(decided),
        "undecided": int(len(queue) - len(decided)),
        "total_recorded": len(merged),
        **counts,
    }
