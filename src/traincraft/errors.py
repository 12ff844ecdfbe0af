"""Every error traincraft raises on purpose, in one hierarchy.

    TraincraftError                      base; the CLI turns it into a message and exit code 2
    ├── RecipeError(ValueError)          the recipe file or an option is invalid
    ├── DataError(ValueError)            the data cannot be read or does not fit the task
    │   └── SchemaError                  a column is missing or holds values of the wrong type
    ├── BundleError(ValueError)          a model bundle is missing, corrupt or incompatible
    ├── CheckpointError(ValueError)      a checkpoint is missing, corrupt or does not match the run
    ├── MissingDependencyError(ImportError)  an optional extra is not installed
    └── TrainingInterrupted              Ctrl-C during training; a checkpoint was saved (exit 130)

Messages say what went wrong, where, and how to fix it.
"""

from __future__ import annotations

__all__ = [
    "TraincraftError",
    "RecipeError",
    "DataError",
    "SchemaError",
    "BundleError",
    "CheckpointError",
    "MissingDependencyError",
    "TrainingInterrupted",
]


class TraincraftError(Exception):
    """Base class of every error traincraft raises on purpose."""

    exit_code = 2


class RecipeError(TraincraftError, ValueError):
    """The recipe (or an option standing in for one) is invalid."""


class DataError(TraincraftError, ValueError):
    """The data cannot be read, is empty, or does not fit the task."""


class SchemaError(DataError):
    """A column is missing, or holds values of a type the model cannot use."""


class BundleError(TraincraftError, ValueError):
    """A model bundle is missing, corrupt, or was written by an incompatible version."""


class CheckpointError(TraincraftError, ValueError):
    """A checkpoint is missing, corrupt, or belongs to another run."""


class MissingDependencyError(TraincraftError, ImportError):
    """An optional dependency is not installed; the message gives the pip command."""

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        super().__init__(
            f"{purpose} needs the package '{package}', which is not installed. "
            f"Install it with: pip install 'traincraft[{extra}]'"
        )


class TrainingInterrupted(TraincraftError):
    """Training was interrupted (Ctrl-C); a checkpoint was saved so it can resume."""

    exit_code = 130

    def __init__(self, message: str, *, checkpoint_dir: str | None = None) -> None:
        super().__init__(message)
        self.checkpoint_dir = checkpoint_dir
