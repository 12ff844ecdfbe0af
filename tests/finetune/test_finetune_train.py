"""``traincraft train`` with model.pretrained: a few CPU steps of each tuning mode, end to end to a served bundle."""

from __future__ import annotations

import json
import logging

import pytest
import torch
from finetune_helpers import tiny_recipe
from safetensors.torch import load_file

import traincraft as tc
from traincraft.finetune import head_cache


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_bert, spam_frame):
    root = tmp_path_factory.mktemp("ft-runs")
    made = {}
    for tune in ("lora", "head", "full"):
        recipe = tiny_recipe(tiny_bert, tune, grad_accum=2)
        if tune == "full":
            recipe["model"]["layer_decay"] = 0.8
        made[tune] = tc.train(spam_frame, label="label", recipe=recipe, name=tune, runs_dir=root)
    return made


@pytest.mark.parametrize("tune", ["lora", "head", "full"])
def test_each_mode_trains_and_its_bundle_predicts(runs, spam_frame, tune) -> None:
    run = runs[tune]
    assert run.fit.epochs_run == 2
    assert set(run.metrics["test"]) >= {"accuracy", "positive_f1"}
    predictor = tc.load(run.bundle_dir)
    out = predictor.predict(spam_frame.head(5))
    assert list(out.columns) == ["prediction", "proba_ham", "proba_spam"]
    assert out[["proba_ham", "proba_spam"]].sum(axis=1).round(6).eq(1.0).all()
    direct = torch.softmax(run_model_outputs(run, predictor, spam_frame.head(5)), dim=1).numpy()
    assert abs(direct - out[["proba_ham", "proba_spam"]].to_numpy()).max() < 1e-5


def run_model_outputs(run, predictor, frame) -> torch.Tensor:
    """The run's trained network on the predictor's encoding (the bundle must reproduce it)."""
    from traincraft.models import build_model

    meta = json.loads((run.bundle_dir / "bundle.json").read_text())
    net = build_model(meta["model"]["spec"], meta["model"]["config"], meta["model"]["out_dim"])
    net.load_state_dict(load_file(str(run.run_dir / "checkpoints" / "best" / "model.safetensors")), strict=True)
    net.eval()
    with torch.no_grad():
        return net(predictor.encoder.transform(frame))


def test_the_bundle_names_its_base_model(runs, tiny_bert) -> None:
    from traincraft.models.pretrained import weights_sha256

    meta = json.loads((runs["lora"].bundle_dir / "bundle.json").read_text())
    spec = meta["model"]["spec"]
    assert spec["kind"] == "pretrained" and spec["tune"] == "lora"
    assert spec["pretrained"] == {"name": str(tiny_bert), "path": str(tiny_bert.resolve()), "sha256": weights_sha256(tiny_bert)}
    assert spec["lora"] == {"rank": 8, "alpha": 16.0, "dropout": 0.1, "target_modules": ["query", "value"]}
    assert meta["encoder"]["type"] == "pretrained_table"


def test_adapter_and_head_bundles_hold_no_base_weights(runs) -> None:
    lora = load_file(str(runs["lora"].bundle_dir / "model.safetensors"))
    head = load_file(str(runs["head"].bundle_dir / "model.safetensors"))
    full = load_file(str(runs["full"].bundle_dir / "model.safetensors"))
    assert lora and all(".lora_" in k or k.startswith("head.") for k in lora)
    assert head and all(k.startswith("head.") for k in head)
    assert "encoder.embeddings.word_embeddings.weight" in full
    assert sum(v.numel() for v in lora.values()) < 0.1 * sum(v.numel() for v in full.values())


