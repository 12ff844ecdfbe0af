"""Reading, validating and writing recipes; pydantic errors become messages a person can act on."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from traincraft._util.atomic import atomic_write_text
from traincraft._util.suggest import did_you_mean
from traincraft.errors import RecipeError
from traincraft.recipe._schema import Recipe

__all__ = ["load_recipe", "recipe_from_dict", "dump_recipe", "save_recipe"]


def load_recipe(path: str | os.PathLike) -> Recipe:
    """Read and validate a recipe file; relative data paths become relative to the file."""
    path = Path(path)
    if not path.exists():
        raise RecipeError(f"Recipe file {path} does not exist. Create one with: traincraft init DATA --label COLUMN > {path}")
    if path.is_dir():
        raise RecipeError(f"{path} is a directory; pass the recipe file (e.g. {path / 'recipe.yaml'}).")
    text = path.read_text(encoding="utf-8")
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise RecipeError(f"Recipe {path} is not valid YAML{where}: {problem}.") from None
    if raw is None:
        raise RecipeError(f"Recipe {path} is empty. The smallest recipe is:\ndata:\n  source: data.csv\n  label: y")
    recipe = recipe_from_dict(raw, origin=str(path))
    source = recipe.data.source
    if source and not source.startswith(("sklearn:", "package:")) and not Path(source).is_absolute():
        recipe.data.source = str((path.parent / source).resolve()) if path.parent != Path(".") else source
    return recipe


def recipe_from_dict(raw: Any, *, origin: str = "recipe") -> Recipe:
    """Validate a mapping (e.g. parsed YAML) into a :class:`Recipe`, with readable errors."""
    if not isinstance(raw, dict):
        raise RecipeError(f"{origin} must be a mapping of sections (data, split, model, train, ...), got {type(raw).__name__}.")
    try:
        return Recipe.model_validate(raw)
    except ValidationError as exc:
        raise RecipeError(_format_errors(exc, raw, origin)) from None


def _format_errors(exc: ValidationError, raw: dict, origin: str) -> str:
    by_path: dict[str, list[dict]] = {}
    for err in exc.errors(include_url=False):
        loc = [p for p in err["loc"] if not _is_union_tag(p)]
        err = dict(err, loc=loc)
        by_path.setdefault(".".join(str(p) for p in loc) or "(top level)", []).append(err)
    lines = [f"{origin} has {len(by_path)} problem{'s' if len(by_path) > 1 else ''}:"]
    for path, errs in by_path.items():
        loc = errs[0]["loc"]
        if errs[0]["type"] == "extra_forbidden":
            key = str(loc[-1])
            allowed = _fields_at(loc[:-1])
            msg = f"  {path}: unknown key '{key}'.{did_you_mean(key, allowed)}"
            if allowed:
                msg += f" Allowed here: {', '.join(allowed)}."
        else:
            value = _value_at(raw, loc)
            given = f" (got {value!r})" if value is not _MISSING else ""
            wants = [_expected(e) for e in errs]
            text = wants[0] if len(wants) == 1 else "must be " + " or ".join(w.removeprefix("must be ") for w in wants)
            if isinstance(value, str):
                options = [o for e in errs if e["type"] == "literal_error" for o in _literal_options(e)]
                if options:
                    text += "." + did_you_mean(value, options)
            msg = f"  {path}: {text}{given}"
        lines.append(msg)
    lines.append("See `traincraft init DATA --label COL` for a commented recipe with every field.")
    return "\n".join(lines)


_EXPECTED = {
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "int_parsing": "must be an integer",
    "int_type": "must be an integer",
    "int_from_float": "must be a whole number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_type": "must be a string",
    "dict_type": "must be a mapping",
    "list_type": "must be a list",
    "tuple_type": "must be a list of two numbers",
    "model_type": "must be a mapping",
}


def _expected(err: dict) -> str:
    kind = err["type"]
    if kind == "literal_error":
        return f"must be one of {err.get('ctx', {}).get('expected', '')}"
    if kind in _EXPECTED:
        return _EXPECTED[kind]
    text = err["msg"]
    return text[len("Value error, "):] if text.startswith("Value error, ") else text


def _literal_options(err: dict) -> list[str]:
    expected = err.get("ctx", {}).get("expected", "")
    return [o.strip().strip("'") for o in expected.replace(" or ", ",").split(",") if o.strip()]


_MISSING = object()


def _is_union_tag(part: Any) -> bool:
    # pydantic adds the union member's name ("float", "literal['auto']", "function-after[...]") to loc
    return isinstance(part, str) and ("[" in part or part in {"float", "int", "str", "bool", "dict[str,float]"})


def _value_at(raw: Any, loc: list) -> Any:
    cur = raw
    for part in loc:
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and isinstance(part, int) and part < len(cur):
            cur = cur[part]
        else:
            return _MISSING
    return cur


def _fields_at(loc: list) -> list[str]:
    model: type[BaseModel] | None = Recipe
    skip_key = False
    for part in loc:
        if skip_key or isinstance(part, int):
            skip_key = False
            continue
        if model is None:
            return []
        field = model.model_fields.get(str(part))
        if field is None:
            return []
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            model = ann
            continue
        args = getattr(ann, "__args__", ())
        # dict[str, ColumnOverride]: the next part is a column name, then the override's fields
        if args and isinstance(args[-1], type) and issubclass(args[-1], BaseModel):
            model, skip_key = args[-1], True
        else:
            model = None
    return list(model.model_fields) if model is not None else []


def dump_recipe(recipe: Recipe) -> str:
    """The resolved recipe (every default filled in) as YAML."""
    data = recipe.model_dump(mode="json")
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def save_recipe(recipe: Recipe, path: str | os.PathLike) -> Path:
    return atomic_write_text(path, dump_recipe(recipe))
