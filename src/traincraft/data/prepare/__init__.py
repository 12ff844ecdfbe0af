"""Data preparation: the recipe's ``prepare:`` steps, applied in order, losing no row.

    result = apply_prepare(df, [{"step": "dedupe", "mode": "near"}, {"step": "redact"}], label="spam")
    result.prepared      # the table to split and train on
    result.quarantine    # every dropped or changed row, original values, _row_id/_step/_action/_reason
    result.manifest      # rows in / out / quarantined / changed per step, fingerprints

Invariant (tested): for every step, rows in = rows out + rows quarantined (dropped). A changed
row stays in the output and is also written to the quarantine with its original values and
``_action: changed``; the manifest counts both.

No leakage (DESIGN.md invariant 2): the steps that learn from the data (:func:`learns_from_rows`:
impute's fill values, drop_label_issues' out-of-fold model, dedupe ``keep: majority``'s label
vote) learn only from ``fit_rows``, the training split, when it is given; drop_label_issues then
drops only training rows, and dedupe lets only training labels vote, so validation and test rows
are never judged by their labels. ``train`` splits the labelled rows first and passes the
training split's row ids.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pandas as pd
from pydantic import TypeAdapter, ValidationError

from traincraft._util.fingerprint import frame_fingerprint
from traincraft.data.prepare import (
    dedupe,
    drop_columns,
    drop_label_issues,
    drop_missing,
    filter,
    impute,
    redact,
    relabel,
)
from traincraft.data.prepare._outcome import StepContext, StepOutcome
from traincraft.errors import DataError, RecipeError, TraincraftError
from traincraft.recipe._prepare import PrepareStep

__all__ = ["STEPS", "FITTED_STEPS", "PrepareResult", "apply_prepare", "learns_from_rows", "QUARANTINE_COLUMNS"]

log = logging.getLogger(__name__)

STEPS: dict[str, ModuleType] = {
    m.NAME: m for m in (dedupe, drop_missing, impute, redact, filter, drop_label_issues, relabel, drop_columns)
}
FITTED_STEPS = ("impute", "drop_label_issues")  # learn from the rows: only from fit_rows when given
QUARANTINE_COLUMNS = ("_row_id", "_step", "_action", "_reason")
_ADAPTER: TypeAdapter[Any] = TypeAdapter(PrepareStep)


def learns_from_rows(step: Any) -> bool:
    """Whether a (validated) step learns from the rows' values or labels, and so only from ``fit_rows``."""
    return step.step in FITTED_STEPS or (step.step == "dedupe" and step.keep == "majority")


@dataclass
class PrepareResult:
    """The prepared table, the quarantine (dropped and changed rows, original values) and the manifest."""

    prepared: pd.DataFrame
    quarantine: pd.DataFrame
    manifest: dict[str, Any]


