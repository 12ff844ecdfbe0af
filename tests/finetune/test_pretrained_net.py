"""PretrainedTextNet: built from a JSON spec; stores only what it trains; pools, chunks and decays as documented."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from traincraft.errors import BundleError, RecipeError
from traincraft.features.pretrained_text import PretrainedTableEncoder, encoder_from_json, fit_encoder
from traincraft.models import PretrainedTextNet, build_model
from traincraft.models.pretrained import INFERENCE_CHUNK
from traincraft.recipe import ModelConfig

SCHEMA = {
    "columns": [
        {"name": "text", "role": "feature", "type": "text"},
        {"name": "n", "role": "feature", "type": "numeric"},
        {"name": "colour", "role": "feature", "type": "categorical"},
        {"name": "label", "role": "label", "type": "categorical"},
    ]
}


def _frame(n: int = 12) -> pd.DataFrame:
    texts = ["free prize call now", "ok see you later", "win cash now txt stop", None, "i love you", "claim your award today"]
    return pd.DataFrame(
        {
            "text": [texts[i % len(texts)] for i in range(n)],
            "n": [float(i) for i in range(n)],
            "colour": [("red", "blue", "green")[i % 3] for i in range(n)],
            "label": [("a", "b")[i % 2] for i in range(n)],
        }
    )


def _build(tiny_bert, tune: str, **model):
    config = ModelConfig(pretrained=str(tiny_bert), tune=tune, hidden=[8], **model)
    encoder = fit_encoder(_frame(), SCHEMA, config)
    torch.manual_seed(0)
    return encoder, build_model(encoder.model_spec(), config, 2), config


def test_the_encoder_tokenises_once_into_index_sliceable_tensors(tiny_bert) -> None:
    encoder, _, _ = _build(tiny_bert, "lora")
    x = encoder.transform(_frame())
    assert set(x) == {"input_ids:text", "attention_mask:text", "dense", "categorical"}
    ids, mask = x["input_ids:text"], x["attention_mask:text"]
    assert ids.dtype == mask.dtype == torch.int64 and ids.shape == mask.shape and ids.shape[0] == 12
    assert ids.is_contiguous() and mask.is_contiguous()
    assert mask[3].tolist()[:3] == [1, 1, 0]  # a missing text is [CLS] [SEP]
    assert bool((ids[mask == 0] == 0).all())  # padding on the right with the pad id
    assert isinstance(encoder, PretrainedTableEncoder)
    again = encoder_from_json(encoder.to_json())
    for key, value in again.transform(_frame()).items():
        assert torch.equal(value, x[key]), key


def test_max_length_cuts_long_texts(tiny_bert) -> None:
    encoder, _, _ = _build(tiny_bert, "head", max_length=8)
    x = encoder.transform(pd.DataFrame({"text": ["word " * 50], "n": [1.0], "colour": ["red"]}))
    assert x["input_ids:text"].shape == (1, 8)


@pytest.mark.parametrize("tune", ["lora", "head"])
def test_state_dict_leaves_out_the_frozen_base_weights(tiny_bert, tune) -> None:
    _, net, _ = _build(tiny_bert, tune)
    keys = list(net.state_dict())
    assert keys, "the head is always stored"
    assert all(k.startswith(("head.", "categorical.")) or ".lora_" in k for k in keys)
    if tune == "lora":
        assert any(".lora_A." in k for k in keys) and any(".lora_B." in k for k in keys)
    trainable = {n for n, p in net.named_parameters() if p.requires_grad}
    assert trainable == set(keys)
    fresh = build_model(_build(tiny_bert, tune)[0].model_spec(), ModelConfig(pretrained=str(tiny_bert), tune=tune, hidden=[8]), 2)
    fresh.load_state_dict(net.state_dict(), strict=True)  # strict: the base weights are not asked for
    for key, value in net.state_dict().items():
        assert torch.equal(fresh.state_dict()[key], value)


def test_full_tuning_stores_every_weight(tiny_bert) -> None:
    _, net, _ = _build(tiny_bert, "full")
    keys = set(net.state_dict())
    assert "encoder.embeddings.word_embeddings.weight" in keys
    assert all(p.requires_grad for p in net.parameters())


def test_a_missing_trained_key_is_still_an_error(tiny_bert) -> None:
    _, net, _ = _build(tiny_bert, "lora")
    state = net.state_dict()
    state.pop(next(k for k in state if ".lora_A." in k))
    with pytest.raises(RuntimeError, match="Missing key"):
        net.load_state_dict(state, strict=True)


def test_a_changed_base_model_is_refused_naming_both_hashes(tiny_bert, tiny_bert_copy) -> None:
    from finetune_helpers import write_tiny_bert

    encoder, _, config = _build(tiny_bert_copy, "lora")
    spec = encoder.model_spec()
    recorded = spec["pretrained"]["sha256"]
    write_tiny_bert(tiny_bert_copy, seed=1)  # same architecture, other weights
    from traincraft.models.pretrained import weights_sha256

    now = weights_sha256(tiny_bert_copy)
    assert now != recorded
    with pytest.raises(BundleError, match=rf"has weights {now}, but this model was trained on weights {recorded}"):
        build_model(spec, config, 2)


def test_lora_targets_that_do_not_exist_list_the_linear_layers(tiny_bert) -> None:
    with pytest.raises(
        RecipeError,
        match=r"target_modules names q_proj, which the base model \(BertModel\) has no linear or convolution layer called\. "
        r"Its adaptable layers: .*query.*; for this model the default would be \[query, value\]",
    ):
        _build(tiny_bert, "lora", lora={"target_modules": ["q_proj"]})


@pytest.mark.parametrize("layers", ["last", "all"])
def test_mean_pooling_ignores_padding(tiny_bert, layers) -> None:
    encoder, net, _ = _build(tiny_bert, "head", layers=layers)
    net.eval()
    x = encoder.transform(pd.DataFrame({"text": ["free prize", "free prize call now you win cash today"], "n": [0.0, 1.0], "colour": ["red"] * 2}))
    alone = encoder.transform(pd.DataFrame({"text": ["free prize"], "n": [0.0], "colour": ["red"]}))
    with torch.no_grad():
        padded = net.pooled(x)["pooled:text"][0]
        unpadded = net.pooled(alone)["pooled:text"][0]
    torch.testing.assert_close(padded, unpadded, rtol=1e-5, atol=1e-6)


def test_cls_pooling_takes_the_first_token(tiny_bert) -> None:
    encoder, net, _ = _build(tiny_bert, "head", pooling="cls", layers="last")
    net.eval()
    x = encoder.transform(_frame(3))
    with torch.no_grad():
        pooled = net.pooled(x)["pooled:text"]
        hidden = net.encoder(input_ids=x["input_ids:text"], attention_mask=x["attention_mask:text"]).last_hidden_state
    torch.testing.assert_close(pooled, hidden[:, 0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("tune", "layers", "pooled"), [("head", "auto", "all"), ("lora", "auto", "last"), ("full", "auto", "last"), ("lora", "all", "all"), ("head", "last", "last")])
def test_auto_pools_every_layer_only_for_a_frozen_encoder(tiny_bert, tune, layers, pooled) -> None:
    encoder, net, _ = _build(tiny_bert, tune, layers=layers)
    assert encoder.model_spec()["layers"] == encoder_from_json(encoder.to_json()).layers == net.layers == pooled
    width = 32 * (2 + 1) if pooled == "all" else 32  # the tiny BERT: hidden 32, 2 blocks
    assert net.pooled_size == width and net.head[0].in_features == width + 1 + net.categorical[0].embedding_dim


def test_all_layers_are_each_pooled_to_unit_length_side_by_side(tiny_bert) -> None:
    encoder, net, _ = _build(tiny_bert, "head", layers="all")
    net.eval()
    x = encoder.transform(_frame(4))
    with torch.no_grad():
        pooled = net.pooled(x)["pooled:text"]  # (4, 3 * 32)
        states = net.encoder(input_ids=x["input_ids:text"], attention_mask=x["attention_mask:text"], output_hidden_states=True).hidden_states
    mask = x["attention_mask:text"].unsqueeze(-1).float()
    for k, h in enumerate(states):  # embeddings, block 0, block 1
        mean = (h * mask).sum(1) / mask.sum(1)
        torch.testing.assert_close(pooled[:, 32 * k : 32 * (k + 1)], mean / mean.norm(dim=1, keepdim=True), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(pooled.view(4, 3, 32).norm(dim=2), torch.ones(4, 3))


def test_a_spec_without_layers_pools_the_top_layer(tiny_bert) -> None:
    encoder, _, config = _build(tiny_bert, "head", layers="last")
    old = {k: v for k, v in encoder.model_spec().items() if k != "layers"}  # bundles written before model.layers
    assert build_model(old, config, 2).pooled_size == 32
    stored = {k: v for k, v in encoder.to_json().items() if k != "layers"}
    assert encoder_from_json(stored).layers == "last"
    with pytest.raises(BundleError, match=r"layers 'middle'; allowed: last, all"):
        build_model({**encoder.model_spec(), "layers": "middle"}, config, 2)


def test_inference_in_length_sorted_chunks_equals_one_pass(tiny_bert) -> None:
    encoder, net, _ = _build(tiny_bert, "lora")
    net.eval()
    rows = INFERENCE_CHUNK * 2 + 5
    x = encoder.transform(_frame(rows))
    with torch.no_grad():
        chunked = net(x)  # no gradients: length-sorted chunks
    with torch.enable_grad():
        whole = net(x).detach()  # with gradients: one pass
    torch.testing.assert_close(chunked, whole, rtol=1e-4, atol=1e-5)


def test_head_tuning_keeps_the_encoder_deterministic(tiny_bert) -> None:
    encoder, net, _ = _build(tiny_bert, "head")
    net.train()
    assert not net.encoder.training and net.head.training
    x = encoder.transform(_frame(6))
    with torch.enable_grad():
        a, b = net.pooled(x)["pooled:text"], net.pooled(x)["pooled:text"]
    assert torch.equal(a, b)


def test_layer_decay_scales_by_depth(tiny_bert) -> None:
    _, net, _ = _build(tiny_bert, "full", layer_decay=0.5)
    scales = net.lr_scales()
    assert scales["encoder.embeddings.word_embeddings.weight"] == pytest.approx(0.5**3)  # L = 2: embeddings at 0.5^(L+1)
    assert scales["encoder.encoder.layer.0.attention.self.query.weight"] == pytest.approx(0.5**2)
    assert scales["encoder.encoder.layer.1.output.dense.weight"] == pytest.approx(0.5)
    assert scales["encoder.pooler.dense.weight"] == pytest.approx(1.0)
    assert not any(k.startswith("head.") for k in scales)
    _, plain, _ = _build(tiny_bert, "full")
    assert plain.lr_scales() == {}


def test_gradient_checkpointing_gives_the_same_gradients(tiny_bert) -> None:
    encoder, net, _ = _build(tiny_bert, "full")
    net.train()
    for module in net.modules():  # dropout off, so both passes see the same function
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    x = encoder.transform(_frame(6))

    def grads() -> dict[str, torch.Tensor]:
        net.zero_grad()
        net(x).sum().backward()
        return {n: p.grad.clone() for n, p in net.named_parameters() if p.grad is not None}

    plain = grads()
    assert not net.grad_checkpointing
    net.set_grad_checkpointing(True)
    assert net.grad_checkpointing
    checkpointed = grads()
    assert plain.keys() == checkpointed.keys()
    for name in plain:
        torch.testing.assert_close(plain[name], checkpointed[name], rtol=1e-4, atol=1e-6, msg=name)


def test_a_spec_of_another_kind_is_refused(tiny_bert) -> None:
    encoder, _, config = _build(tiny_bert, "lora")
    spec = {**encoder.model_spec(), "kind": "transformer-xl"}
    with pytest.raises(BundleError, match=r"Unknown model kind 'transformer-xl'.*known: tabular, pretrained"):
        build_model(spec, config, 2)
    bad = {**encoder.model_spec(), "tune": "prefix"}
    with pytest.raises(BundleError, match=r"tune 'prefix'; allowed: full, head, lora"):
        PretrainedTextNet(bad, config, 2)
