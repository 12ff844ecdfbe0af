"""The fine-tuning fields of the recipe: strict, documented, with defaults that make a two-line recipe whole."""

from __future__ import annotations

import pytest
import yaml

from traincraft.errors import RecipeError
from traincraft.recipe import LoraConfig, Recipe, recipe_from_dict, render_recipe


def test_defaults() -> None:
    r = recipe_from_dict({"data": {"source": "x.csv", "label": "y"}, "model": {"pretrained": "minilm"}})
    assert (r.model.tune, r.model.pooling, r.model.layers, r.model.max_length, r.model.layer_decay) == ("lora", "mean", "auto", 128, None)
    assert r.model.lora == LoraConfig(rank=8, alpha=16.0, dropout=0.1, target_modules=["query", "value"])
    assert (r.train.grad_accum, r.train.grad_checkpointing, r.train.new_labels) == (1, False, "refuse")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"model": {"tune": "adapter"}}, r"model\.tune: must be one of 'full', 'head' or 'lora'"),
        ({"model": {"pooling": "max"}}, r"model\.pooling: must be one of 'mean' or 'cls'"),
        ({"model": {"layers": "top"}}, r"model\.layers: must be one of 'auto', 'last' or 'all'"),
        ({"model": {"lora": {"rnak": 4}}}, r"model\.lora\.rnak: unknown key 'rnak'\. Did you mean 'rank'\?"),
        ({"model": {"lora": {"rank": 0}}}, r"model\.lora\.rank: .*greater than or equal to 1"),
        ({"model": {"lora": {"target_modules": []}}}, r"model\.lora\.target_modules: .*target_modules must name at least one layer"),
        ({"model": {"layer_decay": 1.5}}, r"model\.layer_decay: .*less than or equal to 1"),
        ({"model": {"max_length": 4}}, r"model\.max_length: .*greater than or equal to 8"),
        ({"train": {"grad_accum": 0}}, r"train\.grad_accum: .*greater than or equal to 1"),
        ({"train": {"new_labels": "keep"}}, r"train\.new_labels: must be one of 'refuse' or 'add'"),
    ],
)
def test_bad_fine_tuning_settings_name_the_path(raw, message) -> None:
    with pytest.raises(RecipeError, match=message):
        recipe_from_dict(raw)


def test_the_commented_template_explains_the_new_fields() -> None:
    text = render_recipe(Recipe())
    for phrase in ("pretrained:", "tune: lora", "lora:", "rank: 8", "grad_accum: 1", "new_labels: refuse", "Layer-wise learning-rate decay", "layers: auto"):
        assert phrase in text, phrase
    assert Recipe.model_validate(yaml.safe_load(text)) == Recipe()


def test_the_example_recipe_is_valid() -> None:
    from pathlib import Path

    from traincraft.recipe import load_recipe

    recipe = load_recipe(Path(__file__).resolve().parents[2] / "examples" / "spam" / "finetune.yaml")
    assert (recipe.model.pretrained, recipe.model.tune, recipe.model.hidden) == ("minilm", "lora", [])
