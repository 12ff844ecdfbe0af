"""``redact``: replace personal data in text with typed placeholders (<EMAIL>, <PHONE>, <CARD>, ...)."""

from __future__ import annotations

from collections import Counter

import pandas as pd
import pyarrow as pa

from traincraft.data.audit._context import column_kind
from traincraft.data.audit._pii import candidate_rows, redact_text
from traincraft.data.audit._text import to_arrow_text
from traincraft.data.prepare._outcome import StepContext, StepOutcome
from traincraft.data.prepare.drop_missing import check_columns
from traincraft.recipe._prepare import RedactStep

NAME = "redact"


def apply(df: pd.DataFrame, step: RedactStep, sc: StepContext) -> StepOutcome:
    if step.columns is None:
        columns = [c for c in df.columns if c != sc.label and (df[c].dtype == object or pd.api.types.is_string_dtype(df[c].dtype))
                   and column_kind(df[c]) in ("text", "categorical")]
    else:
        check_columns(df, step.columns, "redact")
        columns = step.columns
    kinds = tuple(step.kinds)
    out = df.copy()
    changed: dict = {}
    totals: Counter[str] = Counter()
    for col in columns:
        arr = to_arrow_text(df[col])
        positions = candidate_rows(arr, kinds)
        if not len(positions):
            continue
        texts = arr.take(pa.array(positions)).to_pylist()
        column = out[col].astype(object).copy()
        for pos, text in zip(positions.tolist(), texts):
            if not text:
                continue
            new, found = redact_text(text, kinds)
            if not found:
                continue
            column.iat[pos] = new
            counts = Counter(m.kind for m in found)
            totals.update(counts)
            rid = df.index[pos]
            what = ", ".join(f"{n} {k}" for k, n in counts.items())
            changed[rid] = (changed[rid] + "; " if rid in changed else "") + f"redacted {what} in '{col}'"
        out[col] = column
    return StepOutcome(out, changed=changed, details={"redacted": dict(totals)})
