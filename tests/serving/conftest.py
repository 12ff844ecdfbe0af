"""Small bundles for the serving tests, trained once per session: every input kind, text, images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

TINY_MODEL = {"hidden": [16], "text": {"buckets": 2048, "embedding_dim": 8}}


def mixed_frame(n: int = 240, seed: int = 0) -> pd.DataFrame:
    """Numeric (with gaps), categorical, boolean, text and datetime features, an id, a binary label."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    x[rng.random(n) < 0.05] = np.nan
    colour = rng.choice(["red", "green", "blue"], size=n)
    flag = rng.random(n) < 0.5
    words = np.array(["good", "great", "fine", "bad", "awful", "poor"])
    review = [" ".join(rng.choice(words[:3] if v > 0 else words[3:], size=4)) for v in np.nan_to_num(x)]
    when = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, size=n), unit="D")
    label = np.where(np.nan_to_num(x) + (colour == "red") * 0.5 > 0, "yes", "no")
    return pd.DataFrame(
        {
            "order_id": [f"o-{i:05d}" for i in range(n)],
            "x": x,
            "colour": colour,
            "flag": flag,
            "review": review,
            "when": when.strftime("%Y-%m-%d"),
            "label": label,
        }
    )


@pytest.fixture(scope="session")
def split_rows():
    """``split_rows(run, frame)``: the rows of ``frame`` that ``run`` put in its test split."""
    from traincraft.data import Splits

    def rows(run, frame: pd.DataFrame) -> pd.DataFrame:
        splits = Splits.load(Path(run.run_dir) / "data" / "splits.json")
        return frame.loc[list(splits.test)]

    return rows


@pytest.fixture(scope="session")
def mixed_data() -> pd.DataFrame:
    return mixed_frame()


@pytest.fixture(scope="session")
def mixed_run(tmp_path_factory, mixed_data):
    """A binary model over every tabular input kind (numeric, categorical, boolean, text, datetime)."""
    import traincraft as tc

    return tc.train(
        mixed_data,
        label="label",
        recipe={"data": {"id": "order_id"}, "train": {"epochs": 2}, "model": TINY_MODEL},
        name="mixed",
        runs_dir=tmp_path_factory.mktemp("runs"),
    )


@pytest.fixture(scope="session")
def spam_data(spam_file) -> pd.DataFrame:
    """600 real SMS messages (ham and spam)."""
    from traincraft.data import read_table

    frame = read_table(spam_file, delimiter="\t", header=False, names=["label", "text"])
    return frame.iloc[:600].reset_index(drop=True)


@pytest.fixture(scope="session")
def spam_run(tmp_path_factory, spam_data):
    import traincraft as tc

    return tc.train(
        spam_data,
        label="label",
        recipe={"train": {"epochs": 2}, "model": TINY_MODEL},
        name="spam-small",
        runs_dir=tmp_path_factory.mktemp("runs"),
    )


@pytest.fixture(scope="session")
def image_data(tmp_path_factory) -> pd.DataFrame:
    """200 real handwritten digits (scikit-learn's 8x8 scans) as PNG files, labelled 0-9."""
    from PIL import Image
    from sklearn.datasets import load_digits

    folder = tmp_path_factory.mktemp("digit-images")
    digits = load_digits()
    paths = []
    for i in range(200):
        pixels = (digits.images[i] * (255.0 / 16.0)).round().astype(np.uint8)  # (8, 8), 0..16 -> 0..255
        path = folder / f"digit_{i:04d}.png"
        Image.fromarray(pixels, mode="L").save(path)
        paths.append(str(path))
    return pd.DataFrame({"scan": paths, "digit": digits.target[:200]})


@pytest.fixture(scope="session")
def image_run(tmp_path_factory, image_data):
    import traincraft as tc

    return tc.train(
        image_data,
        label="digit",
        recipe={"train": {"epochs": 2}, "model": {"hidden": [16], "image": {"size": 8, "conv_channels": [4, 8]}}},
        name="digit-images",
        runs_dir=tmp_path_factory.mktemp("runs"),
    )
