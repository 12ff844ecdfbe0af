"""The autoencoder: per-column errors over dense and categorical inputs, the bottleneck rule, its errors."""

from __future__ import annotations

import pytest
import torch

from traincraft.errors import SchemaError
from traincraft.models.autoencoder import AutoEncoder, auto_bottleneck

SPEC = {"dense_dim": 3, "categorical": [{"name": "c", "cardinality": 4, "dim": 2}], "text": [], "image": []}


def _batch(n: int = 6) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return {"dense": torch.randn(n, 3, generator=gen), "categorical": torch.randint(0, 4, (n, 1), generator=gen)}


def test_errors_have_one_column_per_input_column_and_forward_is_their_mean():
    torch.manual_seed(0)
    model = AutoEncoder(SPEC, hidden=[8])
    batch = _batch()
    errors = model.errors(batch)
    assert errors.shape == (6, 4)  # 3 dense + 1 categorical
    assert bool((errors >= 0).all())
    assert torch.allclose(model(batch), errors.mean(dim=1, keepdim=True))


def test_a_perfect_reconstruction_scores_zero_on_dense_columns():
    model = AutoEncoder({"dense_dim": 2, "categorical": []}, hidden=[], bottleneck=1)
    # rows on the line y = x pass through a 1-wide code exactly when the weights say so
    with torch.no_grad():
        model.encoder[0].weight.copy_(torch.tensor([[1.0, 0.0]]))
        model.encoder[0].bias.zero_()
        model.decoder[1].weight.copy_(torch.tensor([[1.0], [1.0]]))
        model.decoder[1].bias.zero_()
    model.decoder[0] = torch.nn.Identity()
    rows = {"dense": torch.tensor([[1.0, 1.0], [2.0, 2.0], [1.0, 3.0]])}
    assert model(rows)[:, 0].tolist() == pytest.approx([0.0, 0.0, 2.0])


def test_auto_bottleneck_is_a_quarter_of_the_input_within_bounds():
    assert auto_bottleneck(30) == 8
    assert auto_bottleneck(4) == 2
    assert auto_bottleneck(2) == 1
    assert auto_bottleneck(1000) == 32
    assert AutoEncoder(SPEC, hidden=[8]).config["bottleneck"] == 2  # 7 inputs (3 dense + 4 one-hot)


def test_errors_name_what_is_wrong():
    with pytest.raises(SchemaError, match="must be narrower than the input"):
        AutoEncoder(SPEC, hidden=[8], bottleneck=7)
    with pytest.raises(SchemaError, match="review"):
        AutoEncoder({**SPEC, "text": [{"name": "review", "buckets": 8, "dim": 4}]}, hidden=[8])
    with pytest.raises(SchemaError, match="at least two input features"):
        AutoEncoder({"dense_dim": 1, "categorical": []}, hidden=[])
    with pytest.raises(SchemaError, match="'dense' with 3 columns"):
        AutoEncoder(SPEC, hidden=[8])({"dense": torch.zeros(2, 5), "categorical": torch.zeros(2, 1, dtype=torch.long)})
