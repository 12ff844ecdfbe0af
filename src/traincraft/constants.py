"""Named numbers with their reasons. Imports nothing from traincraft."""

from __future__ import annotations

# --- ingest / schema inference -------------------------------------------------------------
SNIFF_BYTES = 64 * 1024  # enough lines to sniff a delimiter and a header without reading a big file
SCHEMA_SAMPLE_ROWS = 10_000  # rows looked at to infer a column type; inference stays O(1) in file size
ID_UNIQUE_RATIO = 0.98  # a column whose values are (almost) all distinct and not text or numeric measure is an id
TEXT_MIN_MEAN_WORDS = 3.0  # a string column whose values average this many words or more is text
CATEGORICAL_MAX_UNIQUE_RATIO = 0.5  # above this share of distinct values a short-string column is not a category
REGRESSION_MIN_UNIQUE = 21  # a numeric label with more distinct values than this is regression, not classes
DATETIME_PARSE_SHARE = 0.9  # share of non-empty values that must parse as dates to call a column datetime
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
HEADER_MAX_WORDS = 12  # a first-row cell with more words is a sentence, i.e. data; survey-question headers stay under it
ID_MIN_ROWS = 20  # in fewer rows most columns are all-distinct, so the near-unique and 0..N id rules need this many
IMAGE_PATH_SHARE = 0.9  # share of values ending in an image extension that makes a column image paths; the audit reports the rest
TEXT_MIN_MEAN_CHARS = 40  # a string column averaging this many characters is free text even with few spaces (e.g. CJK)

# --- features --------------------------------------------------------------------------------
CATEGORICAL_MIN_COUNT = 2  # categories seen fewer times in training share the rare/unknown bucket
TEXT_HASH_BUCKETS = 2**18  # hashed n-gram vocabulary; collisions are rare for corpora of ~10^5 words
TEXT_MAX_TOKENS = 1024  # hashed n-grams kept per text; a 1,000-character SMS makes ~400 after dedup
NUMERIC_MAX_ABS_Z = 1e4  # standardised values are clipped here: n training rows never exceed sqrt(n-1) < 1e4
# standard deviations (for n < 10^8), so training data is unchanged, while a value like 3e38 no
# longer overflows float32 into inf and NaN probabilities

# --- training --------------------------------------------------------------------------------
LR_FIND_START = 1e-6  # range-test start; below any useful rate for AdamW / SGD
LR_FIND_END = 1.0  # range-test end; every small network here diverges before this
LR_FIND_STEPS = 100  # steps of the range test (Smith 2017 uses ~100)
LR_FIND_DIVERGE = 4.0  # stop the range test once the smoothed loss exceeds 4x its minimum

# --- bundle ----------------------------------------------------------------------------------
BUNDLE_FORMAT_VERSION = 1  # bumped when bundle.json changes incompatibly
CHECKPOINT_FORMAT_VERSION = 1
