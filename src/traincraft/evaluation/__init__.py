"""Evaluation: judging models from their predictions. Never imports training (it judges models,
it does not fit them).

    classification_metrics, regression_metrics, confusion_matrix, ...   evaluation/metrics.py
    expected_calibration_error, reliability_table                       evaluation/calibration.py
    bootstrap_intervals                                                 evaluation/bootstrap.py
    choose_threshold                                                    evaluation/threshold.py
    diagnose_learning_curves                                            evaluation/overfitting.py
    fit_power_law, subsample_train                                      evaluation/data_curve.py
    fairness_report, reweighing_weights                                 evaluation/fairness.py
    worst_slices                                                        evaluation/slices.py
    evaluate_run, RunEvaluation                                         evaluation/run_evaluation.py
"""

from traincraft.evaluation.bootstrap import bootstrap_intervals
from traincraft.evaluation.calibration import expected_calibration_error, reliability_table
from traincraft.evaluation.data_curve import fit_power_law, subsample_train
from traincraft.evaluation.fairness import fairness_report, reweighing_weights
from traincraft.evaluation.metrics import (
    brier_score,
    classification_metrics,
    confusion_matrix,
    metric_mode,
    per_class_metrics,
    regression_metrics,
    regression_residuals,
)
from traincraft.evaluation.overfitting import diagnose_learning_curves
from traincraft.evaluation.run_evaluation import (
    EVALUATION_FILE,
    TEST_PREDICTIONS_FILE,
    EvaluationOptions,
    RunEvaluation,
    evaluate_run,
    jsonable,
)
from traincraft.evaluation.slices import worst_slices
from traincraft.evaluation.threshold import choose_threshold

__all__ = [
    "EVALUATION_FILE",
    "TEST_PREDICTIONS_FILE",
    "EvaluationOptions",
    "RunEvaluation",
    "bootstrap_intervals",
    "brier_score",
    "choose_threshold",
    "classification_metrics",
    "confusion_matrix",
    "diagnose_learning_curves",
    "evaluate_run",
    "expected_calibration_error",
    "fairness_report",
    "fit_power_law",
    "jsonable",
    "metric_mode",
    "per_class_metrics",
    "regression_metrics",
    "regression_residuals",
    "reliability_table",
    "reweighing_weights",
    "subsample_train",
    "worst_slices",
]
