"""The run directory (the spine of a run): its layout, a fresh unique name, and run summaries."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from traincraft.errors import RecipeError

__all__ = ["RunPaths", "new_run_dir", "existing_run_dir"]


@dataclass(frozen=True)
class RunPaths:
    """Where each artifact of a run lives (see DESIGN.md, "The run directory")."""

    root: Path

    @property
    def recipe(self) -> Path:
        return self.root / "recipe.yaml"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def splits(self) -> Path:
        return self.data / "splits.json"

    @property
    def manifest(self) -> Path:
        return self.data / "manifest.json"

    @property
    def quarantine(self) -> Path:
        return self.data / "quarantine.parquet"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.jsonl"

    @property
    def bundle(self) -> Path:
        return self.root / "bundle"

    @property
    def summary(self) -> Path:
        return self.root / "run.json"


def _slug(text: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-.")
    return slug or "run"


def new_run_dir(runs_dir: str | Path, name: str | None, *, stem: str = "run") -> RunPaths:
    """Create a new, empty run directory. Never reuses one: an existing name gets a -2, -3... suffix."""
    runs_dir = Path(runs_dir)
    base = _slug(name) if name else f"{_slug(stem)}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    runs_dir.mkdir(parents=True, exist_ok=True)
    for i in range(1, 10_000):
        candidate = runs_dir / (base if i == 1 else f"{base}-{i}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return RunPaths(candidate)
    raise RecipeError(f"Could not find a free run directory name for '{base}' in {runs_dir}; choose another name.")


def existing_run_dir(path: str | Path) -> RunPaths:
    """A run directory to resume: it must hold recipe.yaml and a checkpoint."""
    root = Path(path)
    if not root.is_dir():
        raise RecipeError(f"Run directory {root} does not exist; --resume takes the runs/<name> folder of an earlier run.")
    paths = RunPaths(root)
    if not paths.recipe.exists():
        raise RecipeError(f"{root} is not a traincraft run directory (no recipe.yaml in it).")
    last = paths.checkpoints / "last"
    if not last.exists() and not last.with_name("last.old").exists():
        raise RecipeError(f"{root} holds no checkpoint to resume from ({last} is missing); start a new run instead.")
    return paths
