"""The evaluation of a finished run, done once at the end of training on the test split.

:func:`evaluate_run` takes the model's outputs on the test (and validation) rows with those rows'
table, and returns a :class:`RunEvaluation`: the whole evaluation as plain JSON-able data
(metrics with bootstrap intervals, confusion matrix, per-class scores, calibration, the binary
decision threshold chosen on validation, residuals, fairness, slices) plus a predictions table.
``RunEvaluation.write(run_dir)`` saves ``evaluation.json`` and ``data/test_predictions.parquet``,
which the report reads.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from traincraft._util.atomic import atomic_write_json
from traincraft.data import write_table
from traincraft.evaluation.bootstrap import BOOTSTRAP_RESAMPLES, CONFIDENCE, bootstrap_intervals
from traincraft.evaluation.calibration import reliability_table
from traincraft.evaluation.fairness import fairness_report
from traincraft.evaluation.metrics import (
    classification_metrics,
    confusion_matrix,
    per_class_metrics,
    regression_metrics,
    regression_residuals,
)
from traincraft.evaluation.slices import MAX_CATEGORIES, worst_slices
from traincraft.evaluation.threshold import choose_threshold, threshold_metrics
from traincraft.recipe._evaluate import CurveConfig, FairnessConfig, SlicesConfig

__all__ = [
    "EvaluationOptions",
    "RunEvaluation",
    "evaluate_run",
    "jsonable",
    "EVALUATION_FILE",
    "TEST_PREDICTIONS_FILE",
    "EVALUATION_FORMAT_VERSION",
]

log = logging.getLogger(__name__)

EVALUATION_FILE = "evaluation.json"
TEST_PREDICTIONS_FILE = "data/test_predictions.parquet"
EVALUATION_FORMAT_VERSION = 1


def jsonable(obj: Any) -> Any:
    """``obj`` with numpy scalars made plain and non-finite floats made ``None`` (strict JSON)."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [jsonable(v) for v in obj.tolist()]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


@dataclass
class EvaluationOptions:
    """The recipe's evaluation settings, with defaults for any the recipe does not have."""

    bootstrap: int = BOOTSTRAP_RESAMPLES
    threshold: str = "validation"
    fairness: FairnessConfig = field(default_factory=FairnessConfig)
    slices: SlicesConfig = field(default_factory=SlicesConfig)
    curve: CurveConfig = field(default_factory=CurveConfig)

    @classmethod
    def from_recipe(cls, recipe: Any | None) -> EvaluationOptions:
        """Read ``recipe.evaluate``; fields it lacks keep their defaults."""
        if recipe is None:
            return cls()
        ev = recipe.evaluate
        default = cls()
        return cls(
            bootstrap=getattr(ev, "bootstrap", default.bootstrap),
            threshold=getattr(ev, "threshold", default.threshold),
            fairness=getattr(ev, "fairness", default.fairness),
            slices=getattr(ev, "slices", default.slices),
            curve=getattr(ev, "curve", default.curve),
        )


@dataclass
class RunEvaluation:
    """The evaluation of one run: ``summary`` (JSON-able) and per-row test ``predictions``."""

    summary: dict[str, Any]
    predictions: pd.DataFrame

    def write(self, run_dir: str | Path) -> dict[str, Path]:
        """Write ``evaluation.json`` and ``data/test_predictions.parquet`` into ``run_dir`` (atomically)."""
        root = Path(run_dir)
        paths = {"evaluation": root / EVALUATION_FILE, "test_predictions": root / TEST_PREDICTIONS_FILE}
        atomic_write_json(paths["evaluation"], jsonable(self.summary))
        write_table(self.predictions, paths["test_predictions"])
        return paths


def _to_numpy(outputs: Any) -> np.ndarray:
    if hasattr(outputs, "detach"):  # a torch tensor, without importing torch here
        outputs = outputs.detach().float().cpu().numpy()
    return np.asarray(outputs, dtype=np.float64)


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _predictions(outputs: Any, task: str, codec: Any | None, raw: bool) -> np.ndarray:
    """Probabilities (N, C) or values in label units (N,) from the network's outputs."""
    values = _to_numpy(outputs)
    if task == "regression":
        values = values.reshape(len(values), -1)[:, 0]
        return np.asarray(codec.decode(values), dtype=np.float64) if (raw and codec is not None) else values
    return _softmax(values) if raw else values / values.sum(axis=1, keepdims=True)


