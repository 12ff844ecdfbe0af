"""``init_recipe``: look at a data file and write a commented recipe with the inferred schema."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from traincraft.data import infer_schema, read_table
from traincraft.recipe import ColumnOverride, Recipe, render_recipe

__all__ = ["init_recipe"]


def init_recipe(
    data: str | Path,
    *,
    label: str | None,
    output: str | Path | None = None,
    name: str | None = None,
    **read_options: Any,
) -> tuple[str, dict[str, Any]]:
    """(commented YAML, summary) for ``data``. The data path is written relative to ``output``'s folder."""
    data = Path(data)
    options = {k: v for k, v in read_options.items() if v is not None}
    frame = read_table(data, **options)
    recipe = Recipe()
    recipe.data.source = _relative_source(data, output)
    recipe.data.label = label
    for key, value in options.items():
        setattr(recipe.data, key, value)
    schema = infer_schema(frame, label=label, task="auto", data=recipe.data, source_name=data.name)
    notes: dict[str, str] = {}
    for col in schema.columns:
        recipe.data.columns[col.name] = ColumnOverride(type=col.type, role=col.role)
        missing = int(frame[col.name].isna().sum())
        notes[col.name] = f"inferred; {frame[col.name].nunique(dropna=True)} distinct, {missing} missing"
    recipe.task = schema.task if schema.task in ("binary", "multiclass", "regression") else "auto"
    recipe.name = name
    header = (
        f"traincraft recipe for {data.name}: {len(frame)} rows, {len(frame.columns)} columns, task {schema.task}.\n"
        "Every field is shown with its default; delete what you do not change. Train with:\n"
        "  traincraft train recipe.yaml"
    )
    text = render_recipe(recipe, header=header, column_notes=notes)
    summary = {
        "data": str(data),
        "rows": len(frame),
        "task": schema.task,
        "label": label,
        "columns": {c.name: {"type": c.type, "role": c.role} for c in schema.columns},
    }
    return text, summary


def _relative_source(data: Path, output: str | Path | None) -> str:
    if output is None:
        return str(data)
    base = Path(output).resolve().parent
    try:
        return os.path.relpath(data.resolve(), base)
    except ValueError:  # another drive on Windows
        return str(data.resolve())
