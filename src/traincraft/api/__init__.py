"""The api layer: each user-facing verb as a function that composes the stages below it."""

from traincraft.api.audit import audit
from traincraft.api.curve import curve
from traincraft.api.evaluate import evaluate
from traincraft.api.export import export
from traincraft.api.finetune import finetune, merge
from traincraft.api.info import bundle_info
from traincraft.api.init import init_recipe
from traincraft.api.predict import predict_file
from traincraft.api.prepare import prepare
from traincraft.api.quickstart import quickstart
from traincraft.api.report import report
from traincraft.api.review import review_apply, review_export
from traincraft.api.runs import compare_runs, list_runs
from traincraft.api.search import search
from traincraft.api.serve import serve
from traincraft.api.train import Run, train

__all__ = [
    "Run",
    "audit",
    "bundle_info",
    "compare_runs",
    "curve",
    "evaluate",
    "export",
    "finetune",
    "init_recipe",
    "list_runs",
    "merge",
    "predict_file",
    "prepare",
    "quickstart",
    "report",
    "review_apply",
    "review_export",
    "search",
    "serve",
    "train",
]
