"""Named numbers of the audit checks and prepare steps, with their reasons.

They live beside the checks (not in ``traincraft/constants.py``) because nothing else uses them.
"""

from __future__ import annotations

# --- near duplicates (text) ------------------------------------------------------------------
NEAR_DUP_SIMILARITY = 0.65  # word edit similarity of a near copy: about a third of the words changed (2 of 6 is 0.667)
NEAR_DUP_JACCARD = 0.4  # word-set Jaccard floor: k of n words substituted gives (n-k)/(n+k), 0.5 for 2 of 6
NEAR_DUP_MIN_WORDS = 3  # texts with fewer distinct words are too short to call near duplicates ("ok" vs "ok lor")
NEAR_DUP_RAREST = 4  # each text is blocked on every pair of its 4 rarest words: recall 1.0 on the planted benchmark
NEAR_DUP_BLOCK_CAP = 64  # a block bigger than this compares each text with its 64 neighbours by MinHash order only
DF_TABLE_BITS = 22  # 4M-slot count table estimating how many texts hold a word (collisions only make words look commoner)
TOKEN_HASH_MAX_BYTES = 64  # bytes of a word that go into its hash; longer words (URLs) share a hash only if their first 64 bytes match

# --- near duplicates (tabular, images) -------------------------------------------------------
TABULAR_ROUND_DIGITS = 2  # numeric values rounded to 2 significant digits before rows are compared
IMAGE_HASH_SIZE = 8  # average-hash of 8x8 = 64 bits
IMAGE_HASH_MAX_BITS = 4  # images whose 64-bit hashes differ in at most 4 bits are near duplicates

# --- missing values ---------------------------------------------------------------------------
DISGUISED_MISSING_STRINGS = frozenset(
    {"", "?", "??", "-", "--", "n/a", "na", "n.a.", "nan", "null", "none", "nil", "missing", "unknown", "#n/a", "undefined", "<na>", "."}
)  # written-out "no value" markers seen in survey and spreadsheet exports
DISGUISED_MISSING_NUMBERS = (-999.0, -9999.0, -99999.0, 999.0, 9999.0, 99999.0, -1.0)  # sentinels, reported only when they stand out
SENTINEL_MIN_SHARE = 0.005  # a sentinel number counts when >= 0.5% of a column holds exactly it ...
SENTINEL_GAP_FACTOR = 3.0  # ... and it lies beyond 3 IQRs of the other values (or is -1 in a column otherwise >= 0)

# --- columns ----------------------------------------------------------------------------------
ID_LIKE_UNIQUE_RATIO = 0.98  # a non-numeric-measure column whose values are >= 98% distinct is an identifier
ID_LIKE_MIN_ROWS = 20  # with fewer rows every column looks unique
LEAKAGE_MIN_ACCURACY = 0.98  # one column alone predicting the label this well (out of fold) is suspected leakage
LEAKAGE_MAX_ROWS = 200_000  # rows sampled for the single-column leakage test
LEAKAGE_FOLDS = 3

# --- outliers ---------------------------------------------------------------------------------
ROBUST_Z = 6.0  # |x - median| / (1.4826 MAD) above this is an outlier (≈ 6 sd for normal data: 2e-9 false-alarm rate)
TEXT_LENGTH_Z = 6.0  # same rule on log(1 + characters) of a text column
TEXT_LENGTH_MIN_SCALE = 0.25  # ... with a scale of at least 0.25 (texts of one length: 6 x 0.25 flags 4.5x the median)
TEXT_MIN_CHARS = 3  # a text shorter than this (after trimming) is too short to learn from

# --- classes ----------------------------------------------------------------------------------
MIN_CLASS_ROWS = 10  # fewer rows than this in a class: too few to learn or to evaluate (2 per split at 70/15/15)
IMBALANCE_RATIO = 10.0  # majority / minority above this is reported as imbalance
REPRESENTATION_MIN_ROWS = 30  # a sensitive group with fewer rows gets unstable per-group metrics
REPRESENTATION_MIN_SHARE = 0.02  # ... or with less than 2% of the rows

# --- label issues -----------------------------------------------------------------------------
LABEL_ISSUE_FOLDS = 5  # out-of-fold probabilities from 5 folds (cleanlab's default cv_n_folds)
LABEL_ISSUE_MAX_ROWS = 500_000  # above this the check is skipped with an info finding (k-fold cost)
LABEL_HASH_FEATURES = 2**16  # hashed word 1-2-gram features of text columns for the fast model (2**18 was 5x slower, same accuracy on SMS spam)
LABEL_MIN_ROWS = 20  # fewer labelled rows than this: no out-of-fold model is meaningful

# --- personal data ----------------------------------------------------------------------------
PII_SAMPLE_SHOWN = 3  # masked examples per kind and column in a finding