def _truth(frame: pd.DataFrame, label: str, task: str, codec: Any | None, classes: Sequence[Any] | None) -> np.ndarray:
    if task == "regression":
        return pd.to_numeric(frame[label], errors="raise").to_numpy(dtype=np.float64)
    if codec is not None:
        return _to_numpy(codec.encode(frame[label])).astype(np.int64)
    index = {str(c): i for i, c in enumerate(classes or [])}
    return frame[label].map(lambda v: index[str(v)]).to_numpy(dtype=np.int64)


def _slice_columns(frame: pd.DataFrame, schema: Any | None, sensitive: Sequence[str], label: str, config: SlicesConfig) -> list[str]:
    if config.columns is not None:
        missing = [c for c in config.columns if c not in frame.columns]
        if missing:
            from traincraft.errors import RecipeError

            raise RecipeError(
                f"evaluate.slices.columns names column(s) not in the data: {', '.join(missing)}. "
                f"Columns: {', '.join(map(str, list(frame.columns)[:20]))}."
            )
        return list(config.columns)
    if schema is not None:
        wanted = [c.name for c in schema.columns if c.role == "feature" and c.type in ("numeric", "categorical", "boolean")]
    else:
        wanted = [c for c in frame.columns if c != label and (frame[c].dtype != object or frame[c].nunique() <= MAX_CATEGORIES)]
    return list(dict.fromkeys([*sensitive, *wanted]))


def evaluate_run(
    *,
    task: str,
    label: str,
    test: tuple[pd.DataFrame, Any],
    validation: tuple[pd.DataFrame, Any] | None = None,
    classes: Sequence[Any] | None = None,
    codec: Any | None = None,
    positive: int | None = None,
    recipe: Any | None = None,
    schema: Any | None = None,
    options: EvaluationOptions | None = None,
    raw: bool = True,
    seed: int | None = None,
    reweighted: dict[str, Any] | None = None,
) -> RunEvaluation:
    """Evaluate the model's outputs on the test split (once) and validation split.

    ``test`` and ``validation`` are ``(rows, outputs)``: the split's table (with the label and
    the sensitive columns) and the network's outputs on it — logits (N, C), or the standardised
    value (N, 1) for regression, decoded with ``codec`` (a LabelCodec). With ``raw=False`` the
    outputs are already probabilities or values in label units. Validation rows choose the
    binary decision threshold and the fairness thresholds; the test rows only report.
    ``reweighted`` = ``{"test": outputs of a model trained with fairness reweighing on the test rows,
    "attribute": its sensitive column, ...}`` adds the reweighting trade-off to the fairness block.
    """
    options = options or EvaluationOptions.from_recipe(recipe)
    classes = list(codec.classes) if (codec is not None and task != "regression") else (list(classes) if classes else None)
    seed = seed if seed is not None else (getattr(recipe, "seed", 0) if recipe is not None else 0)
    sensitive = list(recipe.data.sensitive) if recipe is not None else ([] if schema is None else schema.by_role("sensitive"))
    test_df, test_out = test
    y_test = _truth(test_df, label, task, codec, classes)
    pred_test = _predictions(test_out, task, codec, raw)
    val = None
    if validation is not None and len(validation[0]):
        val_df = validation[0]
        val = (val_df, _truth(val_df, label, task, codec, classes), _predictions(validation[1], task, codec, raw))
    summary: dict[str, Any] = {
        "format": "traincraft-evaluation",
        "format_version": EVALUATION_FORMAT_VERSION,
        "task": task,
        "label": label,
        "classes": classes,
        "positive_label": None if positive is None or classes is None else classes[positive],
        "bootstrap": {"resamples": options.bootstrap, "confidence": CONFIDENCE, "seed": seed},
    }
    block: dict[str, Any] = {"rows": int(len(y_test))}
    if task == "regression":
        block["metrics"] = regression_metrics(y_test, pred_test)
        block["residuals"] = regression_residuals(y_test, pred_test, seed=seed)
        decisions = pred_test
    else:
        n_classes = len(classes)
        decisions = pred_test.argmax(axis=1)
        block["metrics"] = classification_metrics(y_test, pred_test, n_classes=n_classes, positive=positive)
        block["confusion_matrix"] = confusion_matrix(y_test, decisions, n_classes)
        block["per_class"] = per_class_metrics(y_test, decisions, classes)
        block["calibration"] = reliability_table(y_test, pred_test, positive=positive)
        if task == "binary":
            block["threshold"] = _threshold_block(val, y_test, pred_test, 1 if positive is None else positive, options)
    if options.bootstrap > 0 and len(y_test):
        block["intervals"] = bootstrap_intervals(
            y_test, pred_test, task=task, positive=positive, n_resamples=options.bootstrap, seed=seed
        )
    summary["test"] = block
    if val is not None:
        v_df, v_y, v_pred = val
        v_metrics = (regression_metrics(v_y, v_pred) if task == "regression"
                     else classification_metrics(v_y, v_pred, n_classes=len(classes), positive=positive))
        summary["validation"] = {"rows": int(len(v_y)), "metrics": v_metrics}
    summary["fairness"] = (
        fairness_report(
            y_test, pred_test, test_df, sensitive=sensitive, task=task, positive=positive, config=options.fairness,
            validation=None if val is None else (val[1], val[2], val[0]),
            reweighted=None if reweighted is None else {
                **{k: v for k, v in reweighted.items() if k != "test"},
                "predictions": _predictions(reweighted["test"], task, codec, raw),
            },
        )
        if sensitive
        else None
    )
    slice_cols = _slice_columns(test_df, schema, sensitive, label, options.slices)
    if slice_cols and len(y_test):
        slices_kw = {"abs_error": np.abs(y_test - pred_test)} if task == "regression" else {"correct": decisions == y_test}
        summary["slices"] = worst_slices(
            test_df, columns=slice_cols, bins=options.slices.bins, min_support=options.slices.min_support,
            top=options.slices.top, **slices_kw,
        )
    else:
        summary["slices"] = None
    return RunEvaluation(summary=summary, predictions=_prediction_table(test_df, label, y_test, pred_test, task, classes, sensitive))


