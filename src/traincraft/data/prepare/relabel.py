"""``relabel``: apply a person's review decisions: ``keep``, ``relabel:<label>`` or ``drop`` per row id.

The decisions file (CSV, written by ``traincraft review apply``) has the columns ``row_id`` and
``decision``; rows it names that are no longer in the data (removed by an earlier step) are
counted, not an error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from traincraft.data.prepare._outcome import StepContext, StepOutcome
from traincraft.errors import DataError, RecipeError
from traincraft.recipe._prepare import RelabelStep

NAME = "relabel"
DECISIONS = ("keep", "drop", "relabel:<label>")


def parse_decision(text: Any, where: str) -> tuple[str, str | None]:
    """('keep' | 'drop' | 'relabel', new label or None); a DataError naming ``where`` otherwise."""
    raw = "" if text is None or (isinstance(text, float) and np.isnan(text)) else str(text).strip()
    low = raw.lower()
    if low in ("keep", "drop"):
        return low, None
    if low.startswith("relabel:") and raw[len("relabel:"):].strip():
        return "relabel", raw[len("relabel:"):].strip()
    raise DataError(f"{where}: decision {raw!r} is not one of keep, drop, relabel:<label> (e.g. relabel:spam).")


def load_decisions(source: Any) -> pd.DataFrame:
    """The decisions as a frame with columns row_id (str) and decision."""
    if isinstance(source, pd.DataFrame):
        frame = source.copy()
        origin = "the review decisions"
    else:
        path = Path(source)
        if not path.exists():
            raise RecipeError(f"Review decisions file {path} does not exist. Write it with: traincraft review apply QUEUE.csv --recipe RECIPE")
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        origin = str(path)
    missing = [c for c in ("row_id", "decision") if c not in frame.columns]
    if missing:
        raise DataError(f"{origin} has no '{missing[0]}' column; it needs row_id and decision columns.")
    frame["row_id"] = frame["row_id"].astype(str).str.strip()
    for i, d in enumerate(frame["decision"].tolist()):
        parse_decision(d, f"{origin} line {i + 2}")
    return frame


def apply(df: pd.DataFrame, step: RelabelStep, sc: StepContext) -> StepOutcome:
    if sc.label is None:
        raise DataError("relabel needs a label column; set data.label in the recipe.")
    source = sc.review
    if source is None:
        path = Path(step.review)
        if not path.is_absolute() and sc.base_dir is not None:
            path = Path(sc.base_dir) / path
        if not path.exists() and step.missing_ok:
            return StepOutcome(df, details={"decisions": 0, "file": str(path)})
        source = path
    decisions = load_decisions(source)
    by_id = {str(i): i for i in df.index}
    out = df.copy()
    label = out[sc.label].astype(object).copy()
    numeric = pd.api.types.is_numeric_dtype(df[sc.label].dtype)
    dropped, changed, absent = {}, {}, 0
    for rid_text, decision in zip(decisions["row_id"], decisions["decision"]):
        if rid_text not in by_id:
            absent += 1
            continue
        rid = by_id[rid_text]
        kind, new = parse_decision(decision, f"row {rid_text}")
        if kind == "drop":
            dropped[rid] = "reviewer decided: drop"
        elif kind == "relabel":
            value: Any = new
            if numeric:
                try:
                    value = float(new) if "." in new else int(new)
                except ValueError:
                    raise DataError(f"row {rid_text}: relabel:{new} is not a number, but the label '{sc.label}' is numeric.") from None
            if str(label.loc[rid]) != str(value):
                changed[rid] = f"reviewer relabelled {label.loc[rid]!r} -> {value!r}"
                label.loc[rid] = value
    out[sc.label] = label.astype(df[sc.label].dtype) if numeric else label
    keep = ~out.index.isin(list(dropped))
    return StepOutcome(out.loc[keep], dropped=dropped, changed={k: v for k, v in changed.items() if k not in dropped},
                       details={"decisions": len(decisions), "not_in_data": absent})
