"""The recipe's ``prepare:`` steps and ``audit:`` settings.

``prepare`` is an ordered list; each item names its kind with ``step:``::

    prepare:
      - step: dedupe            # exact or near duplicates; keep the first row or the majority label
        mode: near
        keep: majority
      - step: redact            # personal data -> <EMAIL>, <PHONE>, <CARD>, ...
      - step: filter
        drop_if: ["len(text) < 3"]
      - step: drop_label_issues
        threshold: 0.5

Every row a step drops or changes is kept in the run's quarantine with the step and the reason.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator, model_validator

__all__ = [
    "PII_KINDS",
    "AuditConfig",
    "DedupeStep",
    "DropColumnsStep",
    "DropLabelIssuesStep",
    "DropMissingStep",
    "FilterStep",
    "ImputeStep",
    "PrepareStep",
    "RedactStep",
    "RelabelStep",
    "STEP_NAMES",
]

PII_KINDS = ("SECRET_URL", "EMAIL", "IBAN", "CARD", "NATIONAL_ID", "IP", "PHONE")
PiiKind = Literal["SECRET_URL", "EMAIL", "IBAN", "CARD", "NATIONAL_ID", "IP", "PHONE"]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
MissingMarker = Union[str, float, int]


class _Step(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, use_attribute_docstrings=True)


class DedupeStep(_Step):
    """Remove duplicate rows; the removed ones go to the quarantine."""

    step: Literal["dedupe"] = "dedupe"
    mode: Literal["exact", "near"] = "exact"
    """`exact`: equal after Unicode NFKC, case folding and whitespace collapsing; `near`: also the same
    text with a few words changed (and images / rounded rows for non-text tables)."""
    keep: Literal["first", "majority"] = "first"
    """`first` keeps the first row of each duplicate set; `majority` keeps the first row carrying the set's
    most common label and drops the set when its labels tie (the conflict goes to the quarantine). In
    `train` only the training split's labels vote: a validation or test row's label never decides."""
    columns: list[str] | None = None
    """Columns compared; null compares every column except the label and ids."""


class DropMissingStep(_Step):
    """Drop rows with an empty cell in the given columns."""

    step: Literal["drop_missing"] = "drop_missing"
    columns: list[str] | None = None
    """Columns that must not be empty; null means every column."""
    missing_values: list[MissingMarker] = Field(default_factory=list)
    """More values that mean 'no value' here, e.g. ["?", "N/A", -999]."""


class ImputeStep(_Step):
    """Fill empty cells, and add a `<column>_missing` indicator column so the model knows."""

    step: Literal["impute"] = "impute"
    columns: list[str] | None = None
    """Columns to fill; null fills every feature column that has empty cells (never the label)."""
    strategy: Literal["median", "mode", "constant"] = "median"
    """`median` for numbers (falls back to `mode` for other columns), `mode` (most common value), or `constant`."""
    value: MissingMarker | None = None
    """The fill value for strategy `constant`."""
    indicator: bool = True
    """Add a boolean `<column>_missing` column per filled column."""
    missing_values: list[MissingMarker] = Field(default_factory=list)
    """More values that mean 'no value' here, e.g. ["?", -999]; they are filled too."""

    @model_validator(mode="after")
    def _constant_needs_value(self) -> "ImputeStep":
        if self.strategy == "constant" and self.value is None:
            raise ValueError("strategy 'constant' needs a value, e.g. value: 0")
        return self


class RedactStep(_Step):
    """Replace personal data in text with typed placeholders such as <EMAIL>, <PHONE>, <CARD>."""

    step: Literal["redact"] = "redact"
    columns: list[str] | None = None
    """Columns to redact; null means every text and string column except the label."""
    kinds: list[PiiKind] = Field(default_factory=lambda: list(PII_KINDS))
    """Kinds of personal data replaced: SECRET_URL, EMAIL, IBAN, CARD (Luhn-checked), NATIONAL_ID, IP, PHONE."""


class FilterStep(_Step):
    """Drop rows by rules: expressions over the columns, e.g. `len(text) < 3` or `country != 'UK'`.

    Allowed: column names (`backticks` for names with spaces), numbers, 'strings', comparisons,
    and/or/not, + - * / %, lists for `in`, and the functions len, words, lower, upper, strip, abs,
    isnull, notnull, contains, startswith, endswith, matches. Nothing else (no attributes, no
    other calls): a recipe cannot run code."""

    step: Literal["filter"] = "filter"
    drop_if: list[str] = Field(default_factory=list)
    """A row is dropped when any of these is true."""
    keep_if: list[str] = Field(default_factory=list)
    """A row is dropped when any of these is false."""

    @model_validator(mode="after")
    def _has_rules(self) -> "FilterStep":
        if not self.drop_if and not self.keep_if:
            raise ValueError("a filter step needs at least one rule in drop_if or keep_if")
        return self


class DropLabelIssuesStep(_Step):
    """Drop rows whose label is probably wrong (confident learning on out-of-fold probabilities)."""

    step: Literal["drop_label_issues"] = "drop_label_issues"
    threshold: Fraction = 0.5
    """A flagged row is dropped when the out-of-fold probability of its given label is below this;
    1.0 drops every row confident learning flags."""
    folds: int = Field(default=5, ge=2, le=20)
    """Folds of the out-of-fold model."""
    method: Literal["confident_learning", "prune_by_noise_rate"] = "confident_learning"
    """Which rows are flagged: `confident_learning` (off-diagonals of the confident joint, as the audit
    reports them) or `prune_by_noise_rate` (cleanlab's default: as many rows per class pair as the
    calibrated joint estimates, by margin; it flagged more of the planted flips at equal precision)."""


class RelabelStep(_Step):
    """Apply a person's review decisions (keep / relabel:<label> / drop) from `traincraft review apply`."""

    step: Literal["relabel"] = "relabel"
    review: str = "review.csv"
    """The decisions file written by `traincraft review apply`; relative to the recipe file."""
    missing_ok: bool = False
    """Run without error when the decisions file does not exist yet (nothing is relabelled)."""


