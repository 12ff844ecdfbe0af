"""training imports only what DESIGN.md allows, and its public surface is pinned."""

from __future__ import annotations

import ast
from pathlib import Path

import traincraft.training

# DESIGN.md: training ─► models, features ─► data ─► recipe ─► _util, errors (clustering and anomaly
# fitting encode tables with features; the supervised loop itself takes tensors only)
ALLOWED = {"errors", "constants", "_util", "recipe", "data", "features", "models", "training"}


def test_training_imports_nothing_above_it():
    package = Path(traincraft.training.__file__).parent
    offenders = []
    for path in package.glob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                parts = name.split(".")
                if parts[0] == "traincraft" and (len(parts) < 2 or parts[1] not in ALLOWED):
                    offenders.append(f"{path.name}: {name}")
    assert offenders == []


def test_public_surface():
    assert sorted(traincraft.training.__all__) == [
        "Callback",
        "Checkpoint",
        "EarlyStopping",
        "FitResult",
        "LRFindResult",
        "LRSchedule",
        "MetricsLog",
        "RNGState",
        "Trainer",
        "autocast_context",
        "build_optimizer",
        "capture_rng_state",
        "find_lr",
        "load_checkpoint",
        "pick_device",
        "read_metrics",
        "restore_rng_state",
        "save_checkpoint",
    ]
    for name in traincraft.training.__all__:
        assert getattr(traincraft.training, name) is not None
