"""The recipe's ``search:`` section: which settings ``traincraft search`` tries, and how it picks.

A search space maps a dotted recipe path to a distribution::

    search:
      trials: 12
      space:
        train.lr: {log_uniform: [1.0e-4, 1.0e-2]}
        model.hidden: {choice: [[64], [256, 256]]}
        model.dropout: {uniform: [0.0, 0.5]}

Each trial is scored on the validation split only; the test split is read once, by the final run
with the best settings. Paths that would change what is measured (the data, the split, the seed,
evaluation) cannot be searched.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["Distribution", "SearchConfig", "FROZEN_PATHS"]

# Recipe sections a search may not vary: they decide which rows are scored and how, so trials that
# varied them would not be comparable (and `split` or `seed` would move rows into the validation split).
FROZEN_PATHS = ("name", "seed", "task", "description", "data", "audit", "prepare", "split", "evaluate", "search")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, use_attribute_docstrings=True)


class Distribution(_Strict):
    """Exactly one of: a list of values to choose from, or a [low, high] range. A bare list is a choice."""

    choice: list[Any] | None = None
    """Values to choose from (any YAML value: numbers, strings, lists such as [256, 256])."""
    uniform: tuple[float, float] | None = None
    """A float drawn uniformly from [low, high]."""
    log_uniform: tuple[float, float] | None = None
    """A float whose logarithm is uniform on [log low, log high]: the right prior for learning rates
    and weight decay, which matter by their order of magnitude."""
    int_uniform: tuple[int, int] | None = None
    """An integer drawn uniformly from low..high (both included)."""

    @model_validator(mode="before")
    @classmethod
    def _list_is_a_choice(cls, value: Any) -> Any:
        return {"choice": value} if isinstance(value, list) else value  # `train.batch_size: [32, 64]`

    @model_validator(mode="after")
    def _exactly_one(self) -> "Distribution":
        given = [k for k in ("choice", "uniform", "log_uniform", "int_uniform") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of choice, uniform, log_uniform, int_uniform "
                f"(got {', '.join(given) or 'none'}), e.g. {{log_uniform: [1.0e-4, 1.0e-2]}} or {{choice: [32, 64]}}"
            )
        if self.choice is not None and not self.choice:
            raise ValueError("choice needs at least one value")
        for name in ("uniform", "log_uniform", "int_uniform"):
            bounds = getattr(self, name)
            if bounds is not None and not bounds[0] < bounds[1]:
                raise ValueError(f"{name} needs low < high, got {list(bounds)}")
        if self.log_uniform is not None and self.log_uniform[0] <= 0:
            raise ValueError(f"log_uniform needs low > 0, got {list(self.log_uniform)}")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ("choice", "uniform", "log_uniform", "int_uniform") if getattr(self, k) is not None)

    def sample(self, rng: Any) -> Any:
        """One value, drawn with ``rng`` (a numpy Generator)."""
        if self.choice is not None:
            return self.choice[int(rng.integers(len(self.choice)))]
        if self.uniform is not None:
            return float(rng.uniform(*self.uniform))
        if self.log_uniform is not None:
            low, high = self.log_uniform
            return float(math.exp(rng.uniform(math.log(low), math.log(high))))
        low, high = self.int_uniform  # type: ignore[misc]
        return int(rng.integers(low, high + 1))

    def extremes(self) -> list[Any]:
        """Values that stand for the whole range when checking that a path accepts them."""
        if self.choice is not None:
            return list(self.choice)
        bounds = self.uniform or self.log_uniform or self.int_uniform
        return list(bounds)  # type: ignore[arg-type]


class SearchConfig(_Strict):
    """`traincraft search`: hyperparameter search scored on the validation split only."""

    method: Literal["random", "grid"] = "random"
    """`random` draws `trials` settings from the space (seeded by the recipe's seed); `grid` tries every
    combination of the `choice` lists (ranges are not allowed in a grid)."""
    trials: int = Field(default=10, ge=1, le=10_000)
    """Settings tried by `random` (Bergstra & Bengio 2012: 60 random trials find a setting in the best 5%
    with 95% probability); `grid` tries all of its combinations and ignores this."""
    metric: str = "auto"
    """Validation metric that ranks the trials: auto is accuracy for classification and rmse for regression;
    any validation metric name (log_loss, macro_f1, roc_auc, positive_f1, mae, r2 ...). Lower or higher is
    better is known from its name."""
    folds: int | None = Field(default=None, ge=2, le=20)
    """Score each trial by k-fold cross-validation over the training and validation rows (the mean of
    the k validation scores ranks it) instead of the one validation split: k times the training, far less
    luck in the ranking when the validation split is small. Null uses the recipe's validation split."""
    include_recipe: bool = True
    """Also train the recipe's own settings as trial 0, so the table shows whether the search beat them."""
    final: bool = True
    """Train the best setting once more as an ordinary run, which reads the test split once and writes the
    bundle and the report; false stops after the trials (the test split is then never read)."""
    space: dict[str, Distribution] = Field(default_factory=dict)
    """Dotted recipe path -> distribution, e.g. `train.lr: {log_uniform: [1.0e-4, 1.0e-2]}`,
    `model.hidden: {choice: [[64], [256, 256]]}`. Data, split, seed and evaluation cannot be searched."""

    @field_validator("space")
    @classmethod
    def _paths_may_vary(cls, space: dict[str, Distribution]) -> dict[str, Distribution]:
        for path in space:
            head = path.split(".", 1)[0]
            if head in FROZEN_PATHS:
                raise ValueError(
                    f"'{path}' cannot be searched: {head} decides which rows are scored and how, so trials would not be "
                    "comparable. Search model.* and train.* settings."
                )
            if not path or any(not part for part in path.split(".")):
                raise ValueError(f"'{path}' is not a dotted recipe path such as train.lr")
        return space

    @model_validator(mode="after")
    def _grid_needs_choices(self) -> "SearchConfig":
        if self.method == "grid":
            ranges = [p for p, d in self.space.items() if d.choice is None]
            if ranges:
                raise ValueError(f"method: grid tries listed values only; give {', '.join(ranges)} a choice list, or use method: random")
        return self
