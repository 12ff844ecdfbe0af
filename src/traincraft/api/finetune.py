"""``finetune``: continue training a bundle's model on new data; ``merge``: fold LoRA adapters into full weights.

Continued training keeps everything the bundle learned about its inputs: the fitted encoders
(vocabularies, scaling, image normalisation, the pretrained tokenizer) are read from the bundle,
never refitted on the new data, and the network starts from the bundle's weights. The new data
must have the bundle's feature columns; it is split by the recipe's ``split`` (the test split is
read once, at the end) and the run directory looks like any other. Label values the bundle never
saw are refused or added to the head as new classes (``train.new_labels``).

Fine-tuning a *pretrained* encoder (``model.pretrained``) is ordinary training: ``traincraft train``
with a recipe that sets it.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from traincraft._util.fingerprint import frame_fingerprint
from traincraft._util.seed import seed_everything
from traincraft.api._inputs import _deep_merge, _recipe_arg, read_source, source_name
from traincraft.api._fit import Run, check_resumable, final_splits, fit_and_bundle, jsonable, record_data, write_audit
from traincraft.api.audit import check_split_leakage
from traincraft.api.prepare import prepare_frame, split_for_prepare
from traincraft.api.run_dir import existing_run_dir, new_run_dir
from traincraft.data import Schema, infer_schema, labelled_rows
from traincraft.errors import DataError, RecipeError
from traincraft.features.labels import LabelCodec
from traincraft.features.pretrained_text import encoder_from_json
from traincraft.finetune import extend_labels, grow_head, merge_bundle
from traincraft.recipe import Recipe, load_recipe, recipe_from_dict, save_recipe
from traincraft.serving.bundle import BUNDLE_JSON, WEIGHTS_FILE, read_bundle
from traincraft.training import Callback

__all__ = ["finetune", "merge"]

log = logging.getLogger(__name__)


def finetune(
    bundle: str | Path,
    data: str | Path | pd.DataFrame,
    *,
    label: str | None = None,
    recipe: Recipe | dict | str | Path | None = None,
    name: str | None = None,
    runs_dir: str | Path = "runs",
    resume: str | Path | None = None,
    progress: bool | str = False,
    callbacks: Sequence[Callback] = (),
) -> Run:
    """Continue training ``bundle``'s model on ``data`` (a file or a DataFrame) and write a new run with a bundle.

    The recipe is the bundle's own, with ``data.source`` set to ``data``; ``recipe`` (a dict, file
    or Recipe) overrides parts of it, e.g. ``{"train": {"epochs": 5, "lr": 1e-4, "new_labels": "add"}}``.
    ``resume`` continues an interrupted fine-tuning run in that directory.
    """
    started = time.perf_counter()
    contents = read_bundle(bundle)
    meta = contents.meta
    cfg, frame = _recipe(meta, data, label=label, recipe=recipe)
    cfg.name = name or cfg.name
    saved = None
    if resume is not None:
        paths = existing_run_dir(resume)
        saved = load_recipe(paths.recipe)
        check_resumable(cfg, saved, paths)

    frame = read_source(cfg) if frame is None else frame.reset_index(drop=True)
    src = source_name(cfg)
    schema = Schema.from_json(meta["schema"])  # the bundle's: the columns keep the types its encoders expect
    if schema.label is None or schema.label not in frame.columns:
        raise DataError(
            f"{src} has no label column '{schema.label}', the one the bundle {contents.path} predicts. "
            f"Columns: {', '.join(map(str, frame.columns[:20]))}."
        )
    encoder = encoder_from_json(meta["encoder"])  # kept: fitted on the bundle's training data, never refitted
    encoder.transform(frame.head(2), strict=False)  # the feature columns are there (a clear error if not)
    fingerprint = frame_fingerprint(frame)
    raw_schema = infer_schema(frame, label=schema.label, task=cfg.task, data=cfg.data, source_name=src)
    prepared = drawn = None
    if cfg.prepare:  # the bundle recipe's steps; as in train, split first so fitted steps learn from training rows only
        drawn = split_for_prepare(cfg, frame, raw_schema)
        prepared = prepare_frame(cfg, frame, schema=raw_schema, fit_rows=drawn.train)
    source_frame = frame
    frame = prepared.prepared if prepared is not None else frame
    table, unlabelled = labelled_rows(frame, schema)
    codec, added = extend_labels(LabelCodec.from_json(meta["label_codec"]), table[schema.label], cfg.train.new_labels, where=src)
    if added and schema.task == "binary":
        schema = Schema(schema.columns, schema.label, "multiclass")
    splits = final_splits(table, schema, cfg, drawn, saved=paths.splits if resume is not None else None)
    check_split_leakage(table, splits, cfg, schema=schema)  # may stop the run: before its directory is made

    if resume is None:
        stem = Path(str(cfg.data.source).rpartition(":")[2]).stem if cfg.data.source else "frame"
        paths = new_run_dir(runs_dir, cfg.name, stem=f"{stem}-finetune")
    if cfg.name is None:
        cfg.name = paths.root.name
    if resume is None or cfg.train.epochs != saved.train.epochs:
        save_recipe(cfg, paths.recipe)
    log.info("run directory: %s (continuing %s)", paths.root, contents.path)
    write_audit(paths, source_frame, raw_schema, cfg)
    record_data(paths, source_frame, prepared, unlabelled, fingerprint, src)
    splits.save(paths.splits)
    train_df, val_df = table.loc[splits.train], table.loc[splits.validation]

    seed_everything(cfg.seed)
    x_train, y_train = encoder.transform(train_df), codec.encode(train_df[schema.label])
    x_val = encoder.transform(val_df) if len(val_df) else None
    y_val = codec.encode(val_df[schema.label]) if len(val_df) else None
    model = grow_head(contents.model, len(added))
    return fit_and_bundle(
        cfg,
        paths,
        schema=schema,
        table=table,
        splits=splits,
        codec=codec,
        encoder=encoder,
        model=model,
        train=(x_train, y_train),
        validation=(x_val, y_val),
        bundle={
            "encoder": meta["encoder"],
            "model_spec": dict(meta["model"]["spec"]),
            "model_config": meta["model"]["config"],
            "data": {"source": cfg.data.source, "fingerprint": fingerprint, "rows": len(frame), "splits": splits.sizes},
            "extra": {
                "finetuned_from": {
                    "bundle": str(contents.path),
                    "weights_sha256": meta.get("weights_sha256"),
                    "data": meta.get("data", {}).get("fingerprint"),
                    "added_labels": [jsonable(v) for v in added],
                },
            },
        },
        started=started,
        resuming=resume is not None,
        callbacks=callbacks,
        progress=progress,
        reweight=False,  # a second model from scratch is no continuation of this one
        summary_extra={"finetuned_from": str(contents.path)},
    )


def _recipe(
    meta: dict[str, Any], data: Any, *, label: str | None, recipe: Recipe | dict | str | Path | None
) -> tuple[Recipe, pd.DataFrame | None]:
    """The bundle's recipe pointed at ``data``, with ``recipe``'s settings on top."""
    base = meta.get("recipe") or {}
    d = dict(base)
    d["data"] = dict(base.get("data") or {})
    frame = None
    if isinstance(data, pd.DataFrame):
        frame, d["data"]["source"] = data, None
    elif isinstance(data, (str, Path)):
        path = str(data)
        d["data"]["source"] = path if ":" in path and not Path(path).exists() else str(Path(path).resolve())
    else:
        raise RecipeError(f"finetune takes new data as a file path or a pandas DataFrame, got {type(data).__name__}.")
    d["name"] = f"{base['name']}-finetune" if base.get("name") else None
    cfg = recipe_from_dict(d)
    if recipe is not None:
        cfg = recipe_from_dict(_deep_merge(cfg.model_dump(exclude_unset=True), _recipe_arg(recipe).model_dump(exclude_unset=True)))
    if label is not None and label != meta.get("label"):
        raise RecipeError(
            f"The bundle predicts '{meta.get('label')}'; continued training keeps its label. Rename the column "
            f"'{label}' of the new data to '{meta.get('label')}'."
        )
    if frame is None and not cfg.data.source:
        raise RecipeError("No new data given: pass a data file or a DataFrame.")
    if cfg.evaluate.positive_label is None and meta.get("positive_label") is not None:
        cfg.evaluate.positive_label = str(meta["positive_label"])  # the class the bundle reported F1 for
    return cfg, frame


def merge(bundle: str | Path, output: str | Path, *, overwrite: bool = False) -> dict[str, Any]:
    """Write ``bundle`` (LoRA or head-only) with full weights to ``output`` and describe both."""
    out = merge_bundle(bundle, output, overwrite=overwrite)
    source = json.loads((out / BUNDLE_JSON).read_text(encoding="utf-8"))["merged_from"]
    src_size = (Path(source["bundle"]) / WEIGHTS_FILE).stat().st_size
    out_size = (out / WEIGHTS_FILE).stat().st_size
    return {
        "bundle": source["bundle"],
        "output": str(out),
        "tune": source["tune"],
        "bundle_bytes": src_size,
        "merged_bytes": out_size,
        "ratio": src_size / out_size if out_size else None,
    }