def _validate_steps(steps: Sequence[Any]) -> list[Any]:
    out = []
    for i, step in enumerate(steps):
        if hasattr(step, "step") and not isinstance(step, dict):
            out.append(step)
            continue
        try:
            out.append(_ADAPTER.validate_python(step))
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'] if '[' not in str(p)) or 'step'}: {e['msg']}" for e in exc.errors(include_url=False))
            raise RecipeError(f"prepare step {i} ({step!r}) is invalid: {problems}.") from None
    return out


def apply_prepare(
    df: pd.DataFrame,
    steps: Sequence[Any],
    *,
    label: str | None = None,
    schema: Any = None,
    review: Any = None,
    base_dir: Any = None,
    seed: int = 0,
    fit_rows: Sequence[Any] | None = None,
) -> PrepareResult:
    """Apply ``steps`` (recipe step models or dicts) to ``df`` in order.

    ``label`` names the label column (dedupe ``keep: majority``, label issues, relabel);
    ``review`` is a decisions DataFrame (or file) for ``relabel`` instead of the step's file;
    ``base_dir`` is where relative paths in the steps point (the recipe's folder); ``fit_rows``
    are the row ids (the training split) that impute and drop_label_issues learn from, and the only
    rows drop_label_issues may drop; None lets them use every row.
    """
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"prepare needs a pandas DataFrame, got {type(df).__name__}.")
    if not df.index.is_unique:
        raise DataError("The table's index has repeated row ids; prepare needs one id per row (df.reset_index(drop=True)).")
    if label is not None and label not in df.columns:
        raise DataError(f"Label column '{label}' is not in the data. Columns: {', '.join(map(str, df.columns))}.")
    validated = _validate_steps(steps)
    if fit_rows is not None:
        fit_rows = pd.Index(fit_rows)
        unknown = fit_rows.difference(df.index)
        if len(unknown):
            raise DataError(f"fit_rows names {len(unknown)} row id(s) that are not in the table, e.g. {unknown[0]!r}.")
    sc = StepContext(label=label, schema=schema, review=review, base_dir=base_dir, seed=seed, fit_rows=fit_rows)
    current = df
    entries: list[pd.DataFrame] = []
    records = []
    changed_ids: set = set()
    for i, step in enumerate(validated):
        name = step.step
        started = time.perf_counter()
        try:
            outcome: StepOutcome = STEPS[name].apply(current, step, sc)
        except TraincraftError as exc:
            raise type(exc)(f"prepare step {i} ({name}): {exc}") from None
        rows_in, rows_out, dropped = len(current), len(outcome.frame), len(outcome.dropped)
        if rows_in != rows_out + dropped:
            raise AssertionError(f"prepare step {i} ({name}) lost rows: {rows_in} in, {rows_out} out, {dropped} quarantined")
        tag = f"{i}:{name}"
        if outcome.dropped:
            entries.append(_entries(current, outcome.dropped, tag, "dropped"))
        if outcome.changed:
            entries.append(_entries(current, outcome.changed, tag, "changed"))
            changed_ids.update(outcome.changed)
        seconds = time.perf_counter() - started
        records.append(
            {
                "index": i,
                "step": name,
                "config": step.model_dump(mode="json"),
                "rows_in": rows_in,
                "rows_out": rows_out,
                "rows_quarantined": dropped,
                "rows_changed": len(outcome.changed),
                "quarantine_entries": dropped + len(outcome.changed),
                "columns_added": outcome.columns_added,
                "columns_dropped": outcome.columns_dropped,
                "details": outcome.details,
                "seconds": round(seconds, 4),
            }
        )
        log.info("prepare %s: %d rows in, %d out, %d quarantined, %d changed", tag, rows_in, rows_out, dropped, len(outcome.changed))
        current = outcome.frame
    quarantine = _quarantine_frame(entries, df)
    manifest = {
        "rows_in": len(df),
        "rows_out": len(current),
        "rows_quarantined": len(df) - len(current),
        "rows_changed": len(changed_ids & set(current.index)),
        "quarantine_entries": len(quarantine),
        "input_fingerprint": frame_fingerprint(df),
        "output_fingerprint": frame_fingerprint(current),
        "columns_in": [str(c) for c in df.columns],
        "columns_out": [str(c) for c in current.columns],
        "steps": records,
        "fitted_on": "all rows" if fit_rows is None else f"the training split ({len(fit_rows):,} rows)",
        "invariant": "for every step: rows_in = rows_out + rows_quarantined; changed rows stay in the output and are also in the quarantine (_action: changed)",
    }
    return PrepareResult(current, quarantine, manifest)


def _entries(frame: pd.DataFrame, reasons: dict, tag: str, action: str) -> pd.DataFrame:
    ids = list(reasons)
    rows = frame.loc[ids].copy()
    rows.insert(0, "_reason", [reasons[i] for i in ids])
    rows.insert(0, "_action", action)
    rows.insert(0, "_step", tag)
    rows.insert(0, "_row_id", ids)
    return rows


def _quarantine_frame(entries: list[pd.DataFrame], df: pd.DataFrame) -> pd.DataFrame:
    if not entries:
        empty = pd.DataFrame({c: pd.Series(dtype=object) for c in QUARANTINE_COLUMNS})
        for col in df.columns:
            empty[col] = pd.Series(dtype=df[col].dtype)
        return empty
    out = pd.concat(entries, ignore_index=True, sort=False)
    return out
