"""``train``: recipe → data → schema → splits → encoders → model → loop → test → bundle.

The stages run in DESIGN.md's order and leave their artifacts in the run directory. The test split
is encoded and scored once, after training, with the best weights.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch

from traincraft._util.atomic import atomic_write_json
from traincraft._util.fingerprint import frame_fingerprint
from traincraft._util.seed import seed_everything
from traincraft.api._fair_reweighting import reweighted_outputs
from traincraft.api._inputs import read_source, resolve_recipe, source_name
from traincraft.api.audit import check_split_leakage
from traincraft.api.prepare import parquet_safe, prepare_frame, split_for_prepare, write_prepared
from traincraft.api.run_dir import RunPaths, existing_run_dir, new_run_dir
from traincraft.data import write_table
from traincraft.data.audit import CHECKS as AUDIT_CHECKS
from traincraft.data.audit import audit as run_audit
from traincraft.data import Schema, Splits, infer_schema, labelled_rows, make_splits
from traincraft.errors import DataError, RecipeError
from traincraft.evaluation import classification_metrics, evaluate_run, regression_metrics, subsample_train
from traincraft.features.labels import LabelCodec
from traincraft.features.pretrained_text import fit_encoder
from traincraft.models import build_model
from traincraft.recipe import Recipe, dump_recipe, load_recipe, save_recipe
from traincraft.report import build_report
from traincraft.serving import save_bundle
from traincraft.training import Callback, FitResult, Trainer

__all__ = ["Run", "train"]

log = logging.getLogger(__name__)


@dataclass
class Run:
    """What a training run produced: where it lives and how it did."""

    run_dir: Path
    bundle_dir: Path
    task: str
    metrics: dict[str, dict[str, float]]
    fit: FitResult
    schema: Schema
    recipe: Recipe
    split_sizes: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "run_dir": str(self.run_dir),
            "bundle": str(self.bundle_dir),
            "task": self.task,
            "metrics": self.metrics.get("test", {}),
            "validation_metrics": self.metrics.get("validation", {}),
            "splits": self.split_sizes,
            "epochs": self.fit.epochs_run,
            "best_epoch": self.fit.best_epoch,
            "stopped_early": self.fit.stopped_early,
            "lr": self.fit.lr,
            "device": str(self.fit.device),
            "train_seconds": round(self.fit.seconds, 3),
            "seconds": round(self.seconds, 3),
        }


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
) -> Run:
    """Train a model and write a run directory with checkpoints, metrics and a bundle.

    ``data`` is a recipe file, a data file, a DataFrame, an (X, y) pair or a Recipe; ``label`` and
    ``recipe`` add to it. ``resume`` continues the run in that directory from its last checkpoint.
    ``train_fraction`` < 1 trains on a nested, stratified share of the training split with the same
    validation and test rows (``traincraft curve``).
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
        _check_resumable(cfg, saved, paths)

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

    if resume is None:
        stem = Path(cfg.data.source.rpartition(":")[2]).stem if cfg.data.source else "frame"
        paths = new_run_dir(runs_dir, cfg.name, stem=stem)
    if cfg.name is None:
        cfg.name = paths.root.name
    if resume is None or cfg.train.epochs != saved.train.epochs:
        save_recipe(cfg, paths.recipe)
    log.info("run directory: %s", paths.root)
    _audit(paths, source_frame, raw_schema, cfg)
    _record_data(paths, source_frame, prepared, unlabelled, fingerprint, src)

    splits = _splits(paths, table, schema, cfg, resume is not None, drawn)
    if train_fraction < 1.0 and resume is None:  # traincraft curve: a nested, stratified share of the training split
        labels = table[schema.label] if schema.task != "regression" else None
        splits = subsample_train(splits, labels, train_fraction, seed=cfg.seed)
        splits.save(paths.splits)
    check_split_leakage(table, splits, cfg, schema=schema)
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
    if cfg.model.pretrained and cfg.model.tune == "head":  # the head trains on the frozen encoder's outputs, computed once
        from traincraft.finetune import head_inputs

        x_train, x_val = head_inputs(model, cfg, paths.root.parent, x_train, x_val)
    positive = _positive_index(cfg, codec, y_train) if schema.task == "binary" else None
    trainer = Trainer(
        model,
        cfg.train,
        task=schema.task,
        seed=cfg.seed,
        class_weights=_class_weights(cfg, codec, y_train),
        metrics_fn=_metrics_fn(schema.task, codec, positive),
        run_dir=paths.root,
        callbacks=callbacks,
        progress=progress,
    )
    fit = trainer.fit(x_train, y_train, x_val, y_val, resume=resume is not None)

    metrics = {"validation": _score(trainer, x_val, y_val, schema.task, codec, positive) if x_val is not None else {}}
    test_df = table.loc[splits.test]
    if len(test_df):  # the one and only read of the test split
        x_test = encoder.transform(test_df)
        metrics["test"] = _score(trainer, x_test, codec.encode(test_df[schema.label]), schema.task, codec, positive)
        reweighted = reweighted_outputs(  # evaluate.fairness.reweighting: a second model, trained with fairness weights
            cfg, trainer=trainer, model_spec=encoder.model_spec(), out_dim=out_dim, classes=list(codec.classes),
            train_df=train_df, train=(x_train, y_train), validation=(x_val, y_val), x_test=x_test,
        )
        evaluate_run(
            task=schema.task,
            label=schema.label,
            test=(test_df, trainer.predict(x_test)),
            validation=(val_df, trainer.predict(x_val)) if x_val is not None else None,
            codec=codec,
            positive=positive,
            recipe=cfg,
            schema=schema,
            reweighted=reweighted,
        ).write(paths.root)
    else:
        log.warning("split.test is 0: there are no test metrics; the validation metrics were used for early stopping and are optimistic.")
        metrics["test"] = {}

    bundle_dir = save_bundle(
        paths.bundle,
        model=trainer.model,
        task=schema.task,
        label=schema.label,
        schema=schema.to_json(),
        encoder=encoder.to_json(),
        label_codec=codec.to_json(),
        model_spec=encoder.model_spec(),
        model_config=cfg.model.model_dump(mode="json"),
        out_dim=out_dim,
        metrics=metrics,
        recipe=cfg.model_dump(mode="json"),
        data={"source": cfg.data.source, "fingerprint": fingerprint, "rows": len(frame), "splits": splits.sizes},
        extra={"positive_label": None if positive is None else _jsonable(codec.classes[positive])},
    )
    run = Run(
        run_dir=paths.root,
        bundle_dir=bundle_dir,
        task=schema.task,
        metrics=metrics,
        fit=fit,
        schema=schema,
        recipe=cfg,
        split_sizes=splits.sizes,
        seconds=time.perf_counter() - started,
    )
    atomic_write_json(paths.summary, {"name": cfg.name, "status": "finished", **run.summary()})
    build_report(paths.root)
    log.info("test metrics: %s", ", ".join(f"{k} {v:.4f}" for k, v in metrics["test"].items()))
    return run


