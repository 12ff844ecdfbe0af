"""Text length: empty or too-short texts (too little to learn from, often junk rows), and texts of
extreme length (robust z-score of log length; pasted logs, concatenated records)."""

from __future__ import annotations

import numpy as np
import pyarrow.compute as pc

from traincraft.data.audit._constants import TEXT_LENGTH_MIN_SCALE, TEXT_LENGTH_Z, TEXT_MIN_CHARS
from traincraft.data.audit._context import AuditContext
from traincraft.data.audit._finding import Finding
from traincraft.data.audit.outliers import robust_bounds

NAME = "text_length"


def run(ctx: AuditContext) -> list[Finding]:
    out = []
    for col in ctx.text_columns:
        norm = ctx.normalised(col)
        length = pc.fill_null(pc.utf8_length(norm), -1).to_numpy(zero_copy_only=False).astype(np.int64)
        present = length >= 0
        short = present & (length < TEXT_MIN_CHARS)
        count = int(short.sum())
        if count:
            empty = int((present & (length == 0)).sum())
            out.append(
                Finding(
                    check=NAME,
                    severity="warning",
                    count=count,
                    row_ids=ctx.ids[short].tolist(),
                    message=(
                        f"Column '{col}' has {count:,} texts shorter than {TEXT_MIN_CHARS} characters"
                        + (f" ({empty:,} empty)" if empty else "")
                        + "; too little to learn from."
                    ),
                    fix={"step": "filter", "drop_if": [f"len(`{col}`) < {TEXT_MIN_CHARS}"]},
                    details={"column": col, "empty": empty},
                )
            )
        logs = np.where(present & (length > 0), np.log1p(np.maximum(length, 0)), np.nan)
        bounds = robust_bounds(logs, TEXT_LENGTH_Z, min_scale=TEXT_LENGTH_MIN_SCALE)
        if bounds is None:
            continue
        long_ = np.isfinite(logs) & (logs > bounds[1])
        count = int(long_.sum())
        if count:
            limit = int(np.expm1(bounds[1]))
            out.append(
                Finding(
                    check=NAME,
                    severity="info",
                    count=count,
                    row_ids=ctx.ids[long_].tolist(),
                    message=f"Column '{col}' has {count:,} texts longer than {limit:,} characters (median {int(np.median(length[present])):,}); check they are one record each.",
                    fix={"step": "filter", "drop_if": [f"len(`{col}`) > {limit}"]},
                    details={"column": col, "limit": limit, "longest": int(length.max())},
                )
            )
    return out
