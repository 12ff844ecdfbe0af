"""``export --merge``: the LoRA bundle is a small fraction of the merged one and both predict the same."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from finetune_helpers import tiny_recipe

import traincraft as tc
from traincraft.api.finetune import merge
from traincraft.errors import BundleError
from traincraft.finetune import merge_bundle
from traincraft.serving import read_bundle

MINILM_LORA = {
    "model": {"pretrained": "minilm", "tune": "lora", "hidden": [], "max_length": 48},
    "train": {"epochs": 2, "batch_size": 16, "lr": 5e-3, "threads": 1},
    "split": {"train": 0.6, "validation": 0.2, "test": 0.2},
    "evaluate": {"bootstrap": 0},
}


@pytest.fixture(scope="module")
def minilm_lora(tmp_path_factory, spam_frame, minilm_dir):
    runs = tmp_path_factory.mktemp("merge")
    return tc.train(spam_frame.head(96), label="label", recipe=MINILM_LORA, name="lora", runs_dir=runs)


@pytest.mark.slow
def test_minilm_lora_bundle_is_under_5_percent_of_the_merged_one_and_agrees(minilm_lora, spam_frame, tmp_path) -> None:
    bundle = minilm_lora.bundle_dir
    result = merge(bundle, tmp_path / "merged")
    lora_bytes = (bundle / "model.safetensors").stat().st_size
    merged_bytes = (tmp_path / "merged" / "model.safetensors").stat().st_size
    assert result["bundle_bytes"] == lora_bytes and result["merged_bytes"] == merged_bytes
    assert lora_bytes < 0.05 * merged_bytes, (lora_bytes, merged_bytes)
    assert merged_bytes > 80e6  # every MiniLM weight (22.7M float32)

    sample = spam_frame.tail(60)
    lora_p = tc.load(bundle).predict_proba(sample)
    merged_p = tc.load(tmp_path / "merged").predict_proba(sample)
    assert abs(lora_p - merged_p).max() < 1e-5

    adapted = read_bundle(bundle).model  # the adapters matter, so agreeing is not agreeing on the base model
    x = tc.load(bundle).encoder.transform(sample)
    with torch.no_grad():
        with_adapter = torch.softmax(adapted(x), dim=1)
        with adapted.encoder.disable_adapter():
            without = torch.softmax(adapted(x), dim=1)
    assert (with_adapter - without).abs().max() > 1e-3

    meta = json.loads((tmp_path / "merged" / "bundle.json").read_text())
    assert meta["model"]["spec"]["tune"] == "full" and meta["model"]["spec"]["lora"] is None
    assert meta["merged_from"]["tune"] == "lora"
    assert meta["model"]["spec"]["pretrained"]["sha256"] == json.loads((bundle / "bundle.json").read_text())["model"]["spec"]["pretrained"]["sha256"]


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory, tiny_bert, spam_frame):
    runs = tmp_path_factory.mktemp("tiny-merge")
    return {tune: tc.train(spam_frame, label="label", recipe=tiny_recipe(tiny_bert, tune, epochs=1), name=tune, runs_dir=runs) for tune in ("lora", "head", "full")}


def test_a_head_only_bundle_merges_into_full_weights(tiny_runs, spam_frame, tmp_path) -> None:
    out = merge_bundle(tiny_runs["head"].bundle_dir, tmp_path / "merged")
    a = tc.load(tiny_runs["head"].bundle_dir).predict_proba(spam_frame.head(20))
    b = tc.load(out).predict_proba(spam_frame.head(20))
    assert abs(a - b).max() < 1e-5


def test_merging_refuses_what_has_nothing_to_merge(tiny_runs, digits_run, tmp_path) -> None:
    with pytest.raises(BundleError, match=r"was trained with tune: full and holds every weight already; there is nothing to merge"):
        merge_bundle(tiny_runs["full"].bundle_dir, tmp_path / "a")
    with pytest.raises(BundleError, match=r"holds a TabularNet, not a fine-tuned pretrained encoder; --merge applies to bundles trained with model.tune: lora"):
        merge_bundle(digits_run.bundle_dir, tmp_path / "b")


def test_merging_never_overwrites(tiny_runs, tmp_path) -> None:
    src = tiny_runs["lora"].bundle_dir
    with pytest.raises(BundleError, match=r"cannot replace its source"):
        merge_bundle(src, src)
    (tmp_path / "taken").mkdir()
    with pytest.raises(BundleError, match=rf"{tmp_path / 'taken'} already exists; choose another output folder"):
        merge_bundle(src, tmp_path / "taken")
    assert merge_bundle(src, tmp_path / "taken", overwrite=True).is_dir()


def test_a_lora_bundle_refuses_a_different_base_model(tiny_runs, tiny_bert, tmp_path) -> None:
    from finetune_helpers import write_tiny_bert

    from traincraft.models.pretrained import weights_sha256

    moved = tmp_path / "bundle"
    shutil.copytree(tiny_runs["lora"].bundle_dir, moved)
    other = write_tiny_bert(tmp_path / "other-base", seed=7)
    meta = json.loads((moved / "bundle.json").read_text())
    recorded = meta["model"]["spec"]["pretrained"]["sha256"]
    meta["model"]["spec"]["pretrained"]["path"] = str(other)  # the base model "moved" to a directory with other weights
    meta["model"]["spec"]["pretrained"]["name"] = str(other)
    (moved / "bundle.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match=rf"has weights {weights_sha256(other)}, but this model was trained on weights {recorded}"):
        tc.load(moved)


def test_a_bundle_whose_base_model_is_gone_says_which_it_needs(tiny_runs, tmp_path) -> None:
    moved = tmp_path / "bundle"
    shutil.copytree(tiny_runs["lora"].bundle_dir, moved)
    meta = json.loads((moved / "bundle.json").read_text())
    recorded = meta["model"]["spec"]["pretrained"]["sha256"]
    gone = tmp_path / "deleted-base"
    meta["model"]["spec"]["pretrained"].update(path=str(gone), name=str(gone))
    (moved / "bundle.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match=rf"trained on the base model '{gone}' \(weights {recorded}\), which it needs and cannot find: The pretrained model directory {gone} does not exist"):
        tc.load(moved)
