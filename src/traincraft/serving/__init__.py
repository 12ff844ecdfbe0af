"""Serving: load a bundle and predict. Never imports training: a served model carries no training code."""

from traincraft.serving.bundle import BundleContents, library_versions, read_bundle, save_bundle
from traincraft.serving.predictor import Predictor, load
from traincraft.serving.unsupervised import AnomalyPredictor, ClusterPredictor

__all__ = ["AnomalyPredictor", "BundleContents", "ClusterPredictor", "Predictor", "library_versions", "load", "read_bundle", "save_bundle"]
