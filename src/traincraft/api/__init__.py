"""The api layer: each user-facing verb as a function that composes the stages below it."""

from traincraft.api.evaluate import evaluate
from traincraft.api.info import bundle_info
from traincraft.api.init import init_recipe
from traincraft.api.predict import predict_file
from traincraft.api.quickstart import quickstart
from traincraft.api.train import Run, train

__all__ = ["Run", "bundle_info", "evaluate", "init_recipe", "predict_file", "quickstart", "train"]
