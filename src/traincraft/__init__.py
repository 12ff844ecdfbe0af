"""traincraft: from raw data to a trained model you can trust, and serve it.

    import traincraft as tc
    run = tc.train("recipe.yaml")            # or tc.train(df, label="spam")
    model = tc.load(run.bundle_dir)
    model.predict(df)                         # labels + probabilities

Names are imported on first use (PEP 562), so ``import traincraft`` and ``traincraft --help`` stay
fast and do not load torch until a command needs it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from traincraft._version import __version__

_EXPORTS = {
    "Run": "traincraft.api",
    "audit": "traincraft.api",
    "prepare": "traincraft.api",
    "bundle_info": "traincraft.api",
    "evaluate": "traincraft.api",
    "init_recipe": "traincraft.api",
    "predict_file": "traincraft.api",
    "quickstart": "traincraft.api",
    "search": "traincraft.api",
    "train": "traincraft.api",
    "BundleError": "traincraft.errors",
    "CheckpointError": "traincraft.errors",
    "DataError": "traincraft.errors",
    "MissingDependencyError": "traincraft.errors",
    "RecipeError": "traincraft.errors",
    "SchemaError": "traincraft.errors",
    "TraincraftError": "traincraft.errors",
    "TrainingInterrupted": "traincraft.errors",
    "Recipe": "traincraft.recipe",
    "load_recipe": "traincraft.recipe",
    "Predictor": "traincraft.serving",
    "load": "traincraft.serving",
    "Callback": "traincraft.training",
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'traincraft' has no attribute '{name}'")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # for type checkers and IDEs
    from traincraft.api import Run, audit, bundle_info, evaluate, init_recipe, predict_file, prepare, quickstart, train
    from traincraft.errors import (
        BundleError,
        CheckpointError,
        DataError,
        MissingDependencyError,
        RecipeError,
        SchemaError,
        TraincraftError,
        TrainingInterrupted,
    )
    from traincraft.recipe import Recipe, load_recipe
    from traincraft.serving import Predictor, load
    from traincraft.training import Callback
