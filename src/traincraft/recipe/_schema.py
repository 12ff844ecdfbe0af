"""The recipe: one declarative, validated description of a run.

Every field has a default, so ``data: {source: x.csv, label: y}`` is a whole recipe. Unknown keys
are refused (``extra="forbid"``); :mod:`traincraft.recipe._load` turns pydantic's errors into
messages that name the path, the value, what is allowed and a "did you mean" for typos.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from traincraft.recipe._evaluate import CurveConfig, FairnessConfig, SlicesConfig
from traincraft.recipe._finetune import LoraConfig, NewLabels, PooledLayers, Pooling, TuneMode
from traincraft.recipe._prepare import AuditConfig, PrepareStep
from traincraft.recipe._search import SearchConfig
from traincraft.recipe._unsupervised import AnomalyConfig, ClusterConfig, RLConfig

__all__ = [
    "ColumnType",
    "ColumnRole",
    "ColumnOverride",
    "DataConfig",
    "SplitConfig",
    "TextConfig",
    "ImageConfig",
    "ModelConfig",
    "EarlyStoppingConfig",
    "TrainConfig",
    "EvaluateConfig",
    "Recipe",
]

ColumnType = Literal["numeric", "categorical", "boolean", "text", "image", "datetime"]
ColumnRole = Literal["feature", "label", "group", "sensitive", "id", "time", "ignore"]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, use_attribute_docstrings=True)


class ColumnOverride(_Strict):
    """Override what schema inference decided for one column."""

    type: ColumnType | None = None
    """Column type; inferred from the values when not given."""
    role: ColumnRole | None = None
    """Column role; `feature` unless it is the label, an id, or named in group/sensitive/time."""


class DataConfig(_Strict):
    """Where the data is and what its columns mean."""

    source: str | None = None
    """Path to a CSV/TSV, Parquet, JSONL file, or a folder of images with one subfolder per class.
    Relative paths are relative to the recipe file. Empty when the Python API passes a DataFrame."""
    label: str | None = None
    """The column to predict. Required for supervised tasks."""
    format: Literal["auto", "csv", "tsv", "parquet", "jsonl", "images"] = "auto"
    """File format; `auto` decides from the extension (and the folder layout for images)."""
    delimiter: str | None = None
    """CSV delimiter; sniffed from the first lines when not given."""
    header: bool | None = None
    """Whether the first CSV line holds the column names; detected when not given."""
    names: list[str] | None = None
    """Column names for a CSV without a header line."""
    encoding: str = "utf-8"
    """Text encoding of CSV/JSONL files; a file that is not valid in it is an error naming the byte."""
    columns: dict[str, ColumnOverride] = Field(default_factory=dict)
    """Per-column overrides of inferred type and role, e.g. `{zip: {type: categorical}}`."""
    id: str | None = None
    """Column holding a row id; kept out of the features and copied into predictions."""
    group: str | None = None
    """Column whose values must not be split across train/validation/test (e.g. patient id)."""
    time: str | None = None
    """Column ordering rows in time; used by `split.method: time`."""
    sensitive: list[str] = Field(default_factory=list)
    """Columns describing people (sex, race, ...): reported on, not used as features by default."""


class SplitConfig(_Strict):
    """How rows are divided into train / validation / test. The test split is read once, at the end."""

    method: Literal["stratified", "random", "group", "time"] = "stratified"
    """`stratified` keeps label proportions (classification), `group` keeps each group in one split,
    `time` puts train before validation before test. `stratified` falls back to `random` for regression."""
    train: Fraction = 0.7
    """Share of rows for training."""
    validation: Fraction = 0.15
    """Share of rows for validation (early stopping, lr choice, thresholds)."""
    test: Fraction = 0.15
    """Share of rows for the final, once-only test."""

    @model_validator(mode="after")
    def _fractions_sum_to_one(self) -> "SplitConfig":
        total = self.train + self.validation + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(
                f"split fractions must add up to 1, got train {self.train} + validation "
                f"{self.validation} + test {self.test} = {total:g}"
            )
        if self.train <= 0:
            raise ValueError("split.train must be greater than 0")
        return self


class TextConfig(_Strict):
    """Hashed word and character n-grams into an EmbeddingBag (fastText-like, fast on CPU)."""

    word_ngrams: tuple[int, int] = (1, 2)
    """Range of word n-gram lengths."""
    char_ngrams: tuple[int, int] | None = (2, 5)
    """Range of character n-gram lengths (within word boundaries); null turns them off."""
    buckets: int = Field(default=2**18, ge=1024)
    """Hash buckets shared by all n-grams of a column (word and character n-grams alike). The
    4,862 SMS texts hold 115k distinct n-grams; with 2**16 buckets collisions cost ~0.5 points of spam F1."""
    max_tokens: int = Field(default=1024, ge=8)
    """Most hashed n-grams kept per text (the heaviest); an SMS has ~220, the longest ~1,300."""
    embedding_dim: int = Field(default=16, ge=1)
    """Size of the text embedding. Every step updates all buckets x embedding_dim weights, so this
    sets a text column's cost; on SMS spam 16 was as accurate as 32 and 64 at 1/2 and 1/4 of their step time."""
    lowercase: bool = True
    """Lowercase text before hashing."""


