from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from traincraft.errors import BundleError, SchemaError
from traincraft.models import SmallCNN, TabularNet, build_model
from traincraft.models.tabular import TEXT_EMBEDDING_INIT_STD
from traincraft.recipe import ModelConfig

B = 5
CONFIG = ModelConfig(hidden=[16, 8])

DENSE = {"dense_dim": 3, "categorical": [], "text": [], "image": []}
CATEGORICAL = {"dense_dim": 0, "categorical": [{"name": "a", "cardinality": 6, "dim": 4}, {"name": "b.c", "cardinality": 3, "dim": 2}], "text": [], "image": []}
TEXT = {"dense_dim": 0, "categorical": [], "text": [{"name": "sms", "buckets": 1024, "dim": 8}], "image": []}
IMAGE = {"dense_dim": 0, "categorical": [], "text": [], "image": [{"name": "pic", "channels": 3, "size": 16, "conv_channels": [4, 6]}]}
MIX = {
    "dense_dim": 3,
    "categorical": CATEGORICAL["categorical"],
    "text": TEXT["text"] + [{"name": "title", "buckets": 2048, "dim": 4}],
    "image": IMAGE["image"],
}


def batch_for(spec: dict, rows: int = B) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    batch: dict[str, torch.Tensor] = {}
    if spec["dense_dim"]:
        batch["dense"] = torch.randn(rows, spec["dense_dim"], generator=g)
    if spec["categorical"]:
        batch["categorical"] = torch.stack(
            [torch.randint(0, c["cardinality"], (rows,), generator=g) for c in spec["categorical"]], dim=1
        )
    for t in spec["text"]:
        ids = torch.randint(1, t["buckets"] + 1, (rows, 7), generator=g)
        ids[:, 5:] = 0  # padding
        batch[f"text:{t['name']}"] = ids
        batch[f"text_w:{t['name']}"] = torch.rand(rows, 7, generator=g) * (ids > 0)
    for i in spec["image"]:
        batch[f"image:{i['name']}"] = torch.randn(rows, i["channels"], i["size"], i["size"], generator=g)
    return batch


@pytest.mark.parametrize("spec", [DENSE, CATEGORICAL, TEXT, IMAGE, MIX], ids=["dense", "categorical", "text", "image", "mix"])
@pytest.mark.parametrize("out_dim", [1, 3])
def test_forward_shapes(spec, out_dim):
    torch.manual_seed(0)
    model = build_model(spec, CONFIG, out_dim)
    out = model(batch_for(spec))
    assert out.shape == (B, out_dim) and out.dtype == torch.float32
    out.sum().backward()  # every part is differentiable end to end


def test_input_width_is_the_sum_of_the_parts():
    model = TabularNet(MIX, CONFIG, 2)
    assert model.in_dim == 3 + (4 + 2) + (8 + 4) + 6
    assert model.head[0].in_features == model.in_dim


def test_build_from_json_reproduces_keys_and_shapes():
    torch.manual_seed(0)
    model = build_model(MIX, CONFIG, 4)
    spec = json.loads(json.dumps(MIX))
    config = json.loads(json.dumps(CONFIG.model_dump(mode="json")))
    rebuilt = build_model(spec, config, 4)
    a, b = model.state_dict(), rebuilt.state_dict()
    assert list(a) == list(b)
    assert all(a[k].shape == b[k].shape for k in a)
    rebuilt.load_state_dict(a, strict=True)
    model.eval()
    rebuilt.eval()
    batch = batch_for(MIX)
    torch.testing.assert_close(model(batch), rebuilt(batch))


def test_initialisation_is_deterministic_under_a_seed():
    torch.manual_seed(123)
    a = build_model(MIX, CONFIG, 2).state_dict()
    torch.manual_seed(123)
    b = build_model(MIX, CONFIG, 2).state_dict()
    torch.manual_seed(124)
    c = build_model(MIX, CONFIG, 2).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a if a[k].is_floating_point())


def test_text_padding_contributes_nothing_and_weights_scale_the_bag():
    model = TabularNet(TEXT, ModelConfig(hidden=[]), 1).eval()
    bag = model.text[0]
    assert not bag.weight[0].any()  # the padding row
    assert bag.weight[1:].std().item() == pytest.approx(TEXT_EMBEDDING_INIT_STD, rel=0.1)  # starts near zero
    ids = torch.tensor([[5, 9, 0, 0]])
    weights = torch.tensor([[0.5, 0.25, 0.0, 0.0]])
    expected = 0.5 * bag.weight[5] + 0.25 * bag.weight[9]
    torch.testing.assert_close(bag(ids, per_sample_weights=weights)[0], expected)
    padded = bag(torch.tensor([[5, 9, 0, 0, 0, 0]]), per_sample_weights=torch.tensor([[0.5, 0.25, 0, 0, 0, 0]]))
    torch.testing.assert_close(padded[0], expected)


def test_ngram_dropout_only_while_training():
    model = TabularNet(TEXT, ModelConfig(hidden=[]), 2)
    assert model.ngram_dropout > 0
    batch = batch_for(TEXT)
    model.eval()
    torch.testing.assert_close(model(batch), model(batch))
    model.train()
    torch.manual_seed(0)
    assert not torch.equal(model(batch), model(batch))


def test_config_as_dict_or_model_or_none():
    torch.manual_seed(0)
    a = build_model(DENSE, {"hidden": [4], "activation": "tanh"}, 2)
    assert isinstance(a.head[1], nn.Tanh) and a.head[0].out_features == 4
    b = build_model(DENSE, None, 2)
    assert [m.out_features for m in b.head if isinstance(m, nn.Linear)] == ModelConfig().hidden + [2]
    linear = build_model(DENSE, ModelConfig(hidden=[]), 2)
    assert len(linear.head) == 1


def test_missing_batch_key_is_an_error():
    model = TabularNet(MIX, CONFIG, 2)
    batch = batch_for(MIX)
    del batch["text_w:sms"]
    with pytest.raises(SchemaError, match=r"The batch lacks 'text_w:sms'; this model reads dense, categorical, text:sms, text_w:sms"):
        model(batch)


def test_no_inputs_and_bad_specs_are_errors():
    with pytest.raises(SchemaError, match=r"The model has no inputs"):
        TabularNet({"dense_dim": 0, "categorical": [], "text": [], "image": []}, CONFIG, 2)
    with pytest.raises(BundleError, match=r"A model spec is a dict with 'dense_dim'"):
        TabularNet({"categorical": []}, CONFIG, 2)
    with pytest.raises(BundleError, match=r"under 'text' lacks buckets"):
        TabularNet({"dense_dim": 0, "text": [{"name": "t", "dim": 3}]}, CONFIG, 2)
    with pytest.raises(BundleError, match=r"out_dim must be at least 1, got 0"):
        TabularNet(DENSE, CONFIG, 0)


def test_small_cnn():
    cnn = SmallCNN(1, [4, 8, 8, 8, 8])  # more pooling than an 8x8 image has pixels
    out = cnn(torch.randn(2, 1, 8, 8))
    assert out.shape == (2, 8) and cnn.out_dim == 8
    assert SmallCNN(3, []).out_dim == 3
    blocks = [type(m) for m in SmallCNN(3, [4]).blocks]
    assert blocks == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.MaxPool2d]
