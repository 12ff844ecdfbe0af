"""``report``: (re)build the model card of a run directory — report.html and card.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from traincraft.report import build_report, failed_checks

__all__ = ["report"]


def report(run_dir: str | Path) -> dict[str, Any]:
    """Write ``report.html`` and ``card.json`` into ``run_dir``; return their paths, the
    overfitting verdict, the headline metrics, the failed checks and the limitations."""
    paths = build_report(run_dir)
    card = json.loads(paths["card"].read_text(encoding="utf-8"))
    return {
        "run_dir": str(Path(run_dir)),
        "report": str(paths["html"]),
        "card": str(paths["card"]),
        "task": card["model"]["task"],
        "verdict": card["learning_curves"]["verdict"],
        "verdict_summary": card["learning_curves"]["summary"],
        "headline": card["headline"],
        "failed_checks": failed_checks(card),
        "limitations": card["limitations"],
    }
