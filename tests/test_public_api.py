"""The public surface is small and deliberate: pin ``traincraft.__all__``."""

import traincraft


def test_all_is_pinned() -> None:
    assert sorted(traincraft.__all__) == sorted([
        "BundleError", "Callback", "CheckpointError", "DataError", "MissingDependencyError", "Predictor",
        "Recipe", "RecipeError", "Run", "SchemaError", "TraincraftError", "TrainingInterrupted",
        "__version__", "audit", "bundle_info", "evaluate", "init_recipe", "load", "load_recipe", "predict_file",
        "prepare", "quickstart", "search", "train",
    ])


def test_every_public_name_exists() -> None:
    for name in traincraft.__all__:
        assert hasattr(traincraft, name), name


def test_errors_inherit_builtin_bases() -> None:
    assert issubclass(traincraft.RecipeError, ValueError)
    assert issubclass(traincraft.SchemaError, traincraft.DataError)
    assert issubclass(traincraft.MissingDependencyError, ImportError)
    assert traincraft.TrainingInterrupted.exit_code == 130
