"""``train``: recipe → data → schema → splits → encoders → model → loop → test → bundle.

The stages run in DESIGN.md's order and leave their artifacts in the run directory. The test split
is encoded and scored once, after training, with the best weights. What follows the encoding (the
loop, scores, evaluation, bundle) is :func:`traincraft.api._fit.fit_and_bundle`, shared with ``finetune``.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Sequence

from traincraft._util.fingerprint import frame_fingerprint
from traincraft._util.seed import seed_everything
from traincraft.api._fit import Run, check_resumable, final_splits, fit_and_bundle, record_data, write_audit
from traincraft.api._inputs import read_source, resolve_recipe, source_name
from traincraft.api.audit import check_split_leakage
from traincraft.api.prepare import prepare_frame, split_for_prepare
from traincraft.api.run_dir import existing_run_dir, new_run_dir
from traincraft.data import cross_validation_fold, infer_schema, labelled_rows
from traincraft.errors import RecipeError
from traincraft.evaluation import subsample_train
from traincraft.features.labels import LabelCodec
from traincraft.features.pretrained_text import fit_encoder
from traincraft.models import build_model
from traincraft.recipe import load_recipe, save_recipe
from traincraft.training import Callback

__all__ = ["Run", "train"]

log = logging.getLogger(__name__)


def train(
    data: Any = None,
    *,
    label: str | None = None,
    recipe: Recipe | dict | str | Path | None = None,
    name: str | None = None,
    runs_dir: str | Path = "runs",
    resume: str | Path | None = None,
    progress: bool | str = False,
    callbacks: Sequence[Callback] = (),
    train_fraction: float = 1.0,
    read_test: bool = True,
    fold: tuple[int, int] | None = None,
) -> Run:
    """Train a model and write a run directory with checkpoints, metrics and a bundle.

    ``data`` is a recipe file, a data file, a DataFrame, an (X, y) pair or a Recipe; ``label`` and
    ``recipe`` add to it. ``resume`` continues the run in that directory from its last checkpoint.
    ``train_fraction`` < 1 trains on a nested, stratified share of the training split with the same
    validation and test rows (``traincraft curve``). ``read_test=False`` leaves the test split unread
    (``traincraft search``'s trials): no test metrics, no evaluation, and the split is still saved.
    ``fold=(k, j)`` trains on fold j of k-fold cross-validation over the training and validation
    rows (:func:`traincraft.data.cross_validation_fold`), for a search with ``search.folds``; the
    recipe's prepare steps still learn from the recipe's own training split.
    """
    if not 0.0 < train_fraction <= 1.0:
        raise RecipeError(f"train_fraction must be in (0, 1], got {train_fraction}.")
    started = time.perf_counter()
    cfg, frame = resolve_recipe(data, label=label, recipe=recipe)
    from traincraft.api.unsupervised import UNSUPERVISED_TASKS, run_task

    if cfg.task in UNSUPERVISED_TASKS:  # cluster, anomaly, rl have their own stages
        return run_task(cfg, frame, name=name, runs_dir=runs_dir, resume=resume, progress=progress, callbacks=callbacks)
    if name:
        cfg.name = name
    saved = None
    if resume is not None:
        paths = existing_run_dir(resume)
        saved = load_recipe(paths.recipe)
        check_resumable(cfg, saved, paths)

    # read and check the data before anything is written: a bad file leaves no half-made run behind
    frame = read_source(cfg) if frame is None else frame.reset_index(drop=True)
    if cfg.data.source and ":" not in cfg.data.source and not Path(cfg.data.source).is_absolute():
        cfg.data.source = str(Path(cfg.data.source).resolve())
    src = source_name(cfg)
    if not cfg.data.label:
        raise RecipeError(f"No label column given for {src}: set data.label in the recipe, or pass --label COLUMN.")
    raw_schema = infer_schema(frame, label=cfg.data.label, task=cfg.task, data=cfg.data, source_name=src)
    fingerprint = frame_fingerprint(frame)
    prepared = drawn = None
    if cfg.prepare:  # every dropped or changed row goes to the quarantine, with the step and the reason
        drawn = split_for_prepare(cfg, frame, raw_schema)  # split first: fitted steps learn from training rows only
        prepared = prepare_frame(cfg, frame, base_dir=_recipe_dir(data), schema=raw_schema, fit_rows=drawn.train)
    source_frame = frame
    frame = prepared.prepared if prepared is not None else frame
    schema = infer_schema(frame, label=cfg.data.label, task=cfg.task, data=cfg.data, source_name=src) if prepared is not None else raw_schema
    table, unlabelled = labelled_rows(frame, schema)
    splits = final_splits(table, schema, cfg, drawn, saved=paths.splits if resume is not None else None)
    if train_fraction < 1.0 and resume is None:  # traincraft curve: a nested, stratified share of the training split
        labels = table[schema.label] if schema.task != "regression" else None
        splits = subsample_train(splits, labels, train_fraction, seed=cfg.seed)
    if fold is not None and resume is None:
        splits = cross_validation_fold(table, schema, splits, folds=fold[0], fold=fold[1], seed=cfg.seed)
    check_split_leakage(table, splits, cfg, schema=schema)  # may stop the run: before its directory is made

    if resume is None:
        stem = Path(cfg.data.source.rpartition(":")[2]).stem if cfg.data.source else "frame"
        paths = new_run_dir(runs_dir, cfg.name, stem=stem)
    if cfg.name is None:
        cfg.name = paths.root.name
    if resume is None or cfg.train.epochs != saved.train.epochs:
        save_recipe(cfg, paths.recipe)
    log.info("run directory: %s", paths.root)
    write_audit(paths, source_frame, raw_schema, cfg)
    record_data(paths, source_frame, prepared, unlabelled, fingerprint, src)
    splits.save(paths.splits)
    train_df, val_df = table.loc[splits.train], table.loc[splits.validation]
    log.info("split: train %d, validation %d, test %d rows (%s)", len(splits.train), len(splits.validation), len(splits.test), splits.method)

    seed_everything(cfg.seed)
    encoder = fit_encoder(train_df, schema, cfg.model)  # a TableEncoder, or a pretrained tokenizer's (model.pretrained)
    codec = LabelCodec.fit(train_df[schema.label], schema.task)
    x_train, y_train = encoder.transform(train_df), codec.encode(train_df[schema.label])
    x_val = encoder.transform(val_df) if len(val_df) else None
    y_val = codec.encode(val_df[schema.label]) if len(val_df) else None

    out_dim = 1 if schema.task == "regression" else len(codec.classes)
    model = build_model(encoder.model_spec(), cfg.model, out_dim)
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
            "encoder": encoder.to_json(),
            "model_spec": encoder.model_spec(),
            "model_config": cfg.model.model_dump(mode="json"),
            "data": {"source": cfg.data.source, "fingerprint": fingerprint, "rows": len(frame), "splits": splits.sizes},
        },
        started=started,
        resuming=resume is not None,
        callbacks=callbacks,
        progress=progress,
        read_test=read_test,
    )


# --- stages ---------------------------------------------------------------------------------------
def _recipe_dir(data: Any) -> Path:
    """Where paths in the recipe (e.g. a relabel review file) are relative to."""
    if isinstance(data, (str, Path)) and Path(data).suffix.lower() in (".yaml", ".yml"):
        return Path(data).resolve().parent
    return Path.cwd()
