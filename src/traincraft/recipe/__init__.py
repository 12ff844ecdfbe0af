"""The recipe layer: schema (pydantic models), loading with readable errors, and the commented template."""

from traincraft.recipe._finetune import LoraConfig
from traincraft.recipe._load import dump_recipe, load_recipe, recipe_from_dict, save_recipe
from traincraft.recipe._render import render_recipe
from traincraft.recipe._schema import (
    ColumnOverride,
    DataConfig,
    EarlyStoppingConfig,
    EvaluateConfig,
    ImageConfig,
    ModelConfig,
    Recipe,
    SplitConfig,
    TextConfig,
    TrainConfig,
)

__all__ = [
    "ColumnOverride",
    "DataConfig",
    "EarlyStoppingConfig",
    "EvaluateConfig",
    "ImageConfig",
    "LoraConfig",
    "ModelConfig",
    "Recipe",
    "SplitConfig",
    "TextConfig",
    "TrainConfig",
    "dump_recipe",
    "load_recipe",
    "recipe_from_dict",
    "render_recipe",
    "save_recipe",
]
