"""Serving: load a bundle and predict. Never imports training: a served model carries no training code."""

from traincraft.serving.bundle import BundleContents, library_versions, read_bundle, save_bundle
from traincraft.serving.predictor import Predictor, load

__all__ = ["BundleContents", "Predictor", "library_versions", "load", "read_bundle", "save_bundle"]
