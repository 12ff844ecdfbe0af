"""``model.pretrained`` with image columns: a tiny ViT (and a tiny ResNet) saved locally, fine-tuned on
real digit scans in class folders with each tuning mode, to a bundle that predicts on new images."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import torch
from finetune_helpers import image_recipe, write_digit_images, write_tiny_resnet, write_tiny_vit
from safetensors.torch import load_file
from sklearn.metrics import accuracy_score, log_loss

import traincraft as tc
from traincraft.data import Splits, read_table
from traincraft.errors import BundleError, RecipeError, SchemaError
from traincraft.models.pretrained import resolve_pretrained, weights_sha256


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_vit, digit_images):
    root = tmp_path_factory.mktemp("image-runs")
    return {tune: tc.train(image_recipe(digit_images, tiny_vit, tune), name=tune, runs_dir=root) for tune in ("head", "lora", "full")}


def _test_rows(run) -> pd.DataFrame:
    table = read_table(run.recipe.data.source)
    return table.loc[Splits.load(run.run_dir / "data" / "splits.json").test]


def _reproduces(run, bundle=None) -> pd.DataFrame:
    """The bundle's predictions on the run's test split, checked against the scores the trainer gave it."""
    rows = _test_rows(run)
    model = tc.load(bundle or run.bundle_dir)
    out = model.predict(rows.drop(columns=["label"]))
    proba = out[[f"proba_{c}" for c in model.classes]].to_numpy()
    proba = proba / proba.sum(axis=1, keepdims=True)  # float32 softmax: rows sum to 1 within 1e-7
    truth = rows["label"].astype(str).to_numpy()
    assert accuracy_score(truth, out["prediction"].astype(str)) == pytest.approx(run.metrics["test"]["accuracy"], abs=1e-12)
    assert log_loss(truth, proba, labels=[str(c) for c in model.classes]) == pytest.approx(run.metrics["test"]["log_loss"], abs=1e-5)
    return out


@pytest.mark.parametrize("tune", ["head", "lora", "full"])
def test_each_mode_trains_and_its_bundle_predicts_as_the_trainer_did(runs, tune, tmp_path) -> None:
    run = runs[tune]
    assert run.fit.epochs_run == 2 and len(run.metrics["test"]) > 0
    _reproduces(run)
    new = write_digit_images(tmp_path / "new", per_class=2, offset=100, digits=[3, 7])  # scans the run never saw
    paths = sorted(str(p) for p in new.rglob("*.png"))
    out = tc.load(run.bundle_dir).predict([{"image": p} for p in paths])
    assert len(out) == 4 and set(out["prediction"]) <= {str(d) for d in range(10)}
    np.testing.assert_allclose(out.filter(like="proba_").sum(axis=1), 1.0, atol=1e-6)


def test_the_bundle_names_its_base_model_and_the_image_shape(runs, tiny_vit) -> None:
    meta = json.loads((runs["lora"].bundle_dir / "bundle.json").read_text())
    spec = meta["model"]["spec"]
    assert spec["kind"] == "pretrained_image" and spec["tune"] == "lora"
    assert spec["pretrained"] == {"name": str(tiny_vit), "path": str(tiny_vit.resolve()), "sha256": weights_sha256(tiny_vit)}
    assert spec["image"] == [{"name": "image", "channels": 3, "height": 32, "width": 32}]
    # the recipe left target_modules at its default: the ViT's own query and value projections
    assert spec["lora"]["target_modules"] in (["q_proj", "v_proj"], ["query", "value"])
    assert meta["encoder"]["type"] == "pretrained_table" and meta["encoder"]["text"] == []


def test_a_lora_bundle_holds_the_adapter_and_head_only(runs) -> None:
    lora = load_file(str(runs["lora"].bundle_dir / "model.safetensors"))
    head = load_file(str(runs["head"].bundle_dir / "model.safetensors"))
    full = load_file(str(runs["full"].bundle_dir / "model.safetensors"))
    assert lora and all(".lora_" in k or k.startswith("head.") for k in lora)
    assert head and all(k.startswith("head.") for k in head)
    assert any(k.startswith("encoder.embeddings.") for k in full)
    encoder = lambda state: sum(v.numel() for k, v in state.items() if k.startswith("encoder."))  # noqa: E731
    assert encoder(lora) < 0.15 * encoder(full)  # rank-8 updates of two 32 x 32 projections per layer against the whole ViT
    sizes = {t: (runs[t].bundle_dir / "model.safetensors").stat().st_size for t in ("lora", "full")}
    assert sizes["lora"] < 0.25 * sizes["full"], sizes


def test_head_only_tuning_caches_the_encoder_outputs(runs) -> None:
    cache = runs["head"].run_dir.parent / ".cache" / "encoder_outputs"
    assert len(sorted(cache.glob("*.safetensors"))) == 2  # the training and validation splits


def test_a_merged_lora_bundle_predicts_the_same(runs, tmp_path) -> None:
    from traincraft.finetune.merge import merge_bundle

    merged = merge_bundle(runs["lora"].bundle_dir, tmp_path / "merged")
    spec = json.loads((merged / "bundle.json").read_text())["model"]["spec"]
    assert spec["tune"] == "full" and spec["lora"] is None
    before, after = _reproduces(runs["lora"]), _reproduces(runs["lora"], merged)
    np.testing.assert_allclose(after.filter(like="proba_").to_numpy(), before.filter(like="proba_").to_numpy(), atol=1e-5)


@pytest.mark.parametrize("tune", ["head", pytest.param("lora", marks=pytest.mark.slow)])  # torch's exporter: ~3 s, ~11 s
def test_onnx_export_of_an_image_bundle_matches_torch(runs, tune, tmp_path) -> None:
    pytest.importorskip("onnxruntime")
    from traincraft.serving.onnx_export import export_onnx

    out = export_onnx(runs[tune].bundle_dir, tmp_path / "onnx")
    described = json.loads((out / "onnx.json").read_text())
    assert described["inputs"] == ["pixel_values:image"]
    assert described["parity_max_abs_logit_difference"] <= 1e-5
    rows = _test_rows(runs[tune]).drop(columns=["label"])
    expected, got = tc.load(runs[tune].bundle_dir).predict(rows), tc.load(out, runtime="onnx").predict(rows)
    assert got["prediction"].tolist() == expected["prediction"].tolist()
    np.testing.assert_allclose(got.filter(like="proba_").to_numpy(), expected.filter(like="proba_").to_numpy(), atol=1e-5)


def test_a_changed_base_model_is_refused(tiny_vit, digit_images, tmp_path) -> None:
    base = shutil.copytree(tiny_vit, tmp_path / "vit")
    run = tc.train(image_recipe(digit_images, base, "lora", hidden=[]), name="lora", runs_dir=tmp_path / "runs")
    write_tiny_vit(base, seed=1)  # the same architecture, other weights
    with pytest.raises(BundleError, match=r"has weights sha256:[0-9a-f]+, but this model was trained on weights sha256:[0-9a-f]+"):
        tc.load(run.bundle_dir)
    shutil.rmtree(base)
    with pytest.raises(BundleError, match=r"trained on the base model .* which it needs and cannot find: .*does not exist"):
        tc.load(run.bundle_dir)


def test_a_convolutional_base_model_trains_with_lora_on_its_convolutions(digit_images, tmp_path) -> None:
    """ResNet: no linear layer (LoRA adapts the convolutions) and batch norm, whose frozen statistics must stay the base's."""
    resnet = write_tiny_resnet(tmp_path / "resnet")
    run = tc.train(image_recipe(digit_images, resnet, "lora"), name="resnet", runs_dir=tmp_path / "runs")
    spec = json.loads((run.bundle_dir / "bundle.json").read_text())["model"]["spec"]
    assert spec["lora"]["target_modules"] == ["convolution"]
    assert spec["image"] == [{"name": "image", "channels": 3, "height": 32, "width": 32}]
    _reproduces(run)
    with pytest.raises(RecipeError, match=r"pooling: cls takes a vision transformer's first token, but this base model \(ResNetModel\) gives feature maps"):
        tc.train(image_recipe(digit_images, resnet, "head", pooling="cls"), name="cls", runs_dir=tmp_path / "runs")


