"""The recipe's evaluation settings beyond the positive label: intervals, threshold, fairness,
slices and the more-data curve. Strict like the rest of the recipe; every field has a default.

``EvaluateConfig`` in :mod:`._schema` holds one field of each of these models.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["FairnessLimits", "FairnessConfig", "SlicesConfig", "CurveConfig"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, use_attribute_docstrings=True)


class FairnessLimits(_Strict):
    """Largest disparity that still passes; a disparity past a limit is a failed check
    (`traincraft report --strict` then exits 1). Null turns a check off."""

    dp_difference: float | None = Field(default=None, ge=0.0, le=1.0)
    """Most allowed gap between the highest and lowest group selection rate (demographic parity
    difference), e.g. 0.1."""
    dp_ratio: float | None = Field(default=None, ge=0.0, le=1.0)
    """Least allowed ratio of the lowest to the highest selection rate, e.g. 0.8 (the four-fifths rule)."""
    eo_difference: float | None = Field(default=None, ge=0.0, le=1.0)
    """Most allowed equalized-odds difference: the larger of the TPR gap and the FPR gap across groups."""


class FairnessConfig(_Strict):
    """Fairness across the groups of `data.sensitive` columns (binary tasks get every measure;
    multiclass and regression get per-group accuracy or error)."""

    min_group_size: int = Field(default=30, ge=1)
    """Groups with fewer test rows are listed with a warning and left out of the disparity measures:
    a rate from 30 rows has a 95% interval about ±0.18 wide."""
    intersectional: bool = True
    """Also judge the combinations of the sensitive columns (e.g. sex × race) as groups."""
    limits: FairnessLimits = Field(default_factory=FairnessLimits)
    """Disparities that fail a check."""
    mitigation: Literal["none", "demographic_parity", "equal_opportunity"] = "demographic_parity"
    """Per-group decision thresholds chosen on the validation split so that groups get equal
    selection rates (`demographic_parity`) or equal true-positive rates (`equal_opportunity`);
    the report shows the accuracy and fairness trade-off on the test split. The bundle itself is not changed."""
    mitigate_on: str | None = None
    """Sensitive column whose groups get their own thresholds (and that reweighting balances); default:
    the first of `data.sensitive`."""
    reweighting: bool = False
    """Binary tasks: also train a second model whose training rows are weighted so that label and the
    `mitigate_on` group are independent (Kamiran & Calders reweighing: P(group)·P(label) / P(group, label)),
    and report its test accuracy and disparities beside the unmitigated and threshold-mitigated numbers.
    Doubles the training time; the bundle keeps the unweighted model."""


class SlicesConfig(_Strict):
    """Worst-performing slices of the test split over categorical and binned numeric columns."""

    columns: list[str] | None = None
    """Columns to slice by; default: every categorical, boolean and numeric feature plus the sensitive columns."""
    bins: int = Field(default=4, ge=2, le=20)
    """Numeric columns are cut into this many quantile bins."""
    min_support: int = Field(default=30, ge=1)
    """Slices with fewer test rows are not ranked (their metric is mostly noise)."""
    top: int = Field(default=10, ge=1)
    """How many of the worst slices the report lists."""


class CurveConfig(_Strict):
    """`traincraft curve`: train on growing shares of the training split, same validation and test."""

    fractions: list[Annotated[float, Field(gt=0.0, le=1.0)]] = Field(default_factory=lambda: [0.1, 0.2, 0.4, 0.7, 1.0])
    """Shares of the training split; each smaller share is a subset of the larger ones (stratified)."""
    metric: str | None = None
    """Validation metric to plot and extrapolate; default accuracy (classification) or rmse (regression)."""

    @field_validator("fractions")
    @classmethod
    def _at_least_three(cls, v: list[float]) -> list[float]:
        if len(set(v)) < 3:
            raise ValueError("curve.fractions needs at least 3 different shares to fit a power law")
        return sorted(set(v))