class ImageConfig(_Strict):
    """Images are decoded with Pillow, resized, normalised with training-split statistics."""

    size: int = Field(default=32, ge=8, le=512)
    """Images are resized to size x size pixels."""
    channels: Literal["auto", "grayscale", "rgb"] = "auto"
    """Colour mode; `auto` uses RGB unless every training image is grayscale."""
    conv_channels: list[int] = Field(default_factory=lambda: [32, 64])
    """Output channels of the small CNN's conv blocks (each conv, ReLU, max-pool)."""


class ModelConfig(_Strict):
    """One network built from the schema: an encoder per column, concatenated, into an MLP head."""

    hidden: list[Annotated[int, Field(ge=1)]] = Field(default_factory=lambda: [256, 256])
    """Widths of the MLP head's hidden layers; [] gives a linear model."""
    dropout: Fraction = 0.1
    """Dropout after each hidden layer."""
    activation: Literal["relu", "gelu", "silu", "tanh"] = "relu"
    """Activation of the hidden layers."""
    categorical_dim: int | None = None
    """Embedding size for categorical columns; null picks min(32, round(1.6 * n_categories**0.56))."""
    text: TextConfig = Field(default_factory=TextConfig)
    """Text column encoder."""
    image: ImageConfig = Field(default_factory=ImageConfig)
    """Image column encoder."""
    pretrained: str | None = None
    """A pretrained Hugging Face encoder for the text columns instead of the hashed n-grams, or for the
    image columns instead of the small CNN: a local directory (config.json, model.safetensors, and
    tokenizer files for text or the image processor's preprocessor_config.json for images: ViT,
    ConvNeXt, ResNet ...) or a known name (minilm). Loaded offline; nothing is downloaded. One base
    model reads text or images, not both. Null trains the encoders from scratch."""
    tune: TuneMode = "lora"
    """How the pretrained encoder adapts: lora (small adapters, small bundle; robust with little data),
    head (encoder frozen, its outputs computed once and cached, only the head trains), full (every weight)."""
    pooling: Pooling = "mean"
    """One vector per text (or image) from the encoder's token vectors: the mean over real tokens (how
    all-MiniLM-L6-v2 was trained) or the first ([CLS]) token; a convolutional image model's feature
    map is averaged over its positions (mean only)."""
    layers: PooledLayers = "auto"
    """Which of the pretrained encoder's hidden states are pooled: last (the top layer), or all (the
    embedding layer and every block, each pooled and scaled to unit length, side by side: (L + 1) x
    hidden wide). auto is all for tune: head and last otherwise: a frozen sentence encoder's top layer
    drops the lexical cues (digits, currency signs, spellings) the lower ones keep: on SMS spam with
    200 labels, a linear head on all seven MiniLM layers reached spam F1 0.93 against 0.81 on the top
    one (messages outside the 200 and the test split)."""
    max_length: int = Field(default=128, ge=8, le=8192)
    """Longest text in tokens for the pretrained encoder; longer texts are cut (all-MiniLM-L6-v2 was trained on 128)."""
    layer_decay: float | None = Field(default=None, gt=0.0, le=1.0)
    """Layer-wise learning-rate decay for a pretrained encoder: layer k of L trains at lr * layer_decay ** (L + 1 - k)
    (embeddings k = 0, the head at the full rate), e.g. 0.8; null trains every layer at lr."""
    lora: LoraConfig = Field(default_factory=LoraConfig)
    """LoRA adapters (tune: lora): rank, alpha, dropout, target modules."""
    head_cache: str | None = None
    """Folder for the cached encoder outputs of tune: head (keyed by data and model fingerprints);
    null uses <runs_dir>/.cache/encoder_outputs."""


class EarlyStoppingConfig(_Strict):
    """Stop when a validation metric stops improving, and restore the best weights."""

    enabled: bool = True
    """Turn early stopping on or off."""
    monitor: str = "val/loss"
    """Metric to watch: val/loss, val/accuracy, val/macro_f1, val/roc_auc, val/rmse, val/mae, val/r2."""
    mode: Literal["auto", "min", "max"] = "auto"
    """Whether lower or higher is better; `auto` knows the built-in metrics."""
    patience: int = Field(default=8, ge=1)
    """Epochs without improvement before stopping."""
    min_delta: float = Field(default=0.0, ge=0.0)
    """Smallest change that counts as an improvement."""


