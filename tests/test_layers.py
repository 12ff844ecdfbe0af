"""DESIGN.md's layering, enforced: walk every module's imports and fail on an upward one.

    cli ─► api ─► serving, report, finetune, rl ─► evaluation, training ─► models, features ─► data ─► recipe ─► _util, errors
"""

from __future__ import annotations

import ast
from pathlib import Path

import traincraft

PACKAGE = Path(traincraft.__file__).parent

LAYER = {
    "errors": 0, "constants": 0, "_util": 0, "_version": 0,
    "recipe": 1,
    "data": 2,
    "features": 3, "models": 3,
    "evaluation": 4, "training": 4,
    "serving": 5, "report": 5, "finetune": 5, "rl": 5,
    "api": 6,
    "cli": 7,
    "__init__": 8, "__main__": 8,
}
# same-layer imports that DESIGN.md forbids outright
FORBIDDEN = {
    ("evaluation", "training"),  # evaluation never imports training
    ("serving", "training"),  # a served model carries no training code
    ("models", "features"),  # models are built from a JSON spec, not from encoders
    ("training", "evaluation"),  # the trainer takes a metrics function instead
}


def _top(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "traincraft":
        return None
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "traincraft":  # `from traincraft import api` imports the subpackage api
                found += [(f"traincraft.{alias.name}", node.lineno) for alias in node.names]
            else:
                found.append((node.module, node.lineno))
    return found


def _violations() -> list[str]:
    bad = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        owner = rel.parts[0].removesuffix(".py")
        assert owner in LAYER, f"{rel}: module '{owner}' has no layer in this test; add it to LAYER as DESIGN.md says"
        for module, line in _imports(path):
            target = _top(module)
            if target is None or target == owner:
                continue
            if target == "__init__" and owner not in ("__init__", "__main__"):
                bad.append(f"{rel}:{line} imports the top-level package 'traincraft' (import from the module that owns the name)")
                continue
            assert target in LAYER, f"{rel}:{line} imports unknown traincraft module {module}"
            if LAYER[target] > LAYER[owner] or (owner, target) in FORBIDDEN:
                bad.append(f"{rel}:{line} ({owner}, layer {LAYER[owner]}) imports {module} ({target}, layer {LAYER[target]})")
    return bad


def test_no_module_imports_upward() -> None:
    assert _violations() == []


def test_the_checker_catches_an_upward_import(tmp_path, monkeypatch) -> None:
    fake = tmp_path / "traincraft"
    (fake / "data").mkdir(parents=True)
    (fake / "data" / "bad.py").write_text("from traincraft.training.trainer import Trainer\n")
    (fake / "serving").mkdir()
    (fake / "serving" / "worse.py").write_text("import traincraft.training\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", fake)
    found = _violations()
    assert any("data/bad.py:1" in v for v in found)
    assert any("serving/worse.py:1" in v for v in found)
