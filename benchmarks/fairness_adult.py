"""Fairness on the real UCI Adult census data: the unmitigated model, per-group thresholds chosen on
validation, and reweighting in training (Kamiran & Calders), side by side on the test split.

    python benchmarks/fairness_adult.py [--epochs 8] [--hidden 64] [--seed 0]

One ``tc.train`` run on ``adult.data`` (vendored in tests/evaluation/data/adult) with
``data.sensitive: [sex, race]`` and ``evaluate.fairness.reweighting: true``: the run trains the
model, then a second one with row weights P(sex)·P(income) / P(sex, income), and its evaluation
holds both mitigations. The selection rates are checked against fairlearn's ``MetricFrame``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests" / "evaluation"))

import traincraft as tc  # noqa: E402
from adult import adult_frame  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    from fairlearn.metrics import MetricFrame, selection_rate

    recipe = {"seed": args.seed, "data": {"label": "income", "sensitive": ["sex", "race"]}, "model": {"hidden": [args.hidden]},
              "train": {"epochs": args.epochs, "batch_size": 512}, "evaluate": {"fairness": {"reweighting": True}}}
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        run = tc.train(adult_frame(), recipe=recipe, name="adult", runs_dir=tmp)
        seconds = time.perf_counter() - started
        ev = json.loads((Path(run.run_dir) / "evaluation.json").read_text())
        preds = pd.read_parquet(Path(run.run_dir) / "data" / "test_predictions.parquet")
    fair = ev["fairness"]
    sex = {g["group"]: g for g in fair["attributes"]["sex"]["groups"]}
    mf = MetricFrame(metrics=selection_rate, y_true=preds["y_true"] == ">50K", y_pred=preds["prediction"] == ">50K",
                     sensitive_features=preds["sex"])
    same = all(abs(sex[g]["selection_rate"] - mf.by_group[g]) < 1e-12 for g in ("Female", "Male"))
    m, r = fair["mitigation"], fair["reweighting"]
    print(f"Adult: {ev['test']['rows']:,} test rows, {run.fit.epochs_run} epochs (+ {r['training']['epochs']} for the reweighted model), "
          f"{seconds:.0f} s wall; selection rates equal fairlearn MetricFrame: {same}")
    print(f"  {'test split, by sex':34s} accuracy  DP diff  DP ratio  EO diff  selection rate F / M   TPR F / M      FPR F / M")
    rows = (("unmitigated (threshold 0.5)", m["test_before"]), ("per-group thresholds (validation)", m["test_after"]),
            ("reweighting in training", r["test_after"]))
    for name, d in rows:
        g = d["groups"]
        print(f"  {name:34s} {d['accuracy']:.4f}   {d['dp_difference']:.3f}    {d['dp_ratio']:.3f}     {d['eo_difference']:.3f}    "
              f"{g['Female']['selection_rate']:.3f} / {g['Male']['selection_rate']:.3f}          "
              f"{g['Female']['tpr']:.3f} / {g['Male']['tpr']:.3f}   {g['Female']['fpr']:.3f} / {g['Male']['fpr']:.3f}")
    print(f"  thresholds: {', '.join(f'{k} {v:.3f}' for k, v in m['thresholds'].items())}; accuracy cost {100 * m['accuracy_cost']:.2f} points, "
          f"DP difference {-100 * m['dp_difference_reduction']:+.0f}%")
    print(f"  reweighting: accuracy cost {100 * r['accuracy_cost']:.2f} points, DP difference {-100 * r['dp_difference_reduction']:+.0f}%, "
          f"EO difference {r['eo_difference_change']:+.3f}; weights "
          + ", ".join(f"{c['group']}/{c['label']} {c['weight']:.2f}" for c in r["weights"]))


if __name__ == "__main__":
    main()
