from pathlib import Path

import pytest
import yaml

from traincraft.errors import RecipeError
from traincraft.recipe import Recipe, dump_recipe, load_recipe, recipe_from_dict, render_recipe


def test_two_line_recipe_is_whole() -> None:
    r = recipe_from_dict({"data": {"source": "x.csv", "label": "y"}})
    assert r.train.epochs > 0 and r.split.method == "stratified" and r.model.hidden


def test_resolved_recipe_round_trips() -> None:
    r = recipe_from_dict({"data": {"source": "x.csv", "label": "y"}, "train": {"lr": "auto"}})
    again = recipe_from_dict(yaml.safe_load(dump_recipe(r)))
    assert again == r


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"trian": {}}, r"trian: unknown key 'trian'\. Did you mean 'train'\?"),
        ({"data": {"lable": "y"}}, r"data\.lable: unknown key .*Did you mean 'label'\?.*Allowed here: source, label"),
        ({"train": {"optimizer": "adam"}}, r"train\.optimizer: must be one of 'adamw' or 'sgd'\. Did you mean 'adamw'\? \(got 'adam'\)"),
        ({"train": {"lr": "fast"}}, r"train\.lr: must be a number or one of 'auto'.*\(got 'fast'\)"),
        ({"train": {"epochs": "many"}}, r"train\.epochs: must be an integer \(got 'many'\)"),
        ({"train": {"lr": -1}}, r"train\.lr: lr must be greater than 0"),
        ({"split": {"train": 0.5}}, r"split fractions must add up to 1"),
        ({"data": {"columns": {"a": {"tpye": "text"}}}}, r"data\.columns\.a\.tpye: unknown key 'tpye'\. Did you mean 'type'\? Allowed here: type, role"),
    ],
)
def test_bad_recipes_name_path_value_and_fix(raw, message) -> None:
    with pytest.raises(RecipeError, match=message):
        recipe_from_dict(raw)


def test_recipe_must_be_a_mapping() -> None:
    with pytest.raises(RecipeError, match="must be a mapping of sections"):
        recipe_from_dict(["data"])


def test_load_recipe_errors(tmp_path: Path) -> None:
    with pytest.raises(RecipeError, match="does not exist. Create one with: traincraft init"):
        load_recipe(tmp_path / "nope.yaml")
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    with pytest.raises(RecipeError, match="is empty"):
        load_recipe(empty)
    broken = tmp_path / "broken.yaml"
    broken.write_text("data:\n  source: [x.csv\n")
    with pytest.raises(RecipeError, match=r"not valid YAML at line \d+"):
        load_recipe(broken)


def test_relative_source_is_relative_to_the_recipe(tmp_path: Path) -> None:
    sub = tmp_path / "recipes"
    sub.mkdir()
    (sub / "r.yaml").write_text("data:\n  source: ../data.csv\n  label: y\n")
    r = load_recipe(sub / "r.yaml")
    assert Path(r.data.source) == (tmp_path / "data.csv").resolve()


def test_rendered_recipe_is_commented_and_reads_back() -> None:
    r = recipe_from_dict({"data": {"source": "x.csv", "label": "y", "columns": {"a": {"type": "numeric", "role": "feature"}}}})
    text = render_recipe(r, header="hello", column_notes={"a": "inferred"})
    assert text.startswith("# hello")
    assert "epochs: 40  # Most passes over the training split." in text
    assert "a: {role: feature, type: numeric}  # inferred" in text
    assert Recipe.model_validate(yaml.safe_load(text)) == r
