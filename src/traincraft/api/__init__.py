"""The api layer: each user-facing verb as a function that composes the stages below it."""

from traincraft.api.curve import curve
from traincraft.api.evaluate import evaluate
from traincraft.api.info import bundle_info
from traincraft.api.init import init_recipe
from traincraft.api.predict import predict_file
from traincraft.api.quickstart import quickstart
from traincraft.api.report import report
from traincraft.api.runs import compare_runs, list_runs
from traincraft.api.train import Run, train

__all__ = [
    "Run",
    "bundle_info",
    "compare_runs",
    "curve",
    "evaluate",
    "init_recipe",
    "list_runs",
    "predict_file",
    "quickstart",
    "report",
    "train",
]
