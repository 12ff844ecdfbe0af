"""The table's schema: what each column holds (type), what it is for (role), and the task.

This module owns type inference from a column's values, role assignment from the recipe's
``data`` section, task inference from the label, and the checks that make a table trainable:
the label exists and has at least two classes, no feature column is empty, some feature is left.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from traincraft._util.suggest import did_you_mean
from traincraft.constants import (
    CATEGORICAL_MAX_UNIQUE_RATIO,
    DATETIME_PARSE_SHARE,
    ID_MIN_ROWS,
    ID_UNIQUE_RATIO,
    IMAGE_EXTENSIONS,
    IMAGE_PATH_SHARE,
    REGRESSION_MIN_UNIQUE,
    SCHEMA_SAMPLE_ROWS,
    TEXT_MIN_MEAN_CHARS,
    TEXT_MIN_MEAN_WORDS,
)
from traincraft.errors import SchemaError
from traincraft.recipe import DataConfig

__all__ = ["TYPES", "ROLES", "TASKS", "ColumnSchema", "Schema", "infer_schema", "labelled_rows"]

TYPES = ("numeric", "categorical", "boolean", "text", "image", "datetime")
ROLES = ("feature", "label", "group", "sensitive", "id", "time", "ignore")
TASKS = ("binary", "multiclass", "regression", "none")

_TRUE = frozenset({"1", "true", "yes", "y", "t"})
_FALSE = frozenset({"0", "false", "no", "n", "f"})
_ID_NAME = re.compile(r"^(?:id|uuid|guid|row_?id|index|unnamed: ?\d+)$|[_\-\s.](?:id|uuid|guid)$", re.IGNORECASE)
_CAMEL_ID = re.compile(r"[a-z0-9](?:Id|ID)$")  # userId, customerID
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_DATE_LIKE = re.compile(
    r"^\s*(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}"  # 2024-01-31, 2024/1/31 (optionally followed by a time)
    r"|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}"  # 31/01/2024, 1-31-24
    rf"|\d{{1,2}}\s+{_MONTH}\s+\d{{2,4}}"  # 31 Jan 2024
    rf"|{_MONTH}\s+\d{{1,2}},?\s+\d{{2,4}})",  # January 31, 2024
    re.IGNORECASE,
)
_SHOWN_COLUMNS = 30


@dataclass
class ColumnSchema:
    """One column: its ``type`` (how values are encoded) and ``role`` (what the column is for).

    ``inferred`` is False when the recipe's ``data.columns`` set the type or role of this column.
    """

    name: str
    type: str
    role: str
    inferred: bool = True

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            hint = did_you_mean(self.type, TYPES)
            raise SchemaError(f"Column '{self.name}' has type {self.type!r}.{hint} Types: {', '.join(TYPES)}.")
        if self.role not in ROLES:
            hint = did_you_mean(self.role, ROLES)
            raise SchemaError(f"Column '{self.name}' has role {self.role!r}.{hint} Roles: {', '.join(ROLES)}.")


@dataclass
class Schema:
    """All columns in table order, the label column (None when unsupervised) and the task."""

    columns: list[ColumnSchema]
    label: str | None
    task: str

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise SchemaError(f"Unknown task {self.task!r}.{did_you_mean(self.task, TASKS)} Tasks: {', '.join(TASKS)}.")
        names = [c.name for c in self.columns]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise SchemaError(f"The schema names a column twice: {', '.join(repeated)}.")
        labels = [c.name for c in self.columns if c.role == "label"]
        if labels != ([self.label] if self.label is not None else []):
            raise SchemaError(
                f"The schema's label is {self.label!r} but the columns with role 'label' are {labels}; "
                "exactly the label column must have that role."
            )

    @property
    def features(self) -> list[str]:
        """Names of the role=feature columns, in table order."""
        return self.by_role("feature")

    def by_role(self, role: str) -> list[str]:
        """Names of the columns with ``role``, in table order."""
        if role not in ROLES:
            raise SchemaError(f"Unknown role {role!r}.{did_you_mean(role, ROLES)} Roles: {', '.join(ROLES)}.")
        return [c.name for c in self.columns if c.role == role]

    def column(self, name: str) -> ColumnSchema:
        """The column called ``name``; a SchemaError with a suggestion if there is none."""
        for col in self.columns:
            if col.name == name:
                return col
        names = [c.name for c in self.columns]
        raise SchemaError(f"Column '{name}' is not in the schema. Columns: {_shown(names)}.{did_you_mean(name, names)}")

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "task": self.task, "columns": [asdict(c) for c in self.columns]}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Schema:
        if not isinstance(d, dict) or not isinstance(d.get("columns"), list) or "task" not in d:
            raise SchemaError("A schema in JSON must be an object with 'columns' (a list), 'label' and 'task'.")
        columns = []
        for i, c in enumerate(d["columns"]):
            if not isinstance(c, dict) or not {"name", "type", "role"} <= set(c):
                raise SchemaError(f"Schema column {i} must be an object with 'name', 'type' and 'role', got {c!r}.")
            columns.append(ColumnSchema(str(c["name"]), c["type"], c["role"], bool(c.get("inferred", True))))
        return cls(columns, d.get("label"), d["task"])


# --- public functions -------------------------------------------------------------------------
def infer_schema(
    df: pd.DataFrame,
    *,
    label: str | None,
    task: str = "auto",
    data: DataConfig | None = None,
    source_name: str | None = None,
) -> Schema:
    """Infer each column's type and role, and the task, from ``df``'s values and the recipe.

    ``label`` is the column to predict (None: no label, task ``none``); when None,
    ``data.label`` is used. ``data`` gives the id/group/time/sensitive columns and per-column
    overrides. ``source_name`` names the data (e.g. the file) in error messages. Types are
    inferred from at most ``SCHEMA_SAMPLE_ROWS`` evenly spaced rows.
    """
    data = data if data is not None else DataConfig()
    where = source_name or "the data"
    label = _resolve_label(label, data)
    _check_frame(df, where)
    if task not in ("auto", *TASKS):
        raise SchemaError(f"Unknown task {task!r}.{did_you_mean(task, TASKS)} Use auto, {', '.join(TASKS)}.")
    declared = _declared_roles(df, label, data, where)
    sample = _sample(df)
    columns = [_column_schema(df[name], sample[name], declared.get(name), data) for name in df.columns]
    label_type = next((c.type for c in columns if c.name == label), None)
    task = _infer_task(df[label], label_type, task, where) if label is not None else _no_label_task(task)
    _check_features(df, columns, where)
    return Schema(columns, label, task)


def labelled_rows(df: pd.DataFrame, schema: Schema) -> tuple[pd.DataFrame, list[int]]:
    """The rows that have a label, and the row ids (index labels) of those that have none.

    A label is missing when it is NaN/None or a blank string. The caller logs or quarantines
    the unlabelled rows; nothing here drops them silently.
    """
    if schema.label is None:
        return df, []
    if schema.label not in df.columns:
        raise SchemaError(
            f"Column '{schema.label}' (the label) is not in this table. Columns: {_shown(list(df.columns))}."
            f"{did_you_mean(str(schema.label), map(str, df.columns))}"
        )
    missing = _missing(df[schema.label]).to_numpy(dtype=bool)
    return df.loc[~missing], df.index[missing].tolist()


# --- frame and recipe checks ------------------------------------------------------------------
def _resolve_label(label: str | None, data: DataConfig) -> str | None:
    if label is None:
        return data.label
    if data.label is not None and data.label != label:
        raise SchemaError(f"Two labels were given: label='{label}' and data.label '{data.label}'. Give one.")
    return label


def _check_frame(df: pd.DataFrame, where: str) -> None:
    if not isinstance(df, pd.DataFrame):
        raise SchemaError(f"infer_schema needs a pandas DataFrame, got {type(df).__name__}.")
    odd = [c for c in df.columns if not isinstance(c, str)]
    if odd:
        raise SchemaError(
            f"Column names must be strings; {where} has {odd[0]!r} ({type(odd[0]).__name__}). "
            "Rename them, e.g. df.columns = [f'x{i}' for i in range(df.shape[1])]."
        )
    names = list(df.columns)
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise SchemaError(f"{where} has repeated column names: {', '.join(repeated)}. Give each column its own name.")
    if len(df) == 0:
        raise SchemaError(f"{where} has no rows, so there is nothing to infer a schema from.")


def _require_column(df: pd.DataFrame, name: str, where: str, origin: str | None = None) -> None:
    if name in df.columns:
        return
    names = list(df.columns)
    given = f" ({origin})" if origin else ""
    raise SchemaError(f"Column '{name}'{given} not found in {where}. Columns: {_shown(names)}.{did_you_mean(name, names)}")


def _declared_roles(df: pd.DataFrame, label: str | None, data: DataConfig, where: str) -> dict[str, str]:
    """Roles the caller and the recipe set explicitly; a column given two roles is an error."""
    roles: dict[str, str] = {}
    origins: dict[str, str] = {}

    def claim(column: str, role: str, origin: str) -> None:
        _require_column(df, column, where, None if origin == "label" else origin)
        if column in roles and roles[column] != role:
            raise SchemaError(
                f"Column '{column}' is given two roles: {roles[column]} ({origins[column]}) and {role} ({origin}). "
                "A column has one role; remove one of them from the recipe."
            )
        roles[column], origins[column] = role, origin

    if label is not None:
        claim(label, "label", "label")
    for role in ("id", "group", "time"):
        if getattr(data, role):
            claim(getattr(data, role), role, f"data.{role}")
    for column in data.sensitive:
        claim(column, "sensitive", "data.sensitive")
    for column, override in data.columns.items():
        _require_column(df, column, where, "data.columns")
        if override.role == "label" and column != label:
            raise SchemaError(f"data.columns.{column}.role is 'label'; name the label with data.label: {column} instead.")
        if override.role is not None:
            claim(column, override.role, f"data.columns.{column}.role")
    return roles


def _sample(df: pd.DataFrame) -> pd.DataFrame:
    """At most SCHEMA_SAMPLE_ROWS evenly spaced rows: deterministic, and fair to sorted files."""
    if len(df) <= SCHEMA_SAMPLE_ROWS:
        return df
    positions = np.unique(np.linspace(0, len(df) - 1, SCHEMA_SAMPLE_ROWS).round().astype(np.int64))
    return df.iloc[positions]


def _column_schema(series: pd.Series, sample: pd.Series, role: str | None, data: DataConfig) -> ColumnSchema:
    override = data.columns.get(series.name)
    kind, id_like = _infer_type(series, sample)
    if override is not None and override.type is not None:
        kind = override.type
    if role is None:
        role = "id" if id_like else "feature"
    return ColumnSchema(series.name, kind, role, inferred=override is None)


def _check_features(df: pd.DataFrame, columns: list[ColumnSchema], where: str) -> None:
    features = [c.name for c in columns if c.role == "feature"]
    for name in features:
        if _missing(df[name]).all():
            raise SchemaError(
                f"Column '{name}' is empty in every row ({len(df)} rows) of {where}. Drop it with "
                f"`data.columns: {{{name}: {{role: ignore}}}}` in the recipe, or fill it in."
            )
    if not features:
        roles = ", ".join(f"{c.name}: {c.role}" for c in columns[:_SHOWN_COLUMNS])
        raise SchemaError(
            f"No feature columns are left in {where} ({roles}). Give at least one column the role "
            "feature, e.g. `data.columns: {name: {role: feature}}`."
        )


# --- type inference ---------------------------------------------------------------------------
def _infer_type(series: pd.Series, sample: pd.Series) -> tuple[str, bool]:
    """(type, id_like): the type from the sampled values; id_like for a row-id column."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean", False
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime", False
    if pd.api.types.is_numeric_dtype(dtype) and not isinstance(dtype, pd.CategoricalDtype):
        # 0/1 numbers stay numeric: digits' pixel_24 is 0/1 in all 1,797 rows but is an intensity
        # 0..16, and a boolean encoder would refuse a 3 at prediction time
        return "numeric", _numeric_id(series)
    values = sample[~_missing(sample)]
    if values.empty:
        return "categorical", False
    objects = values.astype(object)
    if objects.map(lambda v: isinstance(v, (bool, np.bool_))).all():
        return "boolean", False
    if objects.map(lambda v: isinstance(v, (int, float, np.number)) and not isinstance(v, (bool, np.bool_))).all():
        return "numeric", False
    return _string_type(series, objects.astype(str).str.strip())


