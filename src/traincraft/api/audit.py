"""``audit``: read the data (a file, a recipe or a DataFrame) and run the audit checks on it.

Also the HTML rendering of a report (``traincraft audit --html``) and the split-leakage gate that
``train`` calls after splitting (warn, or stop when ``audit.on_split_leakage: error``).
"""

from __future__ import annotations

import html
import logging
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from traincraft.api._inputs import read_source, resolve_recipe, source_name
from traincraft.data import infer_schema
from traincraft.data.audit import AuditReport, Finding
from traincraft.data.audit import audit as run_audit
from traincraft.errors import DataError, SchemaError
from traincraft.recipe import Recipe

__all__ = ["audit", "audit_html", "check_split_leakage", "recipe_schema"]

log = logging.getLogger(__name__)
ROW_IDS_SHOWN = 20  # row ids per finding in the HTML report (the JSON has all of them)


def recipe_schema(frame: pd.DataFrame, cfg: Recipe) -> Any:
    """The inferred schema, or None when inference refuses the table (the audit reports why instead)."""
    try:
        return infer_schema(frame, label=cfg.data.label, task=cfg.task, data=cfg.data, source_name=source_name(cfg))
    except SchemaError as exc:
        log.debug("schema inference refused the table (%s); auditing with lenient column kinds", exc)
        return None


def audit(
    data: Any,
    *,
    label: str | None = None,
    recipe: Recipe | dict | str | Path | None = None,
    checks: Sequence[str] | None = None,
    sensitive: Sequence[str] = (),
    rules: Sequence[str] = (),
    splits: Any = None,
) -> AuditReport:
    """Audit a data file, a recipe's data or a DataFrame; ``recipe`` adds its roles, rules and checks."""
    cfg, frame = resolve_recipe(data, label=label, recipe=recipe)
    if frame is None:
        frame = read_source(cfg)
    label = cfg.data.label
    if label is not None and label not in frame.columns:
        from traincraft._util.suggest import did_you_mean

        names = [str(c) for c in frame.columns]
        raise SchemaError(f"Label column '{label}' not found in {source_name(cfg)}. Columns: {', '.join(names[:30])}.{did_you_mean(label, names)}")
    schema = recipe_schema(frame, cfg) if len(frame) else None
    sens = list(dict.fromkeys([*cfg.data.sensitive, *sensitive]))
    return run_audit(
        frame,
        label=label,
        schema=schema,
        checks=checks if checks is not None else cfg.audit.checks,
        sensitive=sens,
        rules=[*cfg.audit.rules, *rules],
        splits=splits,
    )


def check_split_leakage(table: pd.DataFrame, splits: Any, cfg: Recipe, *, schema: Any = None) -> list[Finding]:
    """Run the split-leakage check after splitting; log a warning per finding, or raise when the
    recipe says ``audit.on_split_leakage: error``."""
    report = run_audit(table, label=cfg.data.label, schema=schema, checks=["split_leakage"], splits=splits)
    findings = report.findings
    for f in findings:
        log.warning("split leakage: %s", f.message)
    if findings and cfg.audit.on_split_leakage == "error":
        total = sum(f.count for f in findings)
        raise DataError(
            f"The splits leak: {total:,} validation/test rows share exact/near duplicates or groups with an earlier split "
            f"({'; '.join(f.message for f in findings)}) Add `- step: dedupe` (mode: near) to prepare:, use split.method: group, "
            "or set audit.on_split_leakage: warn."
        )
    return findings


_COLOURS = {"error": "#b00020", "warning": "#a15c00", "info": "#2b5d8a"}


def audit_html(report: AuditReport, *, title: str = "Data audit") -> str:
    """A self-contained HTML page of the findings (no scripts, no external files)."""
    rows = []
    for f in report.findings:
        ids = ", ".join(html.escape(str(i)) for i in f.row_ids[:ROW_IDS_SHOWN]) + (" ..." if len(f.row_ids) > ROW_IDS_SHOWN else "")
        fix = html.escape(str(f.fix)) if f.fix else ""
        rows.append(
            f"<tr><td style='color:{_COLOURS[f.severity]};font-weight:bold'>{f.severity}</td><td>{html.escape(f.check)}</td>"
            f"<td style='text-align:right'>{f.count:,}</td><td>{html.escape(f.message)}</td><td><code>{fix}</code></td><td>{ids}</td></tr>"
        )
    counts = ", ".join(f"{n} {s}" for s, n in report.counts.items())
    body = "\n".join(rows) or "<tr><td colspan='6'>No findings.</td></tr>"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;vertical-align:top}}th{{background:#f3f3f3}}</style>
</head><body>
<h1>{html.escape(title)}</h1>
<p>{report.rows:,} rows, {len(report.columns)} columns; label: {html.escape(str(report.label))}. Findings: {counts}.</p>
<table><tr><th>severity</th><th>check</th><th>rows</th><th>message</th><th>fix (prepare step)</th><th>row ids</th></tr>
{body}
</table></body></html>
"""
