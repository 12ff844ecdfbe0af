"""The supervised stages ``train`` and ``finetune`` share, and :class:`Run`, what both return.

``train`` fits new encoders and a new network; ``finetune`` keeps a bundle's. Both then hand the
encoded splits and the network to :func:`fit_and_bundle`: the training loop, the validation
scores, the one read of the test split, the evaluation, the bundle, the summary and the report.
The helpers below (audit, data records, splits, class weights, scores) are the stages both run
before it.
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
from traincraft.api._fair_reweighting import reweighted_outputs
from traincraft.api.prepare import parquet_safe, write_prepared
from traincraft.api._run_summary import write_run_summary
from traincraft.api.run_dir import RunPaths
from traincraft.data import Schema, Splits, make_splits, write_table
from traincraft.data.audit import CHECKS as AUDIT_CHECKS
from traincraft.data.audit import audit as run_audit
from traincraft.errors import DataError, RecipeError
from traincraft.evaluation import classification_metrics, evaluate_run, regression_metrics
from traincraft.features.labels import LabelCodec
from traincraft.models.pretrained import PretrainedNet
from traincraft.recipe import Recipe
from traincraft.report import build_report
from traincraft.serving import save_bundle
from traincraft.training import Callback, FitResult, Trainer

__all__ = [
    "Run",
    "check_resumable",
    "class_weights",
    "final_splits",
    "fit_and_bundle",
    "jsonable",
    "metrics_fn",
    "positive_index",
    "record_data",
    "score",
    "write_audit",
]

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


def fit_and_bundle(
    cfg: Recipe,
    paths: RunPaths,
    *,
    schema: Schema,
    table: pd.DataFrame,
    splits: Splits,
    codec: LabelCodec,
    encoder: Any,
    model: torch.nn.Module,
    train: tuple[dict, torch.Tensor],
    validation: tuple[dict | None, torch.Tensor | None],
    bundle: dict[str, Any],
    started: float,
    resuming: bool = False,
    callbacks: Sequence[Callback] = (),
    progress: bool | str = False,
    reweight: bool = True,
    summary_extra: dict[str, Any] | None = None,
    read_test: bool = True,
) -> Run:
    """Train ``model`` on the encoded ``train`` split, score validation and (once) test, evaluate, and write the bundle.

    ``bundle`` holds what the bundle describes that the caller decides: ``encoder`` (its JSON),
    ``model_spec``, ``model_config``, ``data`` and ``extra`` (merged into the bundle's own extra).
    ``reweight`` runs ``evaluate.fairness.reweighting``'s second model (a new network from the spec).
    ``read_test=False`` never encodes or scores the test rows (a search trial).
    """
    x_train, y_train = train
    x_val, y_val = validation
    train_df, val_df = table.loc[splits.train], table.loc[splits.validation]
    out_dim = 1 if schema.task == "regression" else len(codec.classes)
    if isinstance(model, PretrainedNet) and model.tune == "head":  # the head trains on the frozen encoder's outputs, computed once
        from traincraft.finetune import head_inputs

        x_train, x_val = head_inputs(model, cfg, paths.root.parent, x_train, x_val)
    positive = positive_index(cfg, codec, y_train) if schema.task == "binary" else None
    trainer = Trainer(
        model,
        cfg.train,
        task=schema.task,
        seed=cfg.seed,
        class_weights=class_weights(cfg, codec, y_train),
        metrics_fn=metrics_fn(schema.task, codec, positive),
        run_dir=paths.root,
        callbacks=callbacks,
        progress=progress,
    )
    fit = trainer.fit(x_train, y_train, x_val, y_val, resume=resuming)

    metrics = {"validation": score(trainer, x_val, y_val, schema.task, codec, positive) if x_val is not None else {}}
    test_df = table.loc[splits.test] if read_test else table.iloc[:0]
    if len(test_df):  # the one and only read of the test split
        x_test = encoder.transform(test_df)
        metrics["test"] = score(trainer, x_test, codec.encode(test_df[schema.label]), schema.task, codec, positive)
        reweighted = None
        if reweight:
            reweighted = reweighted_outputs(  # evaluate.fairness.reweighting: a second model, trained with fairness weights
                cfg, trainer=trainer, model_spec=bundle["model_spec"], out_dim=out_dim, classes=list(codec.classes),
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
    elif not read_test:
        log.info("the test split is not read in this run (a search trial); it is scored once, by the final run")
        metrics["test"] = {}
    else:
        log.warning("split.test is 0: there are no test metrics; the validation metrics were used for early stopping and are optimistic.")
        metrics["test"] = {}

    bundle_dir = save_bundle(
        paths.bundle,
        model=trainer.model,
        task=schema.task,
        label=schema.label,
        schema=schema.to_json(),
        encoder=bundle["encoder"],
        label_codec=codec.to_json(),
        model_spec=bundle["model_spec"],
        model_config=bundle["model_config"],
        out_dim=out_dim,
        metrics=metrics,
        recipe=cfg.model_dump(mode="json"),
        data=bundle["data"],
        extra={"positive_label": None if positive is None else jsonable(codec.classes[positive]), **bundle.get("extra", {})},
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
    write_run_summary(paths, cfg.name, {**(summary_extra or {}), **run.summary()}, device=fit.device, seconds=run.seconds)
    build_report(paths.root)
    if metrics["test"]:
        log.info("test metrics: %s", ", ".join(f"{k} {v:.4f}" for k, v in metrics["test"].items()))
    return run


# --- the stages before training ------------------------------------------------------------------
def check_resumable(cfg: Recipe, saved: Recipe, paths: RunPaths) -> None:
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


def record_data(paths: RunPaths, frame: pd.DataFrame, prepared: Any, unlabelled: list[int], fingerprint: str, src: str) -> None:
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


def write_audit(paths: RunPaths, frame: pd.DataFrame, schema: Schema, cfg: Recipe) -> None:
    """audit.json: what is wrong with the data as read (label issues only when the recipe asks: a k-fold model)."""
    checks = cfg.audit.checks or [c for c in AUDIT_CHECKS if c not in ("label_issues", "split_leakage")]
    report = run_audit(frame, label=cfg.data.label, schema=schema, checks=checks, sensitive=cfg.data.sensitive, rules=cfg.audit.rules)
    atomic_write_json(paths.root / "audit.json", report.to_json())
    for finding in report.findings:
        if finding.severity != "info":
            log.info("audit: %s", finding.message)


def final_splits(table: pd.DataFrame, schema: Schema, cfg: Recipe, drawn: Splits | None, *, saved: Path | None = None) -> Splits:
    """The split drawn before prepare (``drawn``) less the rows prepare dropped, else a new one.

    ``saved`` is the splits.json of a run being resumed: when it exists it is used as is. Nothing is
    written here: the caller saves the splits once the run directory exists, after the leakage
    check, so that a run stopped for leaky splits leaves no directory behind.
    """
    if saved is not None and saved.exists():
        splits = Splits.load(saved)
        known = set(table.index)
        if not all(i in known for part in (splits.train, splits.validation, splits.test) for i in part):
            raise DataError(f"The data no longer matches the splits saved in {saved}; it changed since the run started.")
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
    return splits


def positive_index(cfg: Recipe, codec: LabelCodec, y_train: torch.Tensor) -> int:
    classes = [str(c) for c in codec.classes]
    wanted = cfg.evaluate.positive_label
    if wanted is not None:
        if str(wanted) not in classes:
            raise RecipeError(f"evaluate.positive_label '{wanted}' is not a class of the label; classes: {', '.join(classes)}.")
        return classes.index(str(wanted))
    counts = torch.bincount(y_train, minlength=len(classes))
    return int(torch.argmin(counts))  # the minority class, e.g. 'spam'


def class_weights(cfg: Recipe, codec: LabelCodec, y_train: torch.Tensor) -> torch.Tensor | None:
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


def metrics_fn(task: str, codec: LabelCodec, positive: int | None):
    def metrics(outputs: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        return _metrics_from_outputs(outputs, y, task, codec, positive)

    return metrics


def _metrics_from_outputs(outputs: torch.Tensor, y: torch.Tensor, task: str, codec: LabelCodec, positive: int | None) -> dict[str, float]:
    outputs = outputs.detach().float().cpu()
    if task == "regression":
        return regression_metrics(codec.decode(y.cpu().numpy()), codec.decode(outputs[:, 0].numpy()))
    proba = torch.softmax(outputs, dim=1).numpy()
    return classification_metrics(y.cpu().numpy(), proba, n_classes=len(codec.classes), positive=positive)


def score(trainer: Trainer, x: dict, y: torch.Tensor, task: str, codec: LabelCodec, positive: int | None) -> dict[str, float]:
    return _metrics_from_outputs(trainer.predict(x), y, task, codec, positive)


def jsonable(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
