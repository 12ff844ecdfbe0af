"""The k-means module: distances, assignment, spec round trip, and its errors."""

from __future__ import annotations

import pytest
import torch

from traincraft.errors import BundleError
from traincraft.models.kmeans import KMeans, squared_distances


def test_squared_distances_match_torch_cdist():
    gen = torch.Generator().manual_seed(0)
    x, c = torch.randn(50, 7, generator=gen), torch.randn(4, 7, generator=gen)
    assert torch.allclose(squared_distances(x, c), torch.cdist(x, c).pow(2), atol=1e-4)
    assert bool((squared_distances(c, c).diagonal() >= 0).all())


def test_assign_picks_the_nearest_centre_in_chunks(monkeypatch):
    import traincraft.models.kmeans as km

    monkeypatch.setattr(km, "ASSIGN_CHUNK", 3)  # several chunks for 10 rows
    model = KMeans(2, 1)
    model.centers.copy_(torch.tensor([[0.0], [10.0]]))
    x = torch.tensor([[1.0], [9.0], [4.0], [6.0], [-3.0], [12.0], [5.1], [4.9], [0.0], [10.0]])
    labels, dists = model.assign(x)
    assert labels.tolist() == [0, 1, 0, 1, 0, 1, 1, 0, 0, 1]
    assert dists.tolist() == pytest.approx([1.0, 1.0, 16.0, 16.0, 9.0, 4.0, 4.9**2, 4.9**2, 0.0, 0.0], abs=1e-5)
    assert model(x).shape == (10, 2)


def test_spec_round_trip_and_state_dict():
    model = KMeans(3, 4)
    model.centers.normal_()
    again = KMeans.from_spec(model.spec())
    again.load_state_dict(model.state_dict())
    assert torch.equal(again.centers, model.centers)
    assert list(model.state_dict()) == ["centers"]


def test_errors_name_what_is_wrong():
    with pytest.raises(BundleError, match="k >= 1"):
        KMeans(0, 3)
    with pytest.raises(BundleError, match="'kind': 'kmeans'"):
        KMeans.from_spec({"kind": "other"})
    with pytest.raises(BundleError, match=r"takes \(rows, 3\) features"):
        KMeans(2, 3).assign(torch.zeros(5, 4))