def test_lora_targets_the_model_lacks_are_named(tiny_vit, digit_images, tmp_path) -> None:
    recipe = image_recipe(digit_images, tiny_vit, "lora", lora={"target_modules": ["not_a_layer"]})
    with pytest.raises(
        RecipeError, match=r"target_modules names not_a_layer, which the base model \(ViTModel\) has no linear or convolution layer called\. Its adaptable layers: .*; for this model the default would be"
    ):
        tc.train(recipe, runs_dir=tmp_path / "runs")


def _damage(model, how: str) -> str:
    if how == "no config.json":
        (model / "config.json").unlink()
        return r"has no config\.json\. Expected a Hugging Face vision model directory"
    if how == "no preprocessor_config.json":
        (model / "preprocessor_config.json").unlink()
        return r"has no preprocessor_config\.json, which says how images are resized and normalised"
    if how == "no weights":
        (model / "model.safetensors").rename(model / "pytorch_model.bin")
        return r"has no \*\.safetensors weights\. It holds pytorch_model\.bin: pickled weights"
    if how == "corrupt preprocessor_config.json":
        (model / "preprocessor_config.json").write_text("{not json")
        return r"preprocessor_config\.json is not valid JSON .* is corrupt"
    (model / "model.safetensors").write_bytes(b"not safetensors")  # corrupt weights
    return r"Could not load the pretrained model in .* the files may be corrupt"


