"""``evaluate``: score a bundle on a labelled table with the same metrics as training's test split."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from traincraft.data import read_table
from traincraft.errors import SchemaError
from traincraft.evaluation import classification_metrics, regression_metrics
from traincraft.serving import Predictor
from traincraft.serving.predictor import load_predictor
from traincraft._util.suggest import did_you_mean

__all__ = ["evaluate", "read_like_training", "training_read_options"]

log = logging.getLogger(__name__)


def training_read_options(predictor: Predictor, data: str | Path, **options: Any) -> dict[str, Any]:
    """Reading options for new data: the training recipe's encoding and delimiter, and its column
    ``names`` only for a file laid out like the training file (same number of fields, no header
    line). Explicit ``options`` win."""
    saved = predictor.meta.get("recipe", {}).get("data", {})
    out: dict[str, Any] = {"encoding": saved.get("encoding", "utf-8")}
    if saved.get("delimiter"):
        out["delimiter"] = saved["delimiter"]
    names = saved.get("names")
    if names and _laid_out_like(Path(data), names, out):
        out["names"] = names
        out["header"] = False
    out.update({k: v for k, v in options.items() if v is not None})
    return out


def _laid_out_like(path: Path, names: list[str], options: dict[str, Any]) -> bool:
    if not path.is_file() or path.suffix.lower() in (".parquet", ".pq", ".jsonl", ".ndjson"):
        return False
    try:
        with open(path, encoding=options["encoding"], errors="replace", newline="") as f:
            first = f.readline().rstrip("\r\n")
    except OSError:
        return False
    fields = first.split(options.get("delimiter") or ("\t" if "\t" in first else ","))
    return len(fields) == len(names) and [f.strip() for f in fields] != list(names)


def read_like_training(predictor: Predictor, data: str | Path, **options: Any) -> pd.DataFrame:
    """Read ``data`` with :func:`training_read_options`."""
    return read_table(data, **training_read_options(predictor, data, **options))


def evaluate(bundle: str | Path | Predictor, data: str | Path | pd.DataFrame, *, label: str | None = None, **read_options: Any) -> dict[str, Any]:
    """Metrics of ``bundle`` on ``data`` (which must hold the label column)."""
    predictor = bundle if isinstance(bundle, Predictor) else load_predictor(bundle, purpose="traincraft evaluate")
    frame = data if isinstance(data, pd.DataFrame) else read_like_training(predictor, data, **read_options)
    label = label or predictor.label
    if label not in frame.columns:
        raise SchemaError(
            f"Column '{label}' (the label) not found in the evaluation data; it is needed to score predictions. "
            f"Columns: {', '.join(map(str, frame.columns[:20]))}.{did_you_mean(str(label), map(str, frame.columns))}"
        )
    labelled = frame[frame[label].notna()]
    if len(labelled) < len(frame):
        log.warning("%d row(s) without a label are left out of the evaluation.", len(frame) - len(labelled))
    raw = predictor.predict_raw(labelled)
    if predictor.task == "regression":
        metrics = regression_metrics(pd.to_numeric(labelled[label], errors="raise").to_numpy(), raw)
    else:
        y = predictor.codec.encode(labelled[label]).numpy()
        positive = predictor.meta.get("positive_label")
        pos_index = [str(c) for c in predictor.codec.classes].index(str(positive)) if positive is not None else None
        metrics = classification_metrics(y, raw, n_classes=len(predictor.codec.classes), positive=pos_index)
    return {"bundle": str(predictor.path), "rows": len(labelled), "task": predictor.task, "metrics": metrics}
