"""train splits before it prepares: impute and drop_label_issues learn from the training split only,
and the validation and test rows are neither judged by their labels nor dropped."""

import json
from pathlib import Path

import numpy as np
import pandas as pd

import traincraft as tc
from traincraft.api.prepare import prepare, split_for_prepare
from traincraft.data import infer_schema
from traincraft.recipe import recipe_from_dict


def _noisy_breast_cancer() -> pd.DataFrame:
    from sklearn.datasets import load_breast_cancer

    df = load_breast_cancer(as_frame=True).frame.rename(columns={"target": "y"})
    df.columns = [c.replace(" ", "_") for c in df.columns]
    rng = np.random.default_rng(0)
    flipped = rng.choice(len(df), int(0.15 * len(df)), replace=False)
    df.loc[flipped, "y"] = 1 - df.loc[flipped, "y"]
    df.loc[rng.choice(len(df), 60, replace=False), "mean_radius"] = np.nan
    return df


def test_train_fits_prepare_on_the_training_split_and_leaves_the_test_split_untouched(tmp_path) -> None:
    df = _noisy_breast_cancer()
    doc = {
        "data": {"label": "y"},
        "prepare": [{"step": "impute", "columns": ["mean_radius"]}, {"step": "drop_label_issues", "threshold": 0.5}],
        "train": {"epochs": 1},
        "model": {"hidden": [8]},
        "evaluate": {"bootstrap": 0},
    }
    run = tc.train(df, recipe=doc, name="prep", runs_dir=tmp_path)
    cfg = recipe_from_dict(doc)
    drawn = split_for_prepare(cfg, df, infer_schema(df, label="y", data=cfg.data))
    root = Path(run.run_dir)
    splits = json.loads((root / "data/splits.json").read_text())
    assert splits["test"] == drawn.test.tolist() and splits["validation"] == drawn.validation.tolist()
    quarantine = pd.read_parquet(root / "data/quarantine.parquet")
    dropped = set(quarantine.loc[quarantine["_action"] == "dropped", "_row_id"])
    assert dropped and dropped <= set(drawn.train.tolist())
    assert set(splits["train"]) == set(drawn.train.tolist()) - dropped
    manifest = json.loads((root / "data/manifest.json").read_text())
    train_median = float(df.loc[drawn.train, "mean_radius"].median())
    assert float(manifest["steps"][0]["details"]["filled"]["mean_radius"]) == train_median != float(df["mean_radius"].median())
    assert manifest["fitted_on"] == f"the training split ({len(drawn.train):,} rows)"
    evaluation = json.loads((root / "evaluation.json").read_text())
    assert evaluation["test"]["rows"] == len(drawn.test)


def test_prepare_command_fits_on_the_recipes_training_split(tmp_path) -> None:
    df = _noisy_breast_cancer()
    df.to_csv(tmp_path / "bc.csv", index=False)
    recipe = {"data": {"source": str(tmp_path / "bc.csv"), "label": "y"}, "prepare": [{"step": "impute", "columns": ["mean_radius"]}]}
    out = prepare(recipe, out_dir=tmp_path / "out")
    manifest = json.loads(Path(out["manifest"]).read_text())
    cfg = recipe_from_dict(recipe)
    drawn = split_for_prepare(cfg, df, infer_schema(df, label="y", data=cfg.data))
    assert float(manifest["steps"][0]["details"]["filled"]["mean_radius"]) == float(df.loc[drawn.train, "mean_radius"].median())
