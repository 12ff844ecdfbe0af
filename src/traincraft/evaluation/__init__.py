"""Evaluation: metrics on predictions. Never imports training (it judges models, it does not fit them)."""

from traincraft.evaluation.metrics import classification_metrics, metric_mode, regression_metrics

__all__ = ["classification_metrics", "metric_mode", "regression_metrics"]