class TrainConfig(_Strict):
    """The training loop: optimiser, schedule, batches, stopping, device."""

    epochs: int = Field(default=40, ge=1)
    """Most passes over the training split."""
    batch_size: int = Field(default=64, ge=1)
    """Rows per gradient step."""
    optimizer: Literal["adamw", "sgd"] = "adamw"
    """Optimiser."""
    lr: float | Literal["auto"] = 2e-3
    """Peak learning rate; `auto` runs a range test on the training split and picks one."""
    weight_decay: float = Field(default=1e-4, ge=0.0)
    """Decoupled weight decay (AdamW) or L2 penalty (SGD)."""
    momentum: float = Field(default=0.9, ge=0.0, lt=1.0)
    """SGD momentum (ignored by AdamW)."""
    schedule: Literal["cosine", "onecycle", "constant"] = "cosine"
    """Learning-rate schedule over all steps: linear warmup then cosine decay, one-cycle, or constant."""
    warmup: Fraction = 0.05
    """Share of all steps spent warming up (cosine and constant schedules)."""
    grad_clip: float | None = Field(default=1.0, gt=0.0)
    """Clip the gradient norm to this value; null turns clipping off."""
    class_weights: Literal["none", "balanced"] | dict[str, float] = "none"
    """Loss weights per class: none, balanced (inverse frequency in the training split), or a mapping."""
    early_stopping: EarlyStoppingConfig = Field(default_factory=EarlyStoppingConfig)
    """Early stopping on a validation metric."""
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    """Where to train; `auto` picks cuda, then mps, then cpu."""
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    """`auto` uses bf16 autocast on GPU and fp32 on CPU."""
    threads: int | None = Field(default=None, ge=1)
    """torch CPU threads; null uses the cores this process may run on."""
    grad_accum: int = Field(default=1, ge=1)
    """Gradient accumulation: each batch of batch_size rows runs as this many micro-batches whose
    gradients add up before one optimiser step; the same update in less memory."""
    grad_checkpointing: bool = False
    """Recompute a pretrained encoder's activations in the backward pass instead of storing them:
    less memory for about a third more compute. Only pretrained encoders support it."""
    new_labels: NewLabels = "refuse"
    """traincraft finetune BUNDLE NEW_DATA: a label value the bundle has never seen is refused with an
    error listing it, or added to the head as a new class."""

    @field_validator("lr")
    @classmethod
    def _positive_lr(cls, v: float | str) -> float | str:
        if not isinstance(v, str) and v <= 0:
            raise ValueError("lr must be greater than 0 (or 'auto')")
        return v


class EvaluateConfig(_Strict):
    """Final evaluation on the test split."""

    positive_label: str | None = None
    """For binary tasks, the class whose F1 is reported (default: the minority class in training)."""
    bootstrap: int = Field(default=1000, ge=0)
    """Bootstrap resamples for the 95% intervals of test metrics; 0 turns them off."""
    threshold: Literal["validation", "argmax"] = "validation"
    """Binary: also report test metrics at the cut maximising positive-class F1 on validation."""
    fairness: FairnessConfig = Field(default_factory=FairnessConfig)
    """Fairness across data.sensitive groups: small-group size, limits, threshold mitigation."""
    slices: SlicesConfig = Field(default_factory=SlicesConfig)
    """Worst-performing slices of the test split."""
    curve: CurveConfig = Field(default_factory=CurveConfig)
    """traincraft curve: shares of the training split and the metric."""


class Recipe(_Strict):
    """A whole run: data, split, model, training, evaluation."""

    name: str | None = None
    """Run name; the run directory is runs/<name>. Default: <data file stem>-<timestamp>."""
    seed: int = 0
    """Seed for splitting, initialisation and data order. Same seed and data, same result on CPU."""
    task: Literal["auto", "binary", "multiclass", "regression", "cluster", "anomaly", "rl"] = "auto"
    """What to predict; `auto` decides from the label column. `cluster` and `anomaly` learn from unlabelled
    rows (see the cluster and anomaly sections); `rl` learns to act in a Gymnasium environment (see rl)."""
    description: str | None = None
    """Intended use, in a sentence or two, for the model card."""
    data: DataConfig = Field(default_factory=DataConfig)
    audit: AuditConfig = Field(default_factory=AuditConfig)
    """Checks run before training (`traincraft audit`), user rules, and what split leakage does."""
    prepare: list[PrepareStep] = Field(default_factory=list)
    """Ordered data preparation steps (dedupe, drop_missing, impute, redact, filter, drop_label_issues,
    relabel, drop_columns); every dropped or changed row is kept in the quarantine."""
    split: SplitConfig = Field(default_factory=SplitConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    evaluate: EvaluateConfig = Field(default_factory=EvaluateConfig)
    cluster: ClusterConfig = Field(default_factory=ClusterConfig)
    """task: cluster: k (or auto by silhouette), feature scaling, restarts, the reference column."""
    anomaly: AnomalyConfig = Field(default_factory=AnomalyConfig)
    """task: anomaly: the autoencoder's shape, the contamination rate that sets the threshold."""
    rl: RLConfig = Field(default_factory=RLConfig)
    """task: rl: the Gymnasium environment, the algorithm (ppo, dqn) and its settings."""
    search: SearchConfig = Field(default_factory=SearchConfig)
    """traincraft search: settings tried, ranked on the validation split; the test split is read once, at the end."""