@pytest.mark.parametrize("how", ["no config.json", "no preprocessor_config.json", "no weights", "corrupt preprocessor_config.json", "corrupt weights"])
def test_a_bad_model_directory_is_named_with_what_is_expected(tiny_vit, digit_images, tmp_path, how) -> None:
    model = shutil.copytree(tiny_vit, tmp_path / "vit")
    expected = _damage(model, how)
    with pytest.raises(RecipeError, match=expected) as caught:
        tc.train(image_recipe(digit_images, model, "head"), runs_dir=tmp_path / "runs")
    assert str(model) in str(caught.value)


def test_a_text_model_directory_for_images_says_what_it_lacks(tmp_path) -> None:
    from finetune_helpers import write_tiny_bert

    bert = write_tiny_bert(tmp_path / "bert")
    with pytest.raises(RecipeError, match=r"has no preprocessor_config\.json"):
        resolve_pretrained(bert, modality="image")


def test_text_and_image_columns_together_are_refused(tiny_vit, digit_images, tmp_path) -> None:
    table = read_table(str(digit_images)).assign(note=lambda d: ["a scan of " + str(v) for v in d["label"]])
    recipe = image_recipe(digit_images, tiny_vit, "head")
    recipe["data"] = {"columns": {"note": {"type": "text"}}}
    with pytest.raises(SchemaError, match=r"is one base model, for text or for images, but the features include text columns \(note\) and image columns \(image\)"):
        tc.train(table, label="label", recipe=recipe, runs_dir=tmp_path / "runs")


def test_the_encoder_gives_pixel_values_that_slice_by_row(runs, digit_images) -> None:
    model = tc.load(runs["head"].bundle_dir)
    rows = read_table(str(digit_images)).head(5)
    x = model.encoder.transform(rows)
    assert set(x) == {"pixel_values:image"} and x["pixel_values:image"].shape == (5, 3, 32, 32)
    assert x["pixel_values:image"].dtype == torch.float32
    with_missing = model.encoder.transform(rows.assign(image=[None, *rows["image"][1:]]))
    assert torch.equal(with_missing["pixel_values:image"][0], torch.zeros(3, 32, 32))  # a missing image is the mean image
    with pytest.raises(SchemaError, match=r"Column 'image' should hold paths of readable image files, but row .* holds 'nowhere\.png'"):
        model.predict(pd.DataFrame({"image": ["nowhere.png"]}))
