"""Train / validation / test splits: which row ids go where, seeded, kept as ``splits.json``.

This module owns the four split methods (stratified by label, random, by group, by time), the
check that every split with a positive fraction gets rows, and the saved form of a split: row
ids (the frame's index labels), never the rows themselves.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from traincraft._util.atomic import atomic_write_text
from traincraft.data.schema import Schema, display
from traincraft.errors import DataError
from traincraft.recipe import SplitConfig

__all__ = ["SPLITS", "METHODS", "Splits", "make_splits", "cross_validation_fold"]

log = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")
METHODS = ("stratified", "random", "group", "time")

Positions = tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass
class Splits:
    """Row ids (index labels of the split frame) of each split, and how they were drawn."""

    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray
    method: str
    seed: int

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise DataError(f"Unknown split method {self.method!r}; one of {', '.join(METHODS)}.")
        for name in SPLITS:
            setattr(self, name, _row_ids(getattr(self, name), name))
        self._check_each_row_once()

    def _check_each_row_once(self) -> None:
        ids = np.sort(np.concatenate([getattr(self, name) for name in SPLITS]))  # one sort: fast for 10^6 rows
        repeated = ids[1:][ids[1:] == ids[:-1]]
        if not len(repeated):
            return
        row = int(repeated[0])
        holders = [name for name in SPLITS if (getattr(self, name) == row).any()]
        if len(holders) == 1:
            raise DataError(f"The {holders[0]} split lists row id {row} more than once.")
        raise DataError(
            f"Row {row} is in both the {holders[0]} and the {holders[1]} split; splits must not share rows."
        )

    def restricted_to(self, row_ids: Any) -> Splits:
        """The same split less the rows not in ``row_ids`` (those a prepare step dropped)."""
        keep = np.asarray(pd.Index(row_ids).to_numpy())
        parts = [getattr(self, name)[np.isin(getattr(self, name), keep)] for name in SPLITS]
        return Splits(*parts, method=self.method, seed=self.seed)

    @property
    def sizes(self) -> dict[str, int]:
        """Rows per split: ``{"train": n, "validation": n, "test": n}``."""
        return {name: int(len(getattr(self, name))) for name in SPLITS}

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"method": self.method, "seed": int(self.seed)}
        out.update({name: getattr(self, name).tolist() for name in SPLITS})
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Splits:
        missing = [k for k in ("method", "seed", *SPLITS) if not isinstance(d, dict) or k not in d]
        if missing:
            raise DataError(
                f"Split data must have the keys method, seed, train, validation, test; missing: {', '.join(missing)}."
            )
        if isinstance(d["seed"], bool) or not isinstance(d["seed"], int):
            raise DataError(f"Split seed must be a whole number, got {d['seed']!r}.")
        return cls(d["train"], d["validation"], d["test"], method=d["method"], seed=d["seed"])

    def save(self, path: str | os.PathLike) -> Path:
        """Write ``splits.json`` atomically: one line per key, so it diffs and reads well."""
        d = self.to_json()
        body = ",\n".join(f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in d.items())
        return atomic_write_text(path, "{\n" + body + "\n}\n")

    @classmethod
    def load(cls, path: str | os.PathLike) -> Splits:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise DataError(f"Split file {path} not found; it is written by make_splits(...).save(path).") from None
        try:
            d = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(
                f"Split file {path} is not valid JSON (line {exc.lineno}: {exc.msg}); it may be truncated."
            ) from None
        try:
            return cls.from_json(d)
        except DataError as exc:
            raise DataError(f"Split file {path}: {exc}") from None


def make_splits(df: pd.DataFrame, schema: Schema, config: SplitConfig, *, seed: int) -> Splits:
    """Divide ``df``'s rows into train / validation / test as ``config`` says, deterministically.

    ``stratified`` keeps each class's share in every split (it falls back to ``random``, with
    a warning, for regression or a class with fewer rows than splits); ``group`` keeps each
    value of the role=group column in one split; ``time`` puts train before validation before
    test by the role=time column (equal times stay in one split). The three splits are
    disjoint and cover every row; a split with a positive fraction is never empty.
    """
    _check_index(df)
    fractions = (config.train, config.validation, config.test)
    rng = np.random.default_rng(seed)
    method = config.method
    if method == "stratified":
        positions, method = _stratified(df, schema, fractions, rng)
    elif method == "random":
        positions = _random(len(df), fractions, rng)
    elif method == "group":
        positions = _grouped(df, schema, fractions, rng)
    else:
        positions = _by_time(df, schema, fractions)
    ids = df.index.to_numpy()
    splits = Splits(*(np.sort(ids[p]) for p in positions), method=method, seed=seed)
    sizes = ", ".join(f"{name} {size}" for name, size in splits.sizes.items())
    log.info("Split %d rows (%s, seed %d): %s", len(df), method, seed, sizes)
    return splits


def cross_validation_fold(df: pd.DataFrame, schema: Schema, splits: Splits, *, folds: int, fold: int, seed: int) -> Splits:
    """Fold ``fold`` of ``folds``-fold cross-validation over the training and validation rows of
    ``splits``: that fold is the validation split, the other folds the training split. The test
    rows stay where they are (and a search never reads them).

    Folds follow the split's method: ``stratified`` deals each class's rows round the folds,
    ``group`` keeps each group in one fold, ``random`` deals rows at random; ``time`` is refused
    (a fold from the past scored by a model of the future is not a forecast).
    """
    if not 2 <= folds or not 0 <= fold < folds:
        raise DataError(f"fold {fold} of {folds}: need folds >= 2 and 0 <= fold < folds.")
    if splits.method == "time":
        raise DataError("Cross-validation folds would put later rows before earlier ones; split.method time has none. Use search without folds.")
    pool = np.sort(np.concatenate([splits.train, splits.validation]))
    if len(pool) < folds:
        raise DataError(f"{len(pool)} training and validation rows cannot fill {folds} folds; use fewer folds.")
    rng = np.random.default_rng([seed, folds])
    rows = df.loc[pool]
    if splits.method == "group":
        column = _single_column(schema, "group", "group", "patient_id")
        codes = _group_codes(_column(rows, column, "group"), column)
        n_groups = int(codes.max()) + 1
        if n_groups < folds:
            raise DataError(f"The group column '{column}' has {n_groups} group(s) among the training and validation rows; {folds} folds need as many. Use fewer folds.")
        sizes = np.bincount(codes, minlength=n_groups)
        load = np.zeros(folds, dtype=np.int64)
        of_group = np.empty(n_groups, dtype=np.int64)
        shuffled = rng.permutation(n_groups)  # ties between equal sizes fall at random
        for g in shuffled[np.argsort(-sizes[shuffled], kind="stable")]:
            of_group[g] = int(np.argmin(load))  # the largest groups first, each to the lightest fold
            load[of_group[g]] += sizes[g]
        of_row = of_group[codes]
    else:
        of_row = np.empty(len(pool), dtype=np.int64)
        if splits.method == "stratified" and schema.label is not None:
            codes, _ = pd.factorize(_column(rows, schema.label, "label"), use_na_sentinel=False)
            strata = [np.flatnonzero(codes == c) for c in range(int(codes.max()) + 1)]
        else:
            strata = [np.arange(len(pool))]
        start = 0
        for positions in strata:  # deal each class round the folds, continuing where the last one stopped
            dealt = rng.permutation(positions)
            of_row[dealt] = (start + np.arange(len(dealt))) % folds
            start = (start + len(dealt)) % folds
    held = of_row == fold
    return Splits(pool[~held], pool[held], splits.test, method=splits.method, seed=splits.seed)


# --- shared pieces ----------------------------------------------------------------------------
def _row_ids(values: Any, name: str) -> np.ndarray:
    ids = np.asarray(values)
    if ids.size == 0:
        return np.array([], dtype=np.int64)
    if ids.ndim != 1 or not (np.issubdtype(ids.dtype, np.integer) and not np.issubdtype(ids.dtype, np.bool_)):
        raise DataError(f"The {name} split must be a 1-D list of integer row ids, got {ids.dtype} with shape {ids.shape}.")
    return ids.astype(np.int64)


def _check_index(df: pd.DataFrame) -> None:
    if len(df) == 0:
        raise DataError("There are no rows to split.")
    if not pd.api.types.is_integer_dtype(df.index.dtype) or not df.index.is_unique:
        raise DataError(
            "Splits store row ids, the frame's index, so it must hold unique integers; "
            "this one does not. Reset it with df.reset_index(drop=True) before splitting."
        )


def _allocate(n: int, fractions: tuple[float, ...]) -> list[int]:
    """Split ``n`` rows by ``fractions`` (largest remainder), giving each positive fraction a row if it can."""
    raw = np.asarray(fractions, dtype=np.float64) * n
    counts = np.floor(raw).astype(np.int64)
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[: n - int(counts.sum())]] += 1
    for i, fraction in enumerate(fractions):
        if fraction > 0 and counts[i] == 0 and counts.max() > 1:
            counts[int(np.argmax(counts))] -= 1
            counts[i] += 1
    return [int(c) for c in counts]


def _check_not_empty(sizes: list[int], fractions: tuple[float, ...], n: int, method: str) -> None:
    for name, size, fraction in zip(SPLITS, sizes, fractions):
        if fraction > 0 and size == 0:
            raise DataError(
                f"The {name} split would be empty: {n} rows x {fraction:g} is {n * fraction:.2f} rows "
                f"(split.method {method}). Use more data, or set split.{name}: 0 and raise the other fractions "
                "so they add up to 1."
            )


def _cut(order: np.ndarray, counts: list[int]) -> Positions:
    first, second = counts[0], counts[0] + counts[1]
    return order[:first], order[first:second], order[second:]


# --- methods ----------------------------------------------------------------------------------
def _random(n: int, fractions: tuple[float, ...], rng: np.random.Generator) -> Positions:
    counts = _allocate(n, fractions)
    _check_not_empty(counts, fractions, n, "random")
    return _cut(rng.permutation(n), counts)


def _stratified(
    df: pd.DataFrame, schema: Schema, fractions: tuple[float, ...], rng: np.random.Generator
) -> tuple[Positions, str]:
    if schema.label is None or schema.task not in ("binary", "multiclass"):
        log.warning("split.method stratified needs class labels, but the task is %s; splitting at random.", schema.task)
        return _random(len(df), fractions, rng), "random"
    codes, classes = pd.factorize(_column(df, schema.label, "label"), use_na_sentinel=False)
    per_class = np.bincount(codes, minlength=len(classes))
    needed = sum(1 for f in fractions if f > 0)
    small = int(np.argmin(per_class))
    if per_class[small] < needed:
        log.warning(
            "Class %s has %d row(s), too few to put one in each of the %d splits; splitting at random instead of "
            "stratified (give each class at least %d rows, or set a split fraction to 0).",
            display(classes[small]), per_class[small], needed, needed,
        )
        return _random(len(df), fractions, rng), "random"
    parts: list[list[np.ndarray]] = [[], [], []]
    by_class = np.split(np.argsort(codes, kind="stable"), np.cumsum(per_class)[:-1])
    for rows in by_class:
        rows = rng.permutation(rows)
        for part, chunk in zip(parts, _cut(rows, _allocate(len(rows), fractions))):
            part.append(chunk)
    return tuple(np.concatenate(p) for p in parts), "stratified"  # type: ignore[return-value]


def _grouped(df: pd.DataFrame, schema: Schema, fractions: tuple[float, ...], rng: np.random.Generator) -> Positions:
    column = _single_column(schema, "group", "group", "patient_id")
    codes = _group_codes(_column(df, column, "group"), column)
    sizes = np.bincount(codes)
    needed = sum(1 for f in fractions if f > 0)
    if len(sizes) < needed:
        raise DataError(
            f"The group column '{column}' has {len(sizes)} group(s), but a group split into {needed} splits needs at "
            "least one group per split. Use more groups, set a split fraction to 0, or use split.method random."
        )
    order = rng.permutation(len(sizes))
    middle = (np.cumsum(sizes[order]) - sizes[order] / 2) / len(df)  # each group's centre on [0, 1]
    assigned = np.empty(len(sizes), dtype=np.int64)
    assigned[order] = np.searchsorted(np.cumsum(fractions)[:2], middle, side="right")
    _fill_empty_splits(assigned, sizes, fractions, order)
    of_row = assigned[codes]
    return tuple(np.flatnonzero(of_row == s) for s in range(3))  # type: ignore[return-value]


def _group_codes(values: pd.Series, column: str) -> np.ndarray:
    """One code per group; a row without a group value is a group of its own (it can leak nothing)."""
    codes, _ = pd.factorize(values)
    missing = codes == -1
    if missing.any():
        log.warning(
            "%d rows have no value in the group column '%s'; each is treated as its own group.", missing.sum(), column
        )
        codes = codes.copy()
        codes[missing] = codes.max() + 1 + np.arange(missing.sum())
    return codes


def _fill_empty_splits(assigned: np.ndarray, sizes: np.ndarray, fractions: tuple[float, ...], order: np.ndarray) -> None:
    """Give each empty split with a positive fraction the smallest group of the split with most rows."""
    for split, fraction in enumerate(fractions):
        if fraction == 0 or (assigned == split).any():
            continue
        groups_per_split = np.bincount(assigned, minlength=3)
        rows_per_split = np.bincount(assigned, weights=sizes, minlength=3)
        donors = [s for s in range(3) if groups_per_split[s] > 1]
        donor = max(donors, key=lambda s: rows_per_split[s])
        candidates = [g for g in order if assigned[g] == donor]
        smallest = min(candidates, key=lambda g: sizes[g])
        assigned[smallest] = split
        log.info("Group split: moved a group of %d rows to the empty %s split.", sizes[smallest], SPLITS[split])


def _by_time(df: pd.DataFrame, schema: Schema, fractions: tuple[float, ...]) -> Positions:
    column = _single_column(schema, "time", "time", "signup_date")
    keys = _time_keys(_column(df, column, "time"), column)
    order = np.argsort(keys, kind="stable")
    counts = _allocate(len(df), fractions)
    first = _after_ties(keys[order], counts[0])
    second = _after_ties(keys[order], max(first, counts[0] + counts[1]))
    sizes = [first, second - first, len(df) - second]
    if any(f > 0 and s == 0 for f, s in zip(fractions, sizes)):
        empty = SPLITS[next(i for i, (f, s) in enumerate(zip(fractions, sizes)) if f > 0 and s == 0)]
        raise DataError(
            f"A time split leaves the {empty} split empty: the time column '{column}' has too few distinct "
            f"values ({len(np.unique(keys))}) for {len(df)} rows, and rows with equal times stay together. "
            f"Use more data, set split.{empty}: 0, or use split.method random."
        )
    return order[:first], order[first:second], order[second:]


def _after_ties(sorted_keys: np.ndarray, boundary: int) -> int:
    """Move ``boundary`` forward past rows whose time equals the last row before it."""
    if boundary <= 0 or boundary >= len(sorted_keys):
        return boundary
    return int(np.searchsorted(sorted_keys, sorted_keys[boundary - 1], side="right"))


def _time_keys(series: pd.Series, column: str) -> np.ndarray:
    """Sortable float keys: numbers as they are, dates as seconds since 1970 (UTC)."""
    missing = series.isna().to_numpy()
    if missing.any():
        rows = ", ".join(str(i) for i in series.index[missing][:5])
        raise DataError(
            f"The time column '{column}' is empty in {missing.sum()} rows (row ids {rows}); a time split needs a "
            "time for every row. Fill them in, or drop those rows."
        )
    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        return series.to_numpy(dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "could not infer format": unparsed values are reported below
        try:
            parsed = pd.to_datetime(series, errors="coerce", utc=True)
        except (ValueError, TypeError, OverflowError) as exc:
            raise DataError(f"The time column '{column}' could not be read as dates: {exc}.") from None
    bad = parsed.isna().to_numpy()
    if bad.any():
        first = int(np.argmax(bad))
        raise DataError(
            f"The time column '{column}' has {bad.sum()} values that are not dates, e.g. {display(series.iloc[first])} "
            f"(row id {series.index[first]}). Fix them, or use one date format throughout."
        )
    return (parsed - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy()


def _column(df: pd.DataFrame, name: str, role: str) -> pd.Series:
    if name not in df.columns:
        raise DataError(
            f"The schema's {role} column '{name}' is not in the table being split; "
            "split the table the schema was inferred from."
        )
    return df[name]


def _single_column(schema: Schema, role: str, field: str, example: str) -> str:
    columns = schema.by_role(role)
    if not columns:
        raise DataError(
            f"split.method {role} needs a column with role '{role}': set data.{field} in the recipe "
            f"(e.g. data.{field}: {example})."
        )
    if len(columns) > 1:
        raise DataError(
            f"split.method {role} needs one '{role}' column, but the schema has {len(columns)}: {', '.join(columns)}."
        )
    return columns[0]
