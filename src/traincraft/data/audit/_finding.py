"""What a check reports: :class:`Finding`, and the whole :class:`AuditReport`."""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

__all__ = ["Finding", "AuditReport", "Severity", "SEVERITIES", "jsonable"]

Severity = Literal["info", "warning", "error"]
SEVERITIES = ("info", "warning", "error")


def jsonable(value: Any) -> Any:
    """``value`` with numpy scalars/arrays, tuples and NaN turned into plain JSON values."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


@dataclass
class Finding:
    """One problem a check found.

    ``row_ids`` holds every affected row id (the table's index labels), ``fix`` the recipe
    ``prepare:`` step that would fix it (None when only a person can), ``details`` the numbers
    behind the message (per-column counts, groups, pairs...).
    """

    check: str
    severity: Severity
    count: int
    message: str
    row_ids: list[Any] = field(default_factory=list)
    fix: dict[str, Any] | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"Finding severity must be one of {', '.join(SEVERITIES)}, got {self.severity!r}")

    def to_json(self) -> dict[str, Any]:
        return jsonable(
            {
                "check": self.check,
                "severity": self.severity,
                "count": int(self.count),
                "message": self.message,
                "row_ids": self.row_ids,
                "fix": self.fix,
                "details": self.details,
            }
        )


@dataclass
class AuditReport:
    """All findings of one audit, with the table's shape and how long each check took."""

    findings: list[Finding]
    rows: int
    columns: list[str]
    label: str | None = None
    task: str | None = None
    seconds: dict[str, float] = field(default_factory=dict)

    def by_check(self, check: str) -> list[Finding]:
        return [f for f in self.findings if f.check == check]

    def first(self, check: str) -> Finding | None:
        found = self.by_check(check)
        return found[0] if found else None

    @property
    def counts(self) -> dict[str, int]:
        """Findings per severity."""
        c = Counter(f.severity for f in self.findings)
        return {s: c.get(s, 0) for s in SEVERITIES}

    def suggested_steps(self) -> list[dict[str, Any]]:
        """The distinct ``fix`` steps of the findings, errors first: a starting ``prepare:`` list."""
        order = {"error": 0, "warning": 1, "info": 2}
        seen, out = set(), []
        for f in sorted(self.findings, key=lambda f: order[f.severity]):
            if f.fix is None:
                continue
            key = json.dumps(jsonable(f.fix), sort_keys=True)
            if key not in seen:
                seen.add(key)
                out.append(f.fix)
        return out

    def to_json(self) -> dict[str, Any]:
        return jsonable(
            {
                "rows": self.rows,
                "columns": self.columns,
                "label": self.label,
                "task": self.task,
                "counts": self.counts,
                "findings": [f.to_json() for f in self.findings],
                "suggested_prepare": self.suggested_steps(),
                "seconds": {k: round(v, 4) for k, v in self.seconds.items()},
            }
        )
