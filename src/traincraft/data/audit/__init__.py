"""The data audit: what is wrong with a table before a model learns from it.

    report = audit(df, label="spam")
    for f in report.findings: print(f.severity, f.check, f.count, f.message, f.fix)

One module per check (``CHECKS`` in run order); each returns findings with every affected row id
and the ``prepare:`` step that would fix it. Checks share their expensive parts (normalised text,
duplicate groups, near-duplicate clusters) through an :class:`AuditContext`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import pandas as pd

from traincraft._util.suggest import did_you_mean
from traincraft.data.audit import (
    class_balance,
    conflicting_labels,
    constant_columns,
    disguised_missing,
    exact_duplicates,
    id_like_columns,
    label_issues,
    missing_labels,
    missing_values,
    mixed_types,
    near_duplicates,
    outliers,
    personal_data,
    representation,
    rules,
    split_leakage,
    target_leakage,
    text_length,
)
from traincraft.data.audit._context import AuditContext
from traincraft.data.audit._finding import AuditReport, Finding, jsonable
from traincraft.errors import RecipeError, SchemaError

__all__ = ["CHECKS", "AuditContext", "AuditReport", "Finding", "audit", "jsonable"]

log = logging.getLogger(__name__)

_MODULES: tuple[ModuleType, ...] = (
    missing_labels,
    missing_values,
    disguised_missing,
    mixed_types,
    constant_columns,
    id_like_columns,
    exact_duplicates,
    near_duplicates,
    conflicting_labels,
    class_balance,
    target_leakage,
    outliers,
    text_length,
    personal_data,
    representation,
    rules,
    split_leakage,
    label_issues,
)
CHECKS: dict[str, ModuleType] = {m.NAME: m for m in _MODULES}


def audit(
    df: pd.DataFrame,
    *,
    label: str | None = None,
    schema: Any = None,
    checks: Sequence[str] | None = None,
    sensitive: Sequence[str] = (),
    rules: Sequence[str] = (),
    splits: Any = None,
) -> AuditReport:
    """Run the audit checks on ``df`` and return their findings.

    ``label`` is the column to predict (checks about labels are skipped without one); ``schema``
    (a :class:`traincraft.data.Schema`) overrides the inferred column kinds and roles;
    ``checks`` picks checks by name (default: all of ``CHECKS``); ``sensitive`` names columns
    describing people; ``rules`` are expressions true for irrelevant rows; ``splits`` (an object
    or dict with train/validation/test row ids) turns on the split-leakage check.
    """
    if not isinstance(df, pd.DataFrame):
        raise SchemaError(f"audit needs a pandas DataFrame, got {type(df).__name__}. Read a file with traincraft.data.read_table(path).")
    if schema is not None and label is None:
        label = schema.label
    names = [str(c) for c in df.columns]
    if label is not None and label not in df.columns:
        raise SchemaError(f"Label column '{label}' is not in the data. Columns: {', '.join(names[:30])}.{did_you_mean(str(label), names)}")
    for col in sensitive:
        if col not in df.columns:
            raise SchemaError(f"Sensitive column '{col}' is not in the data. Columns: {', '.join(names[:30])}.{did_you_mean(str(col), names)}")
    selected = _select(checks)
    if len(df) == 0:
        finding = Finding(check="table", severity="error", count=0, message=f"The table has no rows (columns: {', '.join(names[:30]) or 'none'}); there is nothing to audit or train on.")
        return AuditReport([finding], rows=0, columns=names, label=label)
    ctx = AuditContext.build(df, label=label, schema=schema, sensitive=sensitive, rules=rules, splits=splits)
    findings: list[Finding] = []
    seconds: dict[str, float] = {}
    if len(df) == 1:
        findings.append(Finding(check="table", severity="error", count=1, row_ids=df.index.tolist(), message="The table has a single row; a model needs many rows to learn from and to be tested on."))
    for name in selected:
        started = time.perf_counter()
        found = CHECKS[name].run(ctx)
        seconds[name] = time.perf_counter() - started
        log.debug("audit %s: %d findings in %.3f s", name, len(found), seconds[name])
        findings.extend(found)
    return AuditReport(findings, rows=len(df), columns=names, label=label, task=getattr(schema, "task", None), seconds=seconds)


def _select(checks: Sequence[str] | None) -> list[str]:
    if checks is None:
        return list(CHECKS)
    if isinstance(checks, str):
        checks = [checks]
    unknown = [c for c in checks if c not in CHECKS]
    if unknown:
        raise RecipeError(f"Unknown audit check '{unknown[0]}'.{did_you_mean(unknown[0], CHECKS)} Checks: {', '.join(CHECKS)}.")
    return [c for c in CHECKS if c in set(checks)]
