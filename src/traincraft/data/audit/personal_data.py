"""Personal data in string columns: e-mails, phones, payment cards (Luhn), IBANs (mod 97), IP
addresses, national-ID numbers and URLs carrying credentials or tokens. One finding per column;
examples are masked so the finding itself does not spread the data."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa

from traincraft.data.audit._constants import PII_SAMPLE_SHOWN
from traincraft.data.audit._context import AuditContext
from traincraft.data.audit._finding import Finding
from traincraft.data.audit._pii import KINDS, candidate_rows, mask_value, scan
from traincraft.data.audit._text import to_arrow_text

NAME = "personal_data"


def scan_column(arr: pa.Array) -> tuple[np.ndarray, list[list]]:
    """(positions of rows holding personal data, the matches of each of those rows)."""
    positions = candidate_rows(arr)
    if not len(positions):
        return positions, []
    texts = arr.take(pa.array(positions)).to_pylist()
    hits, matches = [], []
    for pos, text in zip(positions.tolist(), texts):
        found = scan(text) if text else []
        if found:
            hits.append(pos)
            matches.append(found)
    return np.asarray(hits, dtype=np.int64), matches


def run(ctx: AuditContext) -> list[Finding]:
    out = []
    for col in ctx.df.columns:
        if col == ctx.label or ctx.kinds.get(col) not in ("text", "categorical", "image"):
            continue
        arr = to_arrow_text(ctx.df[col])
        positions, matches = scan_column(arr)
        if not len(positions):
            continue
        per_kind: Counter[str] = Counter()
        rows_per_kind: Counter[str] = Counter()
        examples: dict[str, list[str]] = {}
        for found in matches:
            kinds_here = set()
            for m in found:
                per_kind[m.kind] += 1
                kinds_here.add(m.kind)
                shown = examples.setdefault(m.kind, [])
                if len(shown) < PII_SAMPLE_SHOWN:
                    shown.append(mask_value(m.value))
            rows_per_kind.update(kinds_here)
        kinds = [k for k in KINDS if per_kind[k]]
        summary = ", ".join(f"{per_kind[k]:,} {k.lower().replace('_', ' ')}{'s' if per_kind[k] > 1 else ''}" for k in kinds)
        out.append(
            Finding(
                check=NAME,
                severity="warning",
                count=len(positions),
                row_ids=ctx.ids[positions].tolist(),
                message=f"Column '{col}' holds personal data in {len(positions):,} rows: {summary}. Redact it before training or sharing.",
                fix={"step": "redact", "columns": [col], "kinds": kinds},
                details={
                    "column": col,
                    "matches": {k: per_kind[k] for k in kinds},
                    "rows": {k: rows_per_kind[k] for k in kinds},
                    "examples": examples,
                },
            )
        )
    return out