def test_head_only_caches_the_encoder_outputs_once(runs, tiny_bert, spam_frame, tmp_path, monkeypatch) -> None:
    cache = runs["head"].run_dir.parent / ".cache" / "encoder_outputs"
    files = sorted(cache.glob("*.safetensors"))
    assert len(files) == 2  # train and validation splits
    computed = []
    real = head_cache._compute
    monkeypatch.setattr(head_cache, "_compute", lambda *a, **k: computed.append(1) or real(*a, **k))
    again = tc.train(spam_frame, label="label", recipe=tiny_recipe(tiny_bert, "head", grad_accum=2), name="head-again", runs_dir=runs["head"].run_dir.parent)
    assert computed == []  # both splits came from the cache
    assert sorted(cache.glob("*.safetensors")) == files
    assert again.metrics["test"] == pytest.approx(runs["head"].metrics["test"])
    other = tiny_recipe(tiny_bert, "head")
    other["model"]["pooling"] = "cls"  # another model fingerprint: computed anew
    tc.train(spam_frame, label="label", recipe=other, name="head-cls", runs_dir=runs["head"].run_dir.parent)
    assert len(computed) == 2
    assert len(list(cache.glob("*.safetensors"))) == 4


def test_the_cache_key_follows_data_and_model(tiny_bert, spam_frame) -> None:
    from traincraft.features.pretrained_text import fit_encoder
    from traincraft.models import build_model
    from traincraft.recipe import ModelConfig

    schema = {"columns": [{"name": "text", "role": "feature", "type": "text"}]}
    keys = set()
    for pooling, layers in (("mean", "all"), ("cls", "all"), ("mean", "last")):
        config = ModelConfig(pretrained=str(tiny_bert), tune="head", pooling=pooling, layers=layers)
        encoder = fit_encoder(spam_frame, schema, config)
        net = build_model(encoder.model_spec(), config, 2)
        keys.add(head_cache.cache_key(net, encoder.transform(spam_frame.head(20))))
        keys.add(head_cache.cache_key(net, encoder.transform(spam_frame.head(21))))
        assert head_cache.cache_key(net, encoder.transform(spam_frame.head(20))) in keys  # stable
    assert len(keys) == 6


def test_an_unreadable_cache_file_is_recomputed(tiny_bert, spam_frame, tmp_path, caplog) -> None:
    from traincraft.features.pretrained_text import fit_encoder
    from traincraft.models import build_model
    from traincraft.recipe import ModelConfig

    config = ModelConfig(pretrained=str(tiny_bert), tune="head")
    encoder = fit_encoder(spam_frame, {"columns": [{"name": "text", "role": "feature", "type": "text"}]}, config)
    net = build_model(encoder.model_spec(), config, 2)
    x = encoder.transform(spam_frame.head(10))
    first = head_cache.encoder_outputs(net, x, cache_dir=tmp_path)
    (path,) = tmp_path.glob("*.safetensors")
    path.write_bytes(b"torn")
    with caplog.at_level(logging.WARNING, logger="traincraft.finetune.head_cache"):
        second = head_cache.encoder_outputs(net, x, cache_dir=tmp_path)
    assert "are unreadable" in caplog.text
    torch.testing.assert_close(first["pooled:text"], second["pooled:text"])
    assert set(first) == {"pooled:text"}
    assert first["pooled:text"].shape == (10, 3 * 32)  # tune: head pools the embeddings and both blocks of the tiny BERT


def test_pretrained_settings_without_pretrained_warn(tmp_path, spam_frame, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="traincraft"):
        tc.train(
            spam_frame,
            label="label",
            recipe={"model": {"tune": "head", "layer_decay": 0.8}, "train": {"epochs": 1, "threads": 1}, "evaluate": {"bootstrap": 0}},
            runs_dir=tmp_path,
        )
    assert "model.tune, model.layer_decay are ignored: they apply to a pretrained encoder (model.pretrained)" in caplog.text


def test_minilm_trains_a_few_steps_on_cpu(tmp_path, spam_frame, minilm_dir) -> None:
    recipe = {
        "model": {"pretrained": "minilm", "tune": "lora", "hidden": [], "max_length": 32},
        "train": {"epochs": 1, "batch_size": 32, "lr": 1e-3, "threads": 1},
        "split": {"train": 0.6, "validation": 0.2, "test": 0.2},
        "evaluate": {"bootstrap": 0},
    }
    run = tc.train(spam_frame.head(80), label="label", recipe=recipe, name="minilm", runs_dir=tmp_path)
    assert run.fit.epochs_run == 1
    assert tc.load(run.bundle_dir).predict(spam_frame.head(3))["prediction"].isin(["ham", "spam"]).all()
