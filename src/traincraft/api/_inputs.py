"""Turning what the user passed (recipe path, Recipe, dict, DataFrame, arrays) into a recipe and a table."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from traincraft.data import from_arrays, read_table
from traincraft.errors import RecipeError
from traincraft.recipe import Recipe, load_recipe, recipe_from_dict

__all__ = ["resolve_recipe", "read_source", "source_name"]

log = logging.getLogger(__name__)

RECIPE_SUFFIXES = (".yaml", ".yml")


def resolve_recipe(
    data: Any = None, *, label: str | None = None, recipe: Recipe | dict | str | Path | None = None
) -> tuple[Recipe, pd.DataFrame | None]:
    """(recipe, in-memory frame or None). ``data`` may be a recipe file, a data file, a DataFrame,
    a (X, y) pair of arrays, a :class:`Recipe` or a dict; ``recipe`` adds or overrides settings."""
    frame: pd.DataFrame | None = None
    base: Recipe
    if isinstance(data, Recipe):
        base = data.model_copy(deep=True)
    elif isinstance(data, dict):
        base = recipe_from_dict(data)
    elif isinstance(data, (str, Path)) and Path(data).suffix.lower() in RECIPE_SUFFIXES:
        base = load_recipe(data)
    elif isinstance(data, (str, Path)):
        base = Recipe()
        base.data.source = str(data)
    elif isinstance(data, pd.DataFrame):
        base, frame = Recipe(), data
    elif isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], np.ndarray):
        base, frame = Recipe(), from_arrays(data[0], data[1], label=label or "label")
        label = label or "label"
    elif data is None:
        base = Recipe()
    else:
        raise RecipeError(
            f"Cannot train on a {type(data).__name__}: pass a recipe file (.yaml), a data file, a pandas "
            "DataFrame, a (X, y) pair of numpy arrays, or a traincraft.Recipe."
        )
    if recipe is not None:
        extra = _recipe_arg(recipe)
        merged = _deep_merge(base.model_dump(exclude_unset=True), extra.model_dump(exclude_unset=True))
        base = recipe_from_dict(merged)
    if label is not None:
        base.data.label = label
    if frame is None and not base.data.source:
        raise RecipeError("No data given: set data.source in the recipe, or pass a file or a DataFrame.")
    return base, frame


def _recipe_arg(recipe: Recipe | dict | str | Path) -> Recipe:
    if isinstance(recipe, Recipe):
        return recipe
    if isinstance(recipe, dict):
        return recipe_from_dict(recipe)
    return load_recipe(recipe)


def _deep_merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for key, value in b.items():
        out[key] = _deep_merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def read_source(recipe: Recipe) -> pd.DataFrame:
    """Read ``recipe.data.source`` with the recipe's reading options; the index is the row id."""
    d = recipe.data
    return read_table(d.source, format=d.format, delimiter=d.delimiter, header=d.header, names=d.names, encoding=d.encoding)


def source_name(recipe: Recipe) -> str:
    return Path(recipe.data.source).name if recipe.data.source else "the DataFrame"
