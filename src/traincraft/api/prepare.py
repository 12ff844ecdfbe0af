"""``prepare``: apply the recipe's ``prepare:`` steps and write prepared.parquet, quarantine.parquet
and manifest.json. ``train`` calls :func:`prepare_frame` before inferring the schema.

The split comes first (:func:`split_for_prepare`): the steps that learn from the data (impute's fill
values, drop_label_issues' model) learn from the training split only, and drop_label_issues drops
only training rows. ``traincraft prepare`` does the same, so it writes what ``train`` trains on."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from traincraft._util.atomic import atomic_write_json
from traincraft.api._inputs import read_source, resolve_recipe, source_name
from traincraft.data import Splits, infer_schema, labelled_rows, make_splits, write_table
from traincraft.data.prepare import PrepareResult, apply_prepare, learns_from_rows
from traincraft.recipe import Recipe

__all__ = ["prepare", "prepare_frame", "split_for_prepare", "write_prepared", "PREPARED", "QUARANTINE", "MANIFEST"]

log = logging.getLogger(__name__)

PREPARED, QUARANTINE, MANIFEST = "prepared.parquet", "quarantine.parquet", "manifest.json"


def _base_dir(recipe: Any) -> Path:
    if isinstance(recipe, (str, Path)) and Path(recipe).suffix.lower() in (".yaml", ".yml"):
        return Path(recipe).resolve().parent
    return Path.cwd()


def split_for_prepare(cfg: Recipe, frame: pd.DataFrame, schema: Any) -> Splits:
    """The recipe's split of ``frame``'s labelled rows, drawn before preparation: its training rows
    are the ones prepare's fitted steps learn from, and the final split is this one less the rows
    prepare drops (the same seed and data give the same split, also on resume)."""
    table, _ = labelled_rows(frame, schema)
    return make_splits(table, schema, cfg.split, seed=cfg.seed)


def prepare_frame(
    cfg: Recipe,
    frame: pd.DataFrame,
    *,
    base_dir: str | Path | None = None,
    schema: Any = None,
    fit_rows: Any = None,
) -> PrepareResult:
    """Apply ``cfg.prepare`` to ``frame`` (rows keep their ids); the manifest names the source.
    ``fit_rows`` (the training split's row ids) are what impute, drop_label_issues and dedupe `keep: majority` learn from."""
    result = apply_prepare(frame, cfg.prepare, label=cfg.data.label, schema=schema, base_dir=base_dir, seed=cfg.seed, fit_rows=fit_rows)
    result.manifest = {"source": source_name(cfg), **result.manifest}
    return result


def parquet_safe(df: pd.DataFrame) -> pd.DataFrame:
    """Object columns that mix types (a number where text was redacted...) stored as text."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object:
            out[col] = out[col].map(lambda v: v if v is None or isinstance(v, str) else (None if pd.isna(v) else str(v)))
    return out


def write_prepared(result: PrepareResult, data_dir: str | Path) -> dict[str, str]:
    """Write the three artifacts atomically into ``data_dir``; returns their paths."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    prepared = result.prepared.copy()
    prepared.insert(0, "_row_id", prepared.index.to_numpy())
    write_table(parquet_safe(prepared.reset_index(drop=True)), data_dir / PREPARED)
    write_table(parquet_safe(result.quarantine.reset_index(drop=True)), data_dir / QUARANTINE)
    atomic_write_json(data_dir / MANIFEST, result.manifest)
    return {"prepared": str(data_dir / PREPARED), "quarantine": str(data_dir / QUARANTINE), "manifest": str(data_dir / MANIFEST)}


def prepare(
    recipe: Recipe | dict | str | Path,
    *,
    out_dir: str | Path | None = None,
    run_dir: str | Path | None = None,
    label: str | None = None,
) -> dict[str, Any]:
    """Apply the recipe's steps to its data and write the artifacts to ``out_dir`` (default
    ``prepared/<recipe name or data stem>``) or into ``<run_dir>/data``. Returns paths and counts."""
    cfg, frame = resolve_recipe(recipe, label=label)
    if frame is None:
        frame = read_source(cfg)
    if run_dir is not None:
        target = Path(run_dir) / "data"
    elif out_dir is not None:
        target = Path(out_dir)
    else:
        stem = cfg.name or (Path(cfg.data.source).stem if cfg.data.source else "frame")
        target = Path("prepared") / stem
    if not cfg.prepare:
        log.warning("The recipe has no prepare: steps; the prepared table equals the input.")
    fit_rows = schema = None
    if cfg.data.label is not None and any(learns_from_rows(step) for step in cfg.prepare):
        schema = infer_schema(frame, label=cfg.data.label, task=cfg.task, data=cfg.data, source_name=source_name(cfg))
        fit_rows = split_for_prepare(cfg, frame, schema).train  # as train does: fitted steps learn from training rows
    result = prepare_frame(cfg, frame, base_dir=_base_dir(recipe), schema=schema, fit_rows=fit_rows)
    paths = write_prepared(result, target)
    m = result.manifest
    return {
        **paths,
        "rows_in": m["rows_in"],
        "rows_out": m["rows_out"],
        "rows_quarantined": m["rows_quarantined"],
        "rows_changed": m["rows_changed"],
        "steps": [{k: s[k] for k in ("index", "step", "rows_in", "rows_out", "rows_quarantined", "rows_changed")} for s in m["steps"]],
    }