def _string_type(series: pd.Series, values: pd.Series) -> tuple[str, bool]:
    if _is_boolean(values) and _is_boolean(series):
        return "boolean", False
    if pd.to_numeric(values, errors="coerce").notna().all():
        return "numeric", False
    if values.str.lower().str.endswith(IMAGE_EXTENSIONS).mean() >= IMAGE_PATH_SHARE:
        return "image", False
    if _is_datetime(values):
        return "datetime", False
    if _string_id(series, values):
        return "categorical", True
    if values.str.split().str.len().mean() >= TEXT_MIN_MEAN_WORDS or values.str.len().mean() >= TEXT_MIN_MEAN_CHARS:
        return "text", False
    if len(values) >= ID_MIN_ROWS and values.nunique() / len(values) > CATEGORICAL_MAX_UNIQUE_RATIO:
        return "text", False  # too many distinct short strings for categories; n-grams still generalise
    return "categorical", False


def _is_boolean(values: pd.Series) -> bool:
    """Exactly two distinct values, one true-like and one false-like (1/0, yes/no, t/f, ...)."""
    present = values[~_missing(values)]
    distinct = pd.unique(present.astype(object))
    if len(distinct) != 2:
        return False
    tokens = {_bool_token(v) for v in distinct}
    return len(tokens & _TRUE) == 1 and len(tokens & _FALSE) == 1