# --- stages ---------------------------------------------------------------------------------------
def _check_resumable(cfg: Recipe, saved: Recipe, paths: RunPaths) -> None:
    """Resuming with a different recipe would not continue the same run; only epochs may grow."""
    now, before = cfg.model_dump(mode="json"), saved.model_dump(mode="json")
    for d in (now, before):
        d["train"].pop("epochs")
        d.pop("name")
        source = d["data"]["source"]
        d["data"]["source"] = str(Path(source).resolve()) if source and ":" not in source else source
        if now["data"]["source"] is None:  # the Python API passed the frame again
            d["data"]["source"] = None
    diffs = [k for k in _diff_keys(now, before)]
    if diffs:
        raise RecipeError(
            f"The recipe differs from the one run {paths.root} was started with ({paths.recipe}) in: "
            f"{', '.join(diffs)}. Resume with the same recipe (only train.epochs may change), or start a new run."
        )


def _diff_keys(a: Any, b: Any, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for key in sorted(set(a) | set(b)):
            out += _diff_keys(a.get(key), b.get(key), f"{prefix}{key}.")
        return out
    return [] if a == b else [prefix.rstrip(".")]


def _record_data(paths: RunPaths, frame: pd.DataFrame, prepared: Any, unlabelled: list[int], fingerprint: str, src: str) -> None:
    """data/: prepared.parquet (when the recipe prepares), quarantine.parquet (every row left out or
    changed, with its original values, step and reason) and manifest.json (rows in / out per step)."""
    paths.data.mkdir(parents=True, exist_ok=True)
    parts = []
    if prepared is not None:
        write_prepared(prepared, paths.data)
        manifest = dict(prepared.manifest)
        if len(prepared.quarantine):
            parts.append(prepared.quarantine)
        rows = len(prepared.prepared)
    else:
        manifest = {"source": src, "input_fingerprint": fingerprint, "rows_in": len(frame), "steps": []}
        rows = len(frame)
    if unlabelled:
        log.warning(
            "%d row(s) of %s have no label and are left out of training; they are kept in %s.",
            len(unlabelled), src, paths.quarantine,
        )
        rows_out = frame.loc[unlabelled].copy()
        rows_out.insert(0, "_reason", "no label")
        rows_out.insert(0, "_action", "dropped")
        rows_out.insert(0, "_step", "labelled_rows")
        rows_out.insert(0, "_row_id", rows_out.index.to_numpy())
        parts.append(rows_out.reset_index(drop=True))
    manifest["steps"] = [
        *manifest.get("steps", []),
        {"step": "labelled_rows", "rows_in": rows, "rows_out": rows - len(unlabelled), "rows_quarantined": len(unlabelled)},
    ]
    manifest["rows_out"] = rows - len(unlabelled)
    manifest["fingerprint"] = fingerprint
    if parts:
        quarantine = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
        write_table(parquet_safe(quarantine.reset_index(drop=True)), paths.quarantine)
    atomic_write_json(paths.manifest, manifest)


def _audit(paths: RunPaths, frame: pd.DataFrame, schema: Schema, cfg: Recipe) -> None:
    """audit.json: what is wrong with the data as read (label issues only when the recipe asks: a k-fold model)."""
    checks = cfg.audit.checks or [c for c in AUDIT_CHECKS if c not in ("label_issues", "split_leakage")]
    report = run_audit(frame, label=cfg.data.label, schema=schema, checks=checks, sensitive=cfg.data.sensitive, rules=cfg.audit.rules)
    atomic_write_json(paths.root / "audit.json", report.to_json())
    for finding in report.findings:
        if finding.severity != "info":
            log.info("audit: %s", finding.message)


def _recipe_dir(data: Any) -> Path:
    """Where paths in the recipe (e.g. a relabel review file) are relative to."""
    if isinstance(data, (str, Path)) and Path(data).suffix.lower() in (".yaml", ".yml"):
        return Path(data).resolve().parent
    return Path.cwd()


def _splits(paths: RunPaths, table: pd.DataFrame, schema: Schema, cfg: Recipe, resuming: bool, drawn: Splits | None) -> Splits:
    """The split drawn before prepare (``drawn``) less the rows prepare dropped, else a new one."""
    if resuming and paths.splits.exists():
        splits = Splits.load(paths.splits)
        known = set(table.index)
        if not all(i in known for part in (splits.train, splits.validation, splits.test) for i in part):
            raise DataError(f"The data no longer matches the splits saved in {paths.splits}; it changed since the run started.")
        return splits
    if drawn is None:
        splits = make_splits(table, schema, cfg.split, seed=cfg.seed)
    else:
        splits = drawn.restricted_to(table.index)
        placed = np.concatenate([splits.train, splits.validation, splits.test])
        extra = table.index.difference(pd.Index(placed)).to_numpy()  # rows a review relabelled from no label
        if len(extra):
            log.info("%d row(s) got a label in prepare and join the training split.", len(extra))
            splits = Splits(np.sort(np.concatenate([splits.train, extra])), splits.validation, splits.test, method=splits.method, seed=splits.seed)
    splits.save(paths.splits)
    return splits


def _positive_index(cfg: Recipe, codec: LabelCodec, y_train: torch.Tensor) -> int:
    classes = [str(c) for c in codec.classes]
    wanted = cfg.evaluate.positive_label
    if wanted is not None:
        if str(wanted) not in classes:
            raise RecipeError(f"evaluate.positive_label '{wanted}' is not a class of the label; classes: {', '.join(classes)}.")
        return classes.index(str(wanted))
    counts = torch.bincount(y_train, minlength=len(classes))
    return int(torch.argmin(counts))  # the minority class, e.g. 'spam'


def _class_weights(cfg: Recipe, codec: LabelCodec, y_train: torch.Tensor) -> torch.Tensor | None:
    setting = cfg.train.class_weights
    if codec.task == "regression":
        if setting != "none":
            log.warning("train.class_weights is ignored for regression.")
        return None
    n_classes = len(codec.classes)
    if setting == "none":
        return None
    if setting == "balanced":
        counts = torch.bincount(y_train, minlength=n_classes).float().clamp(min=1)
        return counts.sum() / (n_classes * counts)
    classes = [str(c) for c in codec.classes]
    unknown = [k for k in setting if k not in classes]
    if unknown:
        raise RecipeError(f"train.class_weights names unknown classes {unknown}; classes are: {', '.join(classes)}.")
    return torch.tensor([float(setting.get(c, 1.0)) for c in classes])


def _metrics_fn(task: str, codec: LabelCodec, positive: int | None):
    def metrics(outputs: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        return _metrics_from_outputs(outputs, y, task, codec, positive)

    return metrics


def _metrics_from_outputs(outputs: torch.Tensor, y: torch.Tensor, task: str, codec: LabelCodec, positive: int | None) -> dict[str, float]:
    outputs = outputs.detach().float().cpu()
    if task == "regression":
        return regression_metrics(codec.decode(y.cpu().numpy()), codec.decode(outputs[:, 0].numpy()))
    proba = torch.softmax(outputs, dim=1).numpy()
    return classification_metrics(y.cpu().numpy(), proba, n_classes=len(codec.classes), positive=positive)


def _score(trainer: Trainer, x: dict, y: torch.Tensor, task: str, codec: LabelCodec, positive: int | None) -> dict[str, float]:
    return _metrics_from_outputs(trainer.predict(x), y, task, codec, positive)


def _jsonable(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
