"""k-means fitting: seeding, mini-batch and Lloyd phases, silhouette parity with scikit-learn, choosing k,
profiles, and the digits acceptance (adjusted Rand index at least scikit-learn's KMeans on the same features)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import adjusted_rand_score
from sklearn.metrics import silhouette_score as sk_silhouette

from traincraft.data import infer_schema
from traincraft.errors import DataError, RecipeError, SchemaError
from traincraft.features.table import TableEncoder
from traincraft.recipe import DataConfig
from traincraft.recipe._unsupervised import ClusterConfig
from traincraft.training.clustering import (
    ClusterFeatures,
    choose_k,
    cluster_profiles,
    fit_kmeans,
    kmeans_plus_plus,
    silhouette_score,
)


def blobs(n_per: int = 60, k: int = 4, dim: int = 3, spread: float = 0.3, seed: int = 0) -> tuple[torch.Tensor, np.ndarray]:
    gen = torch.Generator().manual_seed(seed)
    centres = torch.randn(k, dim, generator=gen) * 6
    x = torch.cat([c + spread * torch.randn(n_per, dim, generator=gen) for c in centres])
    return x, np.repeat(np.arange(k), n_per)


def test_well_separated_blobs_are_recovered_exactly():
    x, truth = blobs()
    fit = fit_kmeans(x, 4, config=ClusterConfig(n_init=3), seed=0)
    assert adjusted_rand_score(truth, fit.labels.numpy()) == 1.0
    assert len(fit.inertias) == 3 and fit.inertia == min(fit.inertias)
    assert fit.inertia == pytest.approx(float(fit.distances.double().sum()), rel=1e-6)


def test_mini_batch_phase_runs_on_large_tables_and_still_converges():
    x, truth = blobs(n_per=400)
    config = ClusterConfig(n_init=2, batch_size=64, max_steps=5, refine_steps=0)  # 1,600 rows > 5 x 64: mini-batch only
    fit = fit_kmeans(x, 4, config=config, seed=1)
    assert fit.passes == 0
    assert adjusted_rand_score(truth, fit.labels.numpy()) > 0.95


def test_seeding_is_reproducible_and_seed_dependent():
    x, _ = blobs()
    a = kmeans_plus_plus(x, 4, torch.Generator().manual_seed(0))
    b = kmeans_plus_plus(x, 4, torch.Generator().manual_seed(0))
    c = kmeans_plus_plus(x, 4, torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(fit_kmeans(x, 3, seed=5).labels, fit_kmeans(x, 3, seed=5).labels)


def test_duplicate_rows_beyond_k_do_not_break_seeding_or_leave_empty_clusters():
    x = torch.tensor([[0.0, 0.0]] * 20 + [[5.0, 5.0]] * 20 + [[9.0, 0.0]])
    fit = fit_kmeans(x, 3, config=ClusterConfig(n_init=2), seed=0)
    assert sorted(torch.bincount(fit.labels).tolist()) == [1, 20, 20]


@pytest.mark.parametrize("k", [2, 5])
def test_silhouette_matches_scikit_learn(k):
    x, _ = blobs(n_per=30, spread=1.5, seed=2)
    labels = fit_kmeans(x, k, config=ClusterConfig(n_init=1), seed=0).labels
    assert silhouette_score(x, labels) == pytest.approx(sk_silhouette(x.numpy(), labels.numpy()), abs=1e-6)


def test_silhouette_scores_singletons_zero_and_refuses_one_cluster():
    x = torch.tensor([[0.0], [0.1], [5.0]])
    assert silhouette_score(x, torch.tensor([0, 0, 1])) == pytest.approx(sk_silhouette(x.numpy(), [0, 0, 1]))
    with pytest.raises(DataError, match="between 2 and 2 clusters"):
        silhouette_score(x, torch.tensor([0, 0, 0]))


def test_choose_k_finds_the_number_of_blobs():
    x, _ = blobs(k=5)
    choice = choose_k(x, config=ClusterConfig(k_range=(2, 8), n_init=2), seed=0)
    assert choice.k == 5
    assert [s["k"] for s in choice.scores] == list(range(2, 9))
    assert max(choice.scores, key=lambda s: s["silhouette"])["k"] == 5


def test_choose_k_samples_rows_for_the_silhouette():
    x, _ = blobs(n_per=100, k=3)
    choice = choose_k(x, config=ClusterConfig(k_range=(2, 4), n_init=1, silhouette_sample=50), seed=0)
    assert choice.sample_rows == 50 and choice.k == 3


def test_bad_inputs_are_clear_errors():
    x, _ = blobs(n_per=2, k=2)
    with pytest.raises(DataError, match="only 4 rows"):
        fit_kmeans(x, 5)
    with pytest.raises(DataError, match="NaN/inf"):
        fit_kmeans(torch.tensor([[0.0], [float("nan")]]), 1)
    with pytest.raises(DataError, match="non-empty"):
        fit_kmeans(torch.zeros(0, 3), 1)
    with pytest.raises(DataError, match="needs more rows"):
        choose_k(x, config=ClusterConfig(k_range=(5, 8)))
    with pytest.raises(RecipeError, match="at least 1"):
        fit_kmeans(x, 0)


def _encoder(frame: pd.DataFrame) -> TableEncoder:
    return TableEncoder.fit(frame, infer_schema(frame, label=None, data=DataConfig()))


def test_shared_scale_keeps_relative_spread_and_one_hots_are_scaled():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"small": rng.normal(0, 1, 200), "big": rng.normal(0, 10, 200), "colour": rng.choice(["r", "g"], 200)})
    encoder = _encoder(frame)
    table = encoder.transform(frame)
    column = ClusterFeatures.fit(encoder, scale="column").transform(table)
    shared = ClusterFeatures.fit(encoder, scale="shared")
    x = shared.transform(table)
    assert x.shape == column.shape == (200, 2 + encoder.encoders[2].cardinality)
    assert column[:, 0].std().item() == pytest.approx(column[:, 1].std().item(), rel=0.01)
    assert x[:, 1].std().item() / x[:, 0].std().item() == pytest.approx(10, rel=0.15)
    assert x[:, 2:].unique().tolist() == pytest.approx([0.0, 2**-0.5])
    again = ClusterFeatures.from_json(shared.to_json())
    assert torch.equal(again.transform(table), x)


def test_text_columns_cannot_be_clustered():
    frame = pd.DataFrame({"x": np.arange(30.0), "note": [f"some words here number {i} of many" for i in range(30)]})
    with pytest.raises(SchemaError, match="note"):
        ClusterFeatures.fit(_encoder(frame))
    with pytest.raises(RecipeError, match="cluster.scale"):
        ClusterFeatures.fit(_encoder(frame[["x"]]), scale="minmax")


def test_profiles_list_sizes_nearest_rows_and_distinctive_columns():
    frame = pd.DataFrame(
        {"height": [1.0, 1.1, 0.9, 5.0, 5.2, 4.8], "colour": ["a", "a", "b", "b", "b", "b"]}, index=[10, 11, 12, 13, 14, 15]
    )
    labels = np.array([0, 0, 0, 1, 1, 1])
    dists = np.array([0.0, 0.2, 0.1, 0.3, 0.0, 0.1])
    profiles = cluster_profiles(frame, [("height", "numeric"), ("colour", "categorical")], labels, dists, nearest=2)
    assert [p["size"] for p in profiles] == [3, 3]
    assert profiles[0]["nearest_rows"] == [10, 12] and profiles[1]["nearest_rows"] == [14, 15]
    top = profiles[1]["distinctive"][0]
    assert top["column"] == "height" and top["effect"] > 0 and top["typical"] == 5.0
    colour = next(e for e in profiles[0]["distinctive"] if e["column"] == "colour")
    assert colour["typical"] == "a" and colour["effect"] == pytest.approx(2 / 3, abs=1e-4)


@pytest.fixture(scope="module")
def digits_features():
    from traincraft.api._inputs import sklearn_frame

    frame = sklearn_frame("digits")
    schema = infer_schema(frame, label=None, data=DataConfig(columns={"target": {"role": "ignore"}}))
    encoder = TableEncoder.fit(frame, schema)
    x = ClusterFeatures.fit(encoder, scale="shared").transform(encoder.transform(frame))
    return x, frame["target"].to_numpy()


def test_digits_k10_adjusted_rand_at_least_scikit_learn_kmeans(digits_features):
    """Acceptance: on the same features, in the same run, our ARI >= scikit-learn KMeans' (its defaults, seed 0)."""
    from sklearn.cluster import KMeans as SkKMeans

    torch.set_num_threads(1)
    x, truth = digits_features
    ours = adjusted_rand_score(truth, fit_kmeans(x, 10, config=ClusterConfig(), seed=0).labels.numpy())
    theirs = adjusted_rand_score(truth, SkKMeans(10, random_state=0).fit(x.numpy()).labels_)
    assert 0.5 < theirs <= ours