class DropColumnsStep(_Step):
    """Drop whole columns (constant, ID-like, leaking). Recorded in the manifest, not per row."""

    step: Literal["drop_columns"] = "drop_columns"
    columns: list[str] = Field(min_length=1)
    """Columns to drop."""


_STEPS: dict[str, type[_Step]] = {
    "dedupe": DedupeStep,
    "drop_missing": DropMissingStep,
    "impute": ImputeStep,
    "redact": RedactStep,
    "filter": FilterStep,
    "drop_label_issues": DropLabelIssuesStep,
    "relabel": RelabelStep,
    "drop_columns": DropColumnsStep,
}
STEP_NAMES = tuple(_STEPS)


def _step_tag(value: Any) -> str | None:
    # the tag carries brackets so that recipe/_load.py drops it from error paths (prepare.0.mode)
    name = value.get("step") if isinstance(value, dict) else getattr(value, "step", None)
    return f"step[{name}]" if name in _STEPS else None


PrepareStep = Annotated[
    Union[tuple(Annotated[cls, Tag(f"step[{name}]")] for name, cls in _STEPS.items())],  # type: ignore[misc]
    Discriminator(
        _step_tag,
        custom_error_type="invalid_step",
        custom_error_message=f"step must be one of {', '.join(STEP_NAMES)}",
        custom_error_context={"expected": ", ".join(STEP_NAMES)},
    ),
]
"""One prepare step; ``step:`` picks the kind."""


class AuditConfig(BaseModel):
    """What `traincraft audit` and `train` check before training."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, use_attribute_docstrings=True)

    checks: list[str] | None = None
    """Checks to run by name (exact_duplicates, near_duplicates, label_issues, personal_data, ...); null runs all."""
    rules: list[str] = Field(default_factory=list)
    """Expressions true for rows that do not belong in the data, e.g. `len(text) < 3` (same language as filter)."""
    on_split_leakage: Literal["warn", "error"] = "warn"
    """What `train` does when validation or test shares exact/near duplicates or groups with train: warn, or stop."""

    @field_validator("rules")
    @classmethod
    def _non_empty(cls, v: list[str]) -> list[str]:
        if any(not isinstance(r, str) or not r.strip() for r in v):
            raise ValueError("every rule must be a non-empty expression")
        return v
