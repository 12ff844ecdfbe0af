"""``quickstart``: the whole life cycle on real data (scikit-learn's bundled handwritten digits).

Writes the digits as a raw CSV, infers a recipe, trains, evaluates the bundle on the held-out test
rows and predicts a few of them: init → train → evaluate → bundle → predict, in well under a minute.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from traincraft._util.atomic import atomic_write_text
from traincraft.api.evaluate import evaluate
from traincraft.api.init import init_recipe
from traincraft.api.train import train
from traincraft.data import Splits, write_table
from traincraft.serving import load

__all__ = ["quickstart", "digits_frame"]

log = logging.getLogger(__name__)


def digits_frame() -> pd.DataFrame:
    """The 1,797 real 8x8 handwritten digits: 64 pixel columns (0-16) and the label ``digit``."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    frame = pd.DataFrame(digits.data.astype(np.int64), columns=[f"pixel_{i}" for i in range(digits.data.shape[1])])
    frame["digit"] = digits.target
    return frame


def quickstart(workdir: str | Path = "traincraft-quickstart", *, progress: bool | str = False) -> dict[str, Any]:
    """Run the digits example end to end in ``workdir`` and return a summary."""
    started = time.perf_counter()
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    data_path = workdir / "digits.csv"
    if not data_path.exists():
        write_table(digits_frame(), data_path)
    recipe_path = workdir / "recipe.yaml"
    text, _ = init_recipe(data_path, label="digit", output=recipe_path, name="digits")
    atomic_write_text(recipe_path, text)
    log.info("wrote %s and %s", data_path, recipe_path)

    run = train(recipe_path, runs_dir=workdir / "runs", progress=progress)

    # evaluate the bundle on the held-out test rows, as a user would with a new labelled file
    splits = Splits.load(run.run_dir / "data" / "splits.json")
    frame = pd.read_csv(data_path)
    test_path = run.run_dir / "data" / "test_rows.csv"
    write_table(frame.loc[splits.test], test_path)
    evaluation = evaluate(run.bundle_dir, test_path)
    sample = load(run.bundle_dir).predict(frame.loc[splits.test[:5]].drop(columns=["digit"]))
    return {
        "data": str(data_path),
        "recipe": str(recipe_path),
        "run_dir": str(run.run_dir),
        "bundle": str(run.bundle_dir),
        "task": run.task,
        "metrics": run.metrics["test"],
        "evaluate_metrics": evaluation["metrics"],
        "splits": run.split_sizes,
        "epochs": run.fit.epochs_run,
        "best_epoch": run.fit.best_epoch,
        "sample_predictions": [
            {"row": int(i), "true": int(frame.loc[i, "digit"]), "predicted": int(p), "probability": round(float(sample.loc[i, f"proba_{p}"]), 4)}
            for i, p in zip(sample.index, sample["prediction"])
        ],
        "seconds": round(time.perf_counter() - started, 2),
    }
