"""``finetune BUNDLE NEW_DATA``: an earlier model (tabular, image, pretrained text) continues on new data,
keeping its encoders; label values it never saw are refused or added to the head."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from finetune_helpers import tiny_recipe
from PIL import Image

import traincraft as tc
from traincraft.api.finetune import finetune
from traincraft.errors import DataError, RecipeError, SchemaError
from traincraft.features.labels import LabelCodec
from traincraft.finetune import extend_labels, grow_head, unseen_labels
from traincraft.serving import read_bundle

QUICK = {"train": {"epochs": 2, "threads": 1}, "evaluate": {"bootstrap": 0}}


def _meta(bundle) -> dict:
    return json.loads((bundle / "bundle.json").read_text())


@pytest.fixture(scope="module")
def digits_0_to_4(tmp_path_factory, digits_frame):
    """A digits model that has only seen the digits 0-4."""
    runs = tmp_path_factory.mktemp("digits-old")
    frame = digits_frame[digits_frame["digit"] < 5].reset_index(drop=True)
    return tc.train(frame, label="digit", recipe={"model": {"hidden": [32]}, "train": {"epochs": 4, "threads": 1}, "evaluate": {"bootstrap": 0}}, name="old", runs_dir=runs)


def test_continuing_keeps_the_encoders_and_starts_from_the_weights(digits_run, digits_frame, tmp_path) -> None:
    new = digits_frame.sample(600, random_state=3)
    still = finetune(
        digits_run.bundle_dir, new, runs_dir=tmp_path, name="frozen-lr",
        recipe={"train": {"epochs": 1, "lr": 1e-12, "threads": 1, "warmup": 0.0}, "evaluate": {"bootstrap": 0}},
    )
    before, after = _meta(digits_run.bundle_dir), _meta(still.bundle_dir)
    assert after["encoder"] == before["encoder"]  # not refitted on the new data
    assert after["finetuned_from"]["bundle"] == str(digits_run.bundle_dir)
    a = tc.load(digits_run.bundle_dir).predict_proba(digits_frame.head(50))
    b = tc.load(still.bundle_dir).predict_proba(digits_frame.head(50))
    assert abs(a - b).max() < 1e-6  # a vanishing rate: the bundle's weights, unchanged

    moved = finetune(digits_run.bundle_dir, new, runs_dir=tmp_path, name="trained", recipe=QUICK)
    assert moved.fit.epochs_run == 2
    assert (tmp_path / "trained" / "bundle" / "bundle.json").is_file()
    assert (tmp_path / "trained" / "recipe.yaml").is_file() and (tmp_path / "trained" / "data" / "manifest.json").is_file()
    c = tc.load(moved.bundle_dir).predict_proba(digits_frame.head(50))
    assert abs(a - c).max() > 1e-3


def test_new_labels_are_refused_by_default(digits_0_to_4, digits_frame, tmp_path) -> None:
    with pytest.raises(DataError, match=r"label column 'digit' of the DataFrame holds 5, 6, 7, 8, 9 in \d+ row\(s\), which the bundle was not trained on \(its classes: 0, 1, 2, 3, 4\)\. Set train.new_labels: add"):
        finetune(digits_0_to_4.bundle_dir, digits_frame, runs_dir=tmp_path, recipe=QUICK)
    assert not (tmp_path / "old-finetune").exists()  # refused before a run directory was made


def test_new_labels_can_be_added_to_the_head(digits_0_to_4, digits_frame, tmp_path) -> None:
    recipe = {"train": {"epochs": 6, "threads": 1, "new_labels": "add"}, "evaluate": {"bootstrap": 0}}
    run = finetune(digits_0_to_4.bundle_dir, digits_frame, runs_dir=tmp_path, recipe=recipe)
    predictor = tc.load(run.bundle_dir)
    assert predictor.classes == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]  # the old ones keep their indices
    assert _meta(run.bundle_dir)["finetuned_from"]["added_labels"] == [5, 6, 7, 8, 9]
    assert run.metrics["test"]["accuracy"] > 0.8  # the new classes are learned, the old ones kept


def test_missing_feature_columns_are_named(digits_run, digits_frame, tmp_path) -> None:
    with pytest.raises(SchemaError, match=r"lacks 1 required column: pixel_5"):
        finetune(digits_run.bundle_dir, digits_frame.drop(columns=["pixel_5"]), runs_dir=tmp_path, recipe=QUICK)
    with pytest.raises(DataError, match=r"has no label column 'digit', the one the bundle .* predicts"):
        finetune(digits_run.bundle_dir, digits_frame.drop(columns=["digit"]), runs_dir=tmp_path, recipe=QUICK)
    with pytest.raises(RecipeError, match=r"The bundle predicts 'digit'; continued training keeps its label"):
        finetune(digits_run.bundle_dir, digits_frame, label="number", runs_dir=tmp_path, recipe=QUICK)


def _image_folder(root, digits, per_class: int, offset: int):
    from sklearn.datasets import load_digits

    d = load_digits()
    for digit in digits:
        folder = root / str(digit)
        folder.mkdir(parents=True, exist_ok=True)
        rows = np.flatnonzero(d.target == digit)[offset : offset + per_class]
        for i in rows:
            pixels = (d.images[i] * 255 / 16).astype(np.uint8)
            Image.fromarray(pixels, mode="L").resize((16, 16)).save(folder / f"{i}.png")
    return root


def test_an_image_model_continues_on_new_images_with_a_new_class(tmp_path) -> None:
    old = _image_folder(tmp_path / "old", [0, 1, 2], per_class=40, offset=0)
    new = _image_folder(tmp_path / "new", [0, 1, 2, 3], per_class=40, offset=40)
    recipe = {"model": {"hidden": [16], "image": {"size": 16, "conv_channels": [8]}}, "train": {"epochs": 3, "threads": 1}, "evaluate": {"bootstrap": 0}}
    first = tc.train({**recipe, "data": {"source": str(old), "label": "label"}}, name="img", runs_dir=tmp_path / "runs")
    with pytest.raises(DataError, match=r"holds '3' in 40 row\(s\)"):
        finetune(first.bundle_dir, new, runs_dir=tmp_path / "runs", recipe=QUICK)
    run = finetune(first.bundle_dir, new, runs_dir=tmp_path / "runs", recipe={**QUICK, "train": {"epochs": 3, "threads": 1, "new_labels": "add"}})
    assert tc.load(run.bundle_dir).classes == ["0", "1", "2", "3"]
    assert _meta(run.bundle_dir)["encoder"] == _meta(first.bundle_dir)["encoder"]  # image size and normalisation kept
    cnn_before = read_bundle(first.bundle_dir).model.image[0].blocks[0].weight
    cnn_after = read_bundle(run.bundle_dir).model.image[0].blocks[0].weight
    assert cnn_before.shape == cnn_after.shape and not torch.equal(cnn_before, cnn_after)
    preds = tc.load(run.bundle_dir).predict(pd.DataFrame({"image": sorted(str(p) for p in (new / "3").glob("*.png"))[:5]}))
    assert set(preds.columns) == {"prediction", "proba_0", "proba_1", "proba_2", "proba_3"}


def test_a_pretrained_head_bundle_continues_from_the_cache(tmp_path, tiny_bert, spam_frame) -> None:
    first = tc.train(spam_frame.head(100), label="label", recipe=tiny_recipe(tiny_bert, "head"), name="head", runs_dir=tmp_path)
    run = finetune(first.bundle_dir, spam_frame.tail(60), runs_dir=tmp_path, recipe={"train": {"epochs": 1}})
    meta = _meta(run.bundle_dir)
    assert meta["model"]["spec"]["tune"] == "head" and meta["encoder"]["type"] == "pretrained_table"
    assert len(list((tmp_path / ".cache" / "encoder_outputs").glob("*.safetensors"))) == 4  # two runs x (train, validation)
    assert tc.load(run.bundle_dir).predict(spam_frame.head(3))["prediction"].isin(["ham", "spam"]).all()


def test_unseen_labels_and_a_grown_head() -> None:
    codec = LabelCodec.fit(pd.Series(["ham", "spam", "ham"]), "binary")
    assert unseen_labels(codec, pd.Series(["spam", "promo", None, "alert", "promo"])) == ["alert", "promo"]
    grown, added = extend_labels(codec, pd.Series(["promo", "ham"]), "add")
    assert added == ["promo"] and grown.classes == ["ham", "spam", "promo"] and grown.task == "multiclass"
    assert grown.encode(pd.Series(["ham", "spam", "promo"])).tolist() == [0, 1, 2]
    with pytest.raises(RecipeError, match=r"train.new_labels is 'merge'; allowed: refuse, add"):
        extend_labels(codec, pd.Series(["promo"]), "merge")

    net = torch.nn.Module()
    net.head = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    old_weight = net.head[-1].weight.detach().clone()
    grow_head(net, 2)
    assert net.head[-1].out_features == 4
    assert torch.equal(net.head[-1].weight[:2], old_weight)
    torch.testing.assert_close(net.head[-1].weight[2], old_weight.mean(dim=0))
    with pytest.raises(tc.BundleError, match=r"New classes need a head that ends in a linear layer"):
        grow_head(torch.nn.Linear(2, 2), 1)


def test_an_interrupted_fine_tuning_run_resumes_exactly(digits_run, digits_frame, tmp_path) -> None:
    from safetensors.torch import load_file

    from traincraft.errors import TrainingInterrupted
    from traincraft.training import Callback

    class InterruptAt(Callback):
        def on_batch_end(self, trainer, step, loss):
            if step == 12:
                raise KeyboardInterrupt

    new = digits_frame.sample(600, random_state=4)
    straight = finetune(digits_run.bundle_dir, new, runs_dir=tmp_path, name="straight", recipe=QUICK)
    with pytest.raises(TrainingInterrupted):
        finetune(digits_run.bundle_dir, new, runs_dir=tmp_path, name="cut", recipe=QUICK, callbacks=[InterruptAt()])
    resumed = finetune(digits_run.bundle_dir, new, runs_dir=tmp_path, recipe=QUICK, resume=tmp_path / "cut")
    assert resumed.fit.resumed_from_epoch == 1
    a = load_file(str(straight.bundle_dir / "model.safetensors"))
    b = load_file(str(resumed.bundle_dir / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
