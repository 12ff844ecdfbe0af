"""A recipe as commented YAML: every field with its value and the docstring that explains it.

``traincraft init`` uses it to write a recipe a person can read and edit; the comments come from
the pydantic field docstrings in :mod:`traincraft.recipe._schema`, so they never drift.
"""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import BaseModel

from traincraft.recipe._schema import Recipe

__all__ = ["render_recipe"]

_SECTION_TITLES = {
    "data": "Where the data is and what its columns mean",
    "split": "Train / validation / test split (the test split is read once, at the end)",
    "model": "The network: an encoder per column, concatenated, into an MLP head",
    "train": "The training loop",
    "evaluate": "Final evaluation on the test split",
}


def render_recipe(recipe: Recipe, *, header: str = "", column_notes: dict[str, str] | None = None) -> str:
    """Commented YAML for ``recipe``. ``column_notes`` adds a comment per ``data.columns`` entry."""
    lines: list[str] = []
    if header:
        lines += [f"# {line}".rstrip() for line in header.splitlines()]
    _render_model(recipe, 0, lines, column_notes or {})
    text = "\n".join(lines) + "\n"
    # the output must read back into the same recipe
    assert Recipe.model_validate(yaml.safe_load(text)) == recipe
    return text


def _render_model(model: BaseModel, indent: int, lines: list[str], column_notes: dict[str, str]) -> None:
    pad = " " * indent
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        doc = " ".join((field.description or "").split())
        if isinstance(value, BaseModel):
            if indent == 0:
                lines.append("")
                lines.append(f"# {_SECTION_TITLES.get(name, doc)}")
            elif doc:
                lines.append(f"{pad}# {doc}")
            lines.append(f"{pad}{name}:")
            _render_model(value, indent + 2, lines, column_notes)
        elif name == "columns" and isinstance(value, dict) and value:
            lines.append(f"{pad}# {doc}")
            lines.append(f"{pad}{name}:")
            for col, override in value.items():
                body = _flow(override.model_dump(exclude_none=True))
                note = column_notes.get(col)
                lines.append(f"{pad}  {_key(col)}: {body}" + (f"  # {note}" if note else ""))
        else:
            comment = f"  # {doc}" if doc else ""
            lines.append(f"{pad}{name}: {_flow(value)}{comment}")


def _key(name: str) -> str:
    return _flow(name)


def _flow(value: Any) -> str:
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json", exclude_none=True)
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000, allow_unicode=True).strip()
    return text.removesuffix("\n...").removesuffix("...").strip()
