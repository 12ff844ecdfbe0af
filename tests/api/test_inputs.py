from __future__ import annotations

from traincraft.api._inputs import resolve_recipe
from traincraft.recipe import Recipe


def test_a_data_file_keeps_its_path_when_recipe_overrides_are_merged(tmp_path):
    cfg, frame = resolve_recipe(tmp_path / "cancer.csv", label="target", recipe={"train": {"epochs": 3}})
    assert frame is None
    assert cfg.data.source == str(tmp_path / "cancer.csv")
    assert (cfg.data.label, cfg.train.epochs) == ("target", 3)


def test_a_recipe_object_keeps_fields_assigned_after_construction():
    base = Recipe()
    base.data.source = "sklearn:digits"
    base.data.label = "target"
    base.train.batch_size = 64
    cfg, _ = resolve_recipe(base, recipe={"train": {"epochs": 2}})
    assert (cfg.data.source, cfg.data.label, cfg.train.batch_size, cfg.train.epochs) == ("sklearn:digits", "target", 64, 2)


def test_overrides_win_over_the_recipe_file(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("data: {source: sklearn:digits, label: target}\ntrain: {epochs: 20, batch_size: 32}\n")
    cfg, _ = resolve_recipe(path, recipe={"train": {"epochs": 3}})
    assert (cfg.train.epochs, cfg.train.batch_size, cfg.data.source) == (3, 32, "sklearn:digits")