def _bool_token(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, float, np.number)):
        return str(int(value)) if float(value).is_integer() else str(value)
    return str(value).strip().lower()


def _is_datetime(values: pd.Series) -> bool:
    """Values that look like dates (not plain numbers) and mostly parse as one format."""
    if values.str.match(_DATE_LIKE).mean() < DATETIME_PARSE_SHARE:
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "could not infer format": the share below decides
        try:
            parsed = pd.to_datetime(values, errors="coerce", utc=True)
        except (ValueError, TypeError, OverflowError):
            return False
    return parsed.notna().mean() >= DATETIME_PARSE_SHARE


def _id_name(name: str) -> bool:
    return bool(_ID_NAME.search(name) or _CAMEL_ID.search(name))


def _numeric_id(series: pd.Series) -> bool:
    """An integer column named like an id with distinct values, or a counter 0..N-1 / 1..N."""
    if not pd.api.types.is_integer_dtype(series.dtype) or series.isna().any():
        return False
    if _id_name(str(series.name)) and series.is_unique:
        return True
    if len(series) < ID_MIN_ROWS or not series.is_monotonic_increasing:
        return False
    first, last = int(series.iloc[0]), int(series.iloc[-1])
    return first in (0, 1) and last - first == len(series) - 1 and series.is_unique


