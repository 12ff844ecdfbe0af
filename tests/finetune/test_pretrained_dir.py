"""A missing, incomplete or corrupt pretrained directory is an error naming the path and what belongs there."""

from __future__ import annotations

import builtins
import json

import pandas as pd
import pytest
from finetune_helpers import tiny_recipe

import traincraft as tc
from traincraft.errors import MissingDependencyError, RecipeError
from traincraft.models.pretrained import check_pretrained_dir, load_hf_encoder, resolve_pretrained, weights_sha256

EXPECTED = r"Expected a Hugging Face model directory: config\.json, the weights as model\.safetensors"


def test_a_missing_directory_names_the_path_and_what_was_expected(tmp_path) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(RecipeError, match=rf"directory {missing} does not exist\. {EXPECTED}"):
        resolve_pretrained(str(missing))


def test_a_bare_unknown_name_suggests_the_known_one() -> None:
    with pytest.raises(RecipeError, match=r"'minlm': there is no directory .* not a known name \(known: minilm\).*Did you mean 'minilm'"):
        resolve_pretrained("minlm")


def test_a_file_is_not_a_model_directory(tiny_bert_copy) -> None:
    with pytest.raises(RecipeError, match=rf"{tiny_bert_copy / 'config.json'} is a file, not a directory"):
        check_pretrained_dir(tiny_bert_copy / "config.json")


def test_no_config(tiny_bert_copy) -> None:
    (tiny_bert_copy / "config.json").unlink()
    with pytest.raises(RecipeError, match=rf"{tiny_bert_copy} has no config\.json\. {EXPECTED}"):
        resolve_pretrained(tiny_bert_copy)


def test_a_config_that_is_not_json(tiny_bert_copy) -> None:
    (tiny_bert_copy / "config.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(RecipeError, match=rf"{tiny_bert_copy / 'config.json'} is not valid JSON .* directory {tiny_bert_copy} is corrupt"):
        check_pretrained_dir(tiny_bert_copy)


def test_a_config_without_model_type(tiny_bert_copy) -> None:
    (tiny_bert_copy / "config.json").write_text(json.dumps({"hidden_size": 32}), encoding="utf-8")
    with pytest.raises(RecipeError, match=r"has no 'model_type'; it is not a Hugging Face model config"):
        check_pretrained_dir(tiny_bert_copy)


def test_pickled_weights_are_named_and_refused(tiny_bert_copy) -> None:
    (tiny_bert_copy / "model.safetensors").rename(tiny_bert_copy / "pytorch_model.bin")
    with pytest.raises(RecipeError, match=r"has no \*\.safetensors weights\. It holds pytorch_model\.bin: pickled weights"):
        check_pretrained_dir(tiny_bert_copy)


def test_no_tokenizer(tiny_bert_copy) -> None:
    (tiny_bert_copy / "vocab.txt").unlink()
    with pytest.raises(RecipeError, match=rf"{tiny_bert_copy} has no tokenizer files \(one of tokenizer\.json, vocab\.txt"):
        check_pretrained_dir(tiny_bert_copy)


def test_corrupt_weights_name_the_directory(tiny_bert_copy) -> None:
    (tiny_bert_copy / "model.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(RecipeError, match=rf"Could not load the pretrained model in {tiny_bert_copy} .*{EXPECTED}.*corrupt"):
        load_hf_encoder(tiny_bert_copy)


def test_training_with_a_missing_directory_fails_before_anything_trains(tmp_path, spam_frame) -> None:
    recipe = tiny_recipe(tmp_path / "gone", "lora")
    with pytest.raises(RecipeError, match=rf"{tmp_path / 'gone'} does not exist\. {EXPECTED}"):
        tc.train(spam_frame, label="label", recipe=recipe, runs_dir=tmp_path / "runs")


def test_minilm_resolves_to_the_packaged_model(minilm_dir) -> None:
    ref = resolve_pretrained("minilm")
    assert ref.path == minilm_dir.resolve()
    assert ref.name == "minilm"
    assert weights_sha256(ref.path).startswith("sha256:") and len(weights_sha256(ref.path)) == 71


def test_weights_hash_is_the_file_sha256(tiny_bert) -> None:
    import hashlib

    assert weights_sha256(tiny_bert) == "sha256:" + hashlib.sha256((tiny_bert / "model.safetensors").read_bytes()).hexdigest()


def test_missing_transformers_names_the_extra(monkeypatch, tiny_bert) -> None:
    real_import = builtins.__import__

    def no_transformers(name, *args, **kwargs):
        if name == "transformers" or name.startswith("transformers."):
            raise ImportError("No module named 'transformers'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_transformers)
    with pytest.raises(MissingDependencyError, match=r"needs the package 'transformers'.*pip install 'traincraft\[finetune\]'"):
        load_hf_encoder(tiny_bert)


def test_a_pretrained_model_needs_a_text_or_image_column(tmp_path, tiny_bert) -> None:
    frame = pd.DataFrame({"x": [float(i) for i in range(40)], "label": ["a", "b"] * 20})
    with pytest.raises(
        tc.SchemaError,
        match=r"model.pretrained is set to '.*', a pretrained encoder for text or image columns, but no feature column is "
        r"text or an image \(features: x \(numeric\)\)",
    ):
        tc.train(frame, label="label", recipe=tiny_recipe(tiny_bert, "head"), runs_dir=tmp_path / "runs")