def _threshold_block(val: tuple | None, y_test: np.ndarray, pred_test: np.ndarray, pos: int, options: EvaluationOptions) -> dict[str, Any]:
    at_half = threshold_metrics(y_test, pred_test[:, pos], 0.5, positive=pos)
    if val is None or options.threshold != "validation":
        why = "no validation split" if val is None else "evaluate.threshold is argmax"
        return {"chosen_on": None, "threshold": 0.5, "note": f"0.5 (argmax): {why}", "test_at_threshold": at_half, "test_at_0.5": at_half}
    _, v_y, v_pred = val
    chosen = choose_threshold(v_y, v_pred[:, pos], positive=pos)
    return {
        "chosen_on": "validation",
        "objective": "positive_f1",
        "threshold": chosen["threshold"],
        "validation_f1": chosen["f1"],
        "validation_f1_at_0.5": chosen["f1_at_0.5"],
        "test_at_threshold": threshold_metrics(y_test, pred_test[:, pos], chosen["threshold"], positive=pos),
        "test_at_0.5": at_half,
    }


def _prediction_table(
    frame: pd.DataFrame, label: str, y: np.ndarray, pred: np.ndarray, task: str, classes: list | None, sensitive: Sequence[str]
) -> pd.DataFrame:
    out = pd.DataFrame({"_row_id": frame.index.to_numpy()})
    if task == "regression":
        out["y_true"] = y
        out["prediction"] = pred
    else:
        names = [str(c) for c in classes]
        out["y_true"] = [names[i] for i in y]
        out["prediction"] = [names[i] for i in pred.argmax(axis=1)]
        for i, name in enumerate(names):
            out[f"proba_{name}"] = pred[:, i]
    for col in sensitive:
        out[col] = frame[col].map(lambda v: None if pd.isna(v) else str(v)).to_numpy()
    return out