def _string_id(series: pd.Series, values: pd.Series) -> bool:
    """Distinct values without spaces (UUIDs, codes, e-mails): named like an id, or near-unique."""
    if values.str.contains(r"\s", regex=True).any():
        return False
    if _id_name(str(series.name)):
        present = series[~_missing(series)]
        return bool(present.is_unique)
    return len(values) >= ID_MIN_ROWS and values.nunique() / len(values) >= ID_UNIQUE_RATIO


def _missing(series: pd.Series) -> pd.Series:
    """True where a cell is NaN/None/NaT or a blank string."""
    missing = series.isna()
    if series.dtype == object:
        text = series[~missing]
        blank = text.map(lambda v: isinstance(v, str) and not v.strip()).astype(bool)
        missing = missing | blank.reindex(series.index, fill_value=False)
    elif pd.api.types.is_string_dtype(series.dtype):
        missing = missing | series.str.strip().eq("").fillna(False).astype(bool)
    return missing


# --- task inference ---------------------------------------------------------------------------
def _no_label_task(task: str) -> str:
    if task in ("auto", "none"):
        return "none"
    raise SchemaError(f"task '{task}' needs a label column; set data.label (label=... in Python).")


def _infer_task(series: pd.Series, label_type: str | None, task: str, where: str) -> str:
    name = series.name
    values = series[~_missing(series)]
    if values.empty:
        raise SchemaError(
            f"Label column '{name}' has no values: it is empty in all {len(series)} rows of {where}. "
            "Check that it is the right column (data.label), or fill in the labels."
        )
    distinct = values.nunique()
    numeric = pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype)
    if task == "auto":
        task = _auto_task(values, numeric, distinct)
    if task == "regression":
        _check_regression(values, name, numeric, distinct, where)
        return task
    if distinct < 2:
        raise SchemaError(
            f"Label column '{name}' has a single class, {display(values.iloc[0])}, in all {len(values)} labelled rows "
            f"of {where}. A classifier needs at least two classes: check the label column, or that the whole "
            "file was read."
        )
    if task == "binary" and distinct > 2:
        shown = ", ".join(display(v) for v in values.value_counts().index[:5])
        raise SchemaError(
            f"task is binary but label column '{name}' has {distinct} classes ({shown}, ...). "
            "Use task: multiclass (or auto)."
        )
    return task


def _auto_task(values: pd.Series, numeric: bool, distinct: int) -> str:
    if numeric and distinct > 1:
        floats = values.to_numpy(dtype=np.float64)
        if not np.all(np.mod(floats, 1) == 0) or distinct > REGRESSION_MIN_UNIQUE:
            return "regression"
    return "binary" if distinct <= 2 else "multiclass"


def _check_regression(values: pd.Series, name: str, numeric: bool, distinct: int, where: str) -> None:
    if not numeric:
        examples = ", ".join(display(v) for v in values.unique()[:3])
        raise SchemaError(
            f"task is regression but label column '{name}' in {where} is not numeric ({examples}, ...). "
            "Use task: binary / multiclass (or auto), or fix the column."
        )
    if distinct < 2:
        raise SchemaError(
            f"Label column '{name}' has the same value, {display(values.iloc[0])}, in all {len(values)} labelled rows "
            f"of {where}; there is nothing to regress on. Check the label column."
        )


def display(value: Any) -> str:
    """A cell value for a message: ``'ham'``, ``3.5`` (not ``np.float64(3.5)``)."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def _shown(names: list[Any]) -> str:
    shown = ", ".join(str(n) for n in names[:_SHOWN_COLUMNS])
    return shown + (f" ... ({len(names)} in all)" if len(names) > _SHOWN_COLUMNS else "")
