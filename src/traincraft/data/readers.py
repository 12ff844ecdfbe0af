"""Reading and writing tables: every format traincraft ingests, and the errors when a file is bad.

This module owns format detection (by extension, or a folder of class subfolders for images),
CSV/TSV dialect sniffing (delimiter, quoting, header line), encoding errors that name the byte,
streaming reads in bounded memory, NumPy arrays as tables, and atomic writes.
Every frame it returns has a fresh ``RangeIndex``: the row id is the 0-based data row in the file.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import logging
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from traincraft._util.atomic import atomic_write_with
from traincraft._util.suggest import did_you_mean
from traincraft.constants import HEADER_MAX_WORDS, IMAGE_EXTENSIONS, SNIFF_BYTES
from traincraft.errors import DataError

__all__ = ["FORMATS", "read_table", "read_chunks", "from_arrays", "write_table"]

log = logging.getLogger(__name__)

FORMATS = ("csv", "tsv", "parquet", "jsonl", "images")
_EXTENSIONS = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
_WRITE_EXTENSIONS = (".csv", ".tsv", ".parquet", ".pq", ".jsonl", ".ndjson")
_DELIMITERS = ",\t;|"
_NA_MARKERS = frozenset({"", "na", "n/a", "nan", "null", "none", "?", "-", "#n/a", "<na>"})
# what a binary file that is not the format its name says looks like, and what to do about it
_MAGIC = (
    (b"PAR1", "a Parquet file; rename it to .parquet or pass format='parquet'"),
    (b"\x1f\x8b", "gzip-compressed; decompress it first (gunzip)"),
    (b"PK\x03\x04", "a zip archive (an Excel .xlsx is one); unzip it, or export the sheet as CSV"),
    (b"\xd0\xcf\x11\xe0", "an old Excel/Office file; export the sheet as CSV"),
)
_FIELDS_RE = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


# --- public API -------------------------------------------------------------------------------
def read_table(
    source: str | os.PathLike,
    *,
    format: str = "auto",
    delimiter: str | None = None,
    header: bool | None = None,
    names: Sequence[str] | None = None,
    encoding: str = "utf-8",
) -> pd.DataFrame:
    """Read a CSV/TSV, Parquet or JSONL file, or a folder of images, into a DataFrame.

    ``format="auto"`` decides from the extension (a folder is read as images: one subfolder per
    class). For CSV/TSV the delimiter and the header line are detected unless given; a file
    without a header gets columns ``column_1, column_2, ...``; ``names`` replace the header
    line's names or the generated ones. Text cells pandas reads as missing (empty, ``NA``,
    ``null``, ...) are NaN. ``encoding`` is strict: a byte that is not valid in it is an error naming the byte and line.
    """
    path = _existing_path(source)
    fmt = _resolve_format(path, format)
    _warn_ignored(path, fmt, delimiter=delimiter, header=header, names=names, encoding=encoding)
    if fmt == "images":
        df = _image_frame(path)
    elif fmt == "parquet":
        _check_file(path, text=False)
        df = _read_parquet(path)
    elif fmt == "jsonl":
        _check_file(path, text=True, encoding=encoding)
        df = _records_frame(list(_jsonl_records(path, encoding)), start=0)
    else:
        plan = _plan_csv(path, fmt, delimiter=delimiter, header=header, names=names, encoding=encoding)
        df = _read_csv(path, plan)
    _require_rows(path, df, fmt)
    log.info("Read %s: %d rows x %d columns (%s)", path.name, len(df), df.shape[1], fmt)
    return df


def read_chunks(
    source: str | os.PathLike,
    *,
    chunksize: int,
    format: str = "auto",
    delimiter: str | None = None,
    header: bool | None = None,
    names: Sequence[str] | None = None,
    encoding: str = "utf-8",
) -> Iterator[pd.DataFrame]:
    """Stream a table in frames of at most ``chunksize`` rows, in bounded memory.

    The options mean what they mean in :func:`read_table`, and the chunks hold the same rows:
    each chunk's index continues the global row numbering (0, 1, ... across chunks). Errors
    about the file itself (missing, empty, wrong encoding at the start) are raised by this call,
    not by the first ``next()``.
    """
    if isinstance(chunksize, bool) or not isinstance(chunksize, int) or chunksize < 1:
        raise DataError(f"chunksize must be a positive whole number of rows, got {chunksize!r}.")
    path = _existing_path(source)
    fmt = _resolve_format(path, format)
    _warn_ignored(path, fmt, delimiter=delimiter, header=header, names=names, encoding=encoding)
    header_names: list[str] = []
    if fmt == "images":
        chunks = _frame_chunks(_image_frame(path), chunksize)
    elif fmt == "parquet":
        _check_file(path, text=False)
        chunks = _parquet_chunks(path, chunksize)
    elif fmt == "jsonl":
        _check_file(path, text=True, encoding=encoding)
        chunks = _jsonl_chunks(path, encoding, chunksize)
    else:
        plan = _plan_csv(path, fmt, delimiter=delimiter, header=header, names=names, encoding=encoding)
        chunks = _csv_chunks(path, plan, chunksize)
        header_names = plan.names if plan.header else []
    first = next(chunks, None)
    if first is None:
        columns = _parquet_columns(path) if fmt == "parquet" else header_names
        _require_rows(path, pd.DataFrame(columns=columns), fmt)
    return chain([first], chunks)


def from_arrays(
    X: Any,
    y: Any = None,
    *,
    feature_names: Sequence[str] | None = None,
    label: str = "label",
) -> pd.DataFrame:
    """A DataFrame from a 2-D array ``X`` (rows, features) and optional labels ``y`` (rows,).

    Columns are ``x0, x1, ...`` unless ``feature_names`` are given; ``y`` becomes the column
    ``label``.
    """
    X = np.asarray(X)
    if X.ndim != 2:
        fix = " Use X.reshape(-1, 1) for a single feature." if X.ndim == 1 else ""
        raise DataError(f"X must be a 2-D array (rows, features), got shape {X.shape}.{fix}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise DataError(f"X has shape {X.shape}; it needs at least one row and one feature.")
    names = _feature_names(X.shape[1], feature_names)
    df = pd.DataFrame(X, columns=names)
    if y is None:
        return df
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DataError(f"y must be 1-D with one label per row, got shape {y.shape}.")
    if len(y) != X.shape[0]:
        raise DataError(f"X has {X.shape[0]} rows but y has {len(y)} labels; they must match, one label per row.")
    if label in names:
        raise DataError(f"The label name '{label}' is also a feature name; pass another label=... name.")
    df[label] = y
    return df


def write_table(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write ``df`` (without its index) by extension: .csv, .tsv, .parquet, .jsonl. Atomic."""
    path = Path(path).expanduser()
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        sep = "\t" if suffix == ".tsv" else ","
        return atomic_write_with(path, lambda tmp: df.to_csv(tmp, sep=sep, index=False, encoding="utf-8"))
    if suffix in (".parquet", ".pq"):
        return atomic_write_with(path, lambda tmp: _write_parquet(df, tmp, path))
    if suffix in (".jsonl", ".ndjson"):
        return atomic_write_with(
            path,
            lambda tmp: df.to_json(tmp, orient="records", lines=True, force_ascii=False, date_format="iso"),
        )
    raise DataError(
        f"Cannot write {path.name}: unknown extension '{path.suffix}'. Use one of {', '.join(_WRITE_EXTENSIONS)}."
    )


# --- paths, formats, file checks --------------------------------------------------------------
def _existing_path(source: Any) -> Path:
    if isinstance(source, pd.DataFrame):
        raise DataError("read_table takes a file path; this is already a DataFrame, so use it directly.")
    if not isinstance(source, (str, os.PathLike)):
        raise DataError(f"The data source must be a file path (str or Path), got {type(source).__name__}.")
    path = Path(source).expanduser()
    if path.exists():
        return path
    parent = path.parent
    if not parent.is_dir():
        raise DataError(f"Data file {path} not found: the folder {parent} does not exist either.")
    siblings = sorted(p.name for p in parent.iterdir() if not p.name.startswith("."))
    raise DataError(
        f"Data file {path.name} not found in {parent.resolve()}.{did_you_mean(path.name, siblings)} "
        "Check the path (data.source in the recipe is relative to the recipe file)."
    )


def _resolve_format(path: Path, format: str) -> str:
    if format != "auto" and format not in FORMATS:
        raise DataError(
            f"Unknown data format '{format}'.{did_you_mean(format, FORMATS)} Use one of: auto, {', '.join(FORMATS)}."
        )
    if path.is_dir():
        if format not in ("auto", "images"):
            raise DataError(f"{path} is a folder, but format '{format}' needs a file. Pass the file itself.")
        return "images"
    if format == "images":
        raise DataError(f"format 'images' needs a folder with one subfolder per class; {path.name} is a file.")
    if format != "auto":
        return format
    fmt = _EXTENSIONS.get(path.suffix.lower())
    if fmt is None:
        known = ", ".join(_EXTENSIONS)
        raise DataError(
            f"Unknown format for {path.name}: the extension '{path.suffix}' is not one of {known}. "
            "Set data.format in the recipe (format=... in Python) to csv, tsv, parquet or jsonl."
        )
    return fmt


def _warn_ignored(path: Path, fmt: str, **options: Any) -> None:
    """CSV-only options given for another format do nothing; say so instead of ignoring them silently."""
    if fmt in ("csv", "tsv"):
        return
    defaults = {"delimiter": None, "header": None, "names": None, "encoding": "utf-8"}
    if fmt == "jsonl":
        defaults.pop("encoding")
    ignored = [k for k, v in options.items() if k in defaults and v != defaults[k]]
    if ignored:
        log.warning(
            "%s is read as %s; the option(s) %s apply to CSV/TSV only and are ignored.", path.name, fmt, ", ".join(ignored)
        )


def _read_head(path: Path, size: int = SNIFF_BYTES) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(size)
    except PermissionError:
        raise DataError(
            f"Cannot read {path}: permission denied. Give your user read access (e.g. chmod u+r {path.name})."
        ) from None
    except OSError as exc:
        raise DataError(f"Cannot read {path}: {exc.strerror or exc}.") from None


def _check_file(path: Path, *, text: bool, encoding: str = "utf-8") -> bytes:
    """The first bytes of a readable, non-empty file; a text format must not look binary."""
    head = _read_head(path)
    if not head:
        raise DataError(f"{path.name} is empty (0 bytes). Check that the file was written completely.")
    if text and not _is_wide_encoding(encoding):
        for magic, what in _MAGIC:
            if head.startswith(magic):
                raise DataError(f"{path.name} is not a text file: it is {what}.")
        if b"\x00" in head:
            offset = head.index(b"\x00")
            raise DataError(
                f"{path.name} looks like a binary file, not text: a NUL byte at byte offset {offset}. "
                "Check that it is the CSV/JSONL file you meant (a Parquet file needs the .parquet extension)."
            )
    return head


def _is_wide_encoding(encoding: str) -> bool:
    return _codec_name(encoding).startswith(("utf-16", "utf-32"))


def _codec_name(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise DataError(
            f"Unknown text encoding '{encoding}'. Set data.encoding to one Python knows, e.g. utf-8, latin-1 or cp1252."
        ) from None


def _python_encoding(encoding: str) -> str:
    """The codec to read with: UTF-8 also accepts (and drops) a byte-order mark."""
    name = _codec_name(encoding)
    return "utf-8-sig" if name == "utf-8" else name


def _require_rows(path: Path, df: pd.DataFrame, fmt: str) -> None:
    if len(df):
        return
    if df.shape[1] and fmt in ("csv", "tsv"):
        cols = ", ".join(str(c) for c in df.columns[:10])
        raise DataError(
            f"{path.name} has a header line ({cols}) but no data rows. Add rows, or, if that line is data, "
            "say there is no header (data.header: false in the recipe, header=False in Python)."
        )
    if df.shape[1]:
        raise DataError(f"{path.name} has columns ({', '.join(map(str, df.columns[:10]))}) but no rows.")
    raise DataError(f"{path.name} holds no rows (only blank lines). Check that the file was written completely.")


def _fresh_index(df: pd.DataFrame, start: int = 0) -> pd.DataFrame:
    """Replace the index by ``start, start+1, ...``; a named index stored in the file becomes a column."""
    if not isinstance(df.index, pd.RangeIndex):
        named = [n for n in df.index.names if n is not None]
        if named:
            df = df.reset_index()
        else:
            log.debug("dropping an unnamed stored index (pandas bookkeeping, not data)")
    df.index = pd.RangeIndex(start, start + len(df))
    return df


# --- encoding errors --------------------------------------------------------------------------
def _encoding_error(path: Path, encoding: str) -> DataError:
    """Find the first byte that is not valid in ``encoding`` and explain how to fix it."""
    name = _codec_name(encoding)
    codec = "utf-8" if name == "utf-8-sig" else name  # a BOM is valid UTF-8; keep offsets in file bytes
    decoder = codecs.getincrementaldecoder(codec)(errors="strict")
    consumed = 0
    with open(path, "rb") as f:
        while True:
            block = f.read(1 << 20)
            buffered = len(decoder.getstate()[0])
            try:
                decoder.decode(block, final=not block)
            except UnicodeDecodeError as exc:
                offset = consumed - buffered + exc.start
                bad = exc.object[exc.start : exc.start + 1]
                return _encoding_message(path, encoding, offset, bad, exc.reason)
            if not block:
                break
            consumed += len(block)
    return DataError(f"{path.name} could not be decoded as {encoding}. Set data.encoding (e.g. latin-1 or cp1252).")


def _encoding_message(path: Path, encoding: str, offset: int, bad: bytes, reason: str) -> DataError:
    line, context = _line_at(path, offset)
    byte = f"0x{bad.hex()}" if bad else "end of file"
    return DataError(
        f"{path.name} is not valid {encoding}: byte {byte} at byte offset {offset} (line {line}) cannot be "
        f"decoded ({reason}); the line reads {context!r}. The file is probably in another encoding: set "
        "data.encoding in the recipe (e.g. latin-1 or cp1252), or pass encoding='latin-1' in Python."
    )


def _line_at(path: Path, offset: int) -> tuple[int, str]:
    """1-based line number of byte ``offset`` and that line's text (undecodable bytes shown as �)."""
    newlines = 0
    line_start = 0
    with open(path, "rb") as f:
        done = 0
        while done < offset:
            block = f.read(min(1 << 20, offset - done))
            if not block:
                break
            count = block.count(b"\n")
            if count:
                newlines += count
                line_start = done + block.rindex(b"\n") + 1
            done += len(block)
        f.seek(line_start)
        raw = f.read(200).split(b"\n", 1)[0].rstrip(b"\r")
    return newlines + 1, raw.decode("utf-8", errors="replace")[:80]


# --- CSV / TSV ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _CsvPlan:
    """How to parse one delimited file, decided from its first bytes."""

    delimiter: str
    quoting: int
    header: bool
    names: list[str]
    encoding: str  # the codec pandas reads with
    fmt: str


def _plan_csv(
    path: Path,
    fmt: str,
    *,
    delimiter: str | None,
    header: bool | None,
    names: Sequence[str] | None,
    encoding: str,
) -> _CsvPlan:
    head = _check_file(path, text=True, encoding=encoding)
    codec = _python_encoding(encoding)
    sample = _decode_sample(path, head, encoding, codec)
    if not sample.strip():
        raise DataError(f"{path.name} holds no rows (only blank lines). Check that the file was written completely.")
    sep = _choose_delimiter(path, fmt, sample, delimiter)
    quoting = _choose_quoting(sample, sep)
    rows = _sample_rows(sample, sep, quoting)
    has_header = _detect_header(rows) if header is None else bool(header)
    columns = _column_names(path, rows[0], has_header, names)
    if header is None:
        found = "a header line" if has_header else "no header line"
        log.info("%s: detected %s; columns %s (set data.header to override).", path.name, found, ", ".join(columns[:10]))
    quotes = "quotes read literally" if quoting == csv.QUOTE_NONE else "standard CSV quoting"
    log.debug("%s: delimiter %r, %s", path.name, sep, quotes)
    return _CsvPlan(sep, quoting, has_header, columns, codec, fmt)


def _decode_sample(path: Path, head: bytes, encoding: str, codec: str) -> str:
    """The head decoded strictly, cut to whole lines when the file is longer than the head."""
    decoder = codecs.getincrementaldecoder(codec)(errors="strict")
    whole = len(head) < SNIFF_BYTES
    try:
        text = decoder.decode(head, final=whole)
    except UnicodeDecodeError:
        raise _encoding_error(path, encoding) from None
    if not whole and "\n" in text:
        text = text[: text.rindex("\n") + 1]
    return text


def _choose_delimiter(path: Path, fmt: str, sample: str, delimiter: str | None) -> str:
    if delimiter is not None:
        if len(delimiter) != 1 or delimiter in "\"\r\n":
            raise DataError(
                f"The delimiter must be one character other than a quote or newline, got {delimiter!r} "
                "(data.delimiter). Use '\\t' for tab."
            )
        return delimiter
    if fmt == "tsv":
        return "\t"
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        return _consistent_delimiter(sample)


def _consistent_delimiter(sample: str) -> str:
    """The candidate found the same number of times on the most lines; ',' for a one-column file."""
    lines = [line for line in sample.splitlines() if line.strip()][:200]
    best, best_score = ",", 0
    for cand in _DELIMITERS:
        counts = [line.count(cand) for line in lines]
        if not any(counts):
            continue
        mode = max(set(counts), key=counts.count)
        score = counts.count(mode) if mode else 0
        if score > best_score:
            best, best_score = cand, score
    return best


def _choose_quoting(sample: str, delimiter: str) -> int:
    """Standard CSV quoting, except for a TSV whose quotes are unbalanced and not needed.

    Tab-separated files usually carry no quoting at all (text such as SMS messages holds stray
    ``"``); read with standard quoting, one stray quote would swallow lines up to the next quote.
    When a line has an odd number of quotes and every line splits into the same number of fields
    with quotes taken literally, the quotes are data.
    """
    if delimiter != "\t":
        return csv.QUOTE_MINIMAL
    lines = [line for line in sample.splitlines() if line.strip()]
    if all(line.count('"') % 2 == 0 for line in lines):
        return csv.QUOTE_MINIMAL
    widths = {len(line.split("\t")) for line in lines}
    return csv.QUOTE_NONE if len(widths) == 1 else csv.QUOTE_MINIMAL


def _sample_rows(sample: str, delimiter: str, quoting: int) -> list[list[str]]:
    reader = csv.reader(io.StringIO(sample), delimiter=delimiter, quoting=quoting)
    rows: list[list[str]] = []
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                rows.append(row)
    except csv.Error:
        pass  # a quoted field cut by the end of the sample; the rows before it are enough
    return rows


def _detect_header(rows: list[list[str]]) -> bool:
    """Whether the first row names the columns. See :func:`_column_verdict` for the evidence."""
    first = [cell.strip() for cell in rows[0]]
    named = [c for c in first if c]
    if len(set(named)) < len(named):
        return False  # repeated names: data, not a header
    if len(rows) == 1:
        return bool(named) and len(named) == len(first) and not any(_is_number(c) for c in first) and all(
            len(c.split()) <= HEADER_MAX_WORDS for c in first
        )
    verdicts = {_column_verdict(cell, [row[i] for row in rows[1:] if i < len(row)]) for i, cell in enumerate(first)}
    # a name above a column of numbers outweighs a name that is also a value ("c" above a, b, c)
    if "header" in verdicts:
        return True
    if "data" in verdicts:
        return False
    if verdicts & {"weak-header", "weak-data"} in ({"weak-header"}, {"weak-data"}):
        return "weak-header" in verdicts
    return _length_verdict(rows)


def _column_verdict(first: str, rest: list[str]) -> str:
    """What one column says about the first row: header, data, weak-header, weak-data or unknown.

    Strongest: a non-number above a column of numbers is a header. Strong: a first value that
    repeats below, or a whole sentence, is data. Weak: a number above numbers is probably data
    (headers can be numbers); a new value above a column of few repeated values is probably a
    header.
    """
    values = [v.strip() for v in rest if v.strip().lower() not in _NA_MARKERS]
    if not values:
        return "unknown"
    if len(first.split()) > HEADER_MAX_WORDS:
        return "data"
    if all(_is_number(v) for v in values):
        if _is_number(first):
            return "weak-data"
        return "unknown" if first.lower() in _NA_MARKERS else "header"
    if first in values:
        return "data"
    if len(values) >= 4 and len(set(values)) <= len(values) / 2:
        return "weak-header"
    return "unknown"


def _length_verdict(rows: list[list[str]]) -> bool:
    """Last resort, csv.Sniffer's idea: a column whose values all have one length, under a first
    cell of another length, has a header (codes, dates); the same length means data. No such
    column: assume a header, as most CSV files have one (and pandas assumes)."""
    votes = 0
    for i, first in enumerate(rows[0]):
        lengths = {len(row[i]) for row in rows[1:] if i < len(row) and row[i].strip()}
        if len(lengths) == 1:
            votes += 1 if len(first) not in lengths else -1
    return votes >= 0


def _is_number(text: str) -> bool:
    text = text.strip()
    if "_" in text or text.lower() in ("nan", "inf", "+inf", "-inf", "infinity"):
        return False  # float() accepts "1_000" and "nan"; as cells they are names or missing markers
    try:
        float(text)
    except ValueError:
        return False
    return True


def _column_names(path: Path, first_row: list[str], has_header: bool, names: Sequence[str] | None) -> list[str]:
    width = len(first_row)
    if names is not None:
        names = [str(n) for n in names]
        if len(names) != width:
            raise DataError(
                f"{len(names)} column names were given (data.names: {', '.join(names)}) but the first line of "
                f"{path.name} has {width} fields. Give one name per column."
            )
        _check_unique_names(names)
        return names
    if not has_header:
        return [f"column_{i + 1}" for i in range(width)]
    return _dedupe([cell.strip() or f"column_{i + 1}" for i, cell in enumerate(first_row)], path)


def _check_unique_names(names: list[str]) -> None:
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise DataError(f"Column names must be unique; repeated: {', '.join(repeated)} (data.names).")


def _dedupe(names: list[str], path: Path) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        if name in seen:
            seen[name] += 1
            new = f"{name}.{seen[name]}"
            log.warning("%s: the header repeats column '%s'; the repeat is named '%s'.", path.name, name, new)
            out.append(new)
        else:
            seen[name] = 0
            out.append(name)
    return out


def _csv_options(plan: _CsvPlan) -> dict[str, Any]:
    # header=None with explicit names makes pandas refuse a line with too many fields (with
    # header=0 it would silently move columns into the index or drop them)
    return {
        "sep": plan.delimiter,
        "header": None,
        "names": plan.names,
        "skiprows": 1 if plan.header else 0,
        "quoting": plan.quoting,
        "encoding": plan.encoding,
        "encoding_errors": "strict",
        "index_col": False,
        "skip_blank_lines": True,
        "on_bad_lines": "error",
        "engine": "c",
    }


def _read_csv(path: Path, plan: _CsvPlan) -> pd.DataFrame:
    try:
        df = pd.read_csv(path, low_memory=False, **_csv_options(plan))
    except UnicodeDecodeError:
        raise _encoding_error(path, plan.encoding) from None
    except (pd.errors.ParserError, csv.Error) as exc:
        raise _parser_error(path, plan, exc) from None
    return _fresh_index(df)


def _csv_chunks(path: Path, plan: _CsvPlan, chunksize: int) -> Iterator[pd.DataFrame]:
    start = 0
    try:
        with pd.read_csv(path, chunksize=chunksize, **_csv_options(plan)) as reader:
            for chunk in reader:
                if len(chunk):
                    yield _fresh_index(chunk, start)
                    start += len(chunk)
    except UnicodeDecodeError:
        raise _encoding_error(path, plan.encoding) from None
    except (pd.errors.ParserError, csv.Error) as exc:
        raise _parser_error(path, plan, exc) from None


def _parser_error(path: Path, plan: _CsvPlan, exc: Exception) -> DataError:
    sep = repr(plan.delimiter)
    match = _FIELDS_RE.search(str(exc))
    if match:
        expected, line, saw = match.groups()
        origin = "the header" if plan.header else "the first line"
        return DataError(
            f"{path.name} line {line} has {saw} fields but {origin} has {expected} (delimiter {sep}). "
            "Quote values that contain the delimiter, or set data.delimiter if the delimiter is wrong."
        )
    return DataError(
        f"{path.name} could not be parsed as {plan.fmt.upper()} (delimiter {sep}): {str(exc).strip()}. "
        "An unbalanced quote (\") often causes this; check that line, or set data.delimiter / data.format."
    )


# --- Parquet ------------------------------------------------------------------------------------
def _parquet_error(path: Path, exc: Exception) -> DataError:
    return DataError(
        f"{path.name} is not a readable Parquet file ({str(exc).strip()}). It may be truncated or corrupt: "
        "write it again, or check that it really is Parquet."
    )


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise _parquet_error(path, exc) from None
    return _fresh_index(table.to_pandas())


def _parquet_chunks(path: Path, chunksize: int) -> Iterator[pd.DataFrame]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        handle = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise _parquet_error(path, exc) from None
    return _parquet_batches(path, handle, chunksize)


def _parquet_batches(path: Path, handle: Any, chunksize: int) -> Iterator[pd.DataFrame]:
    import pyarrow as pa

    start = 0
    with handle:
        try:
            for batch in handle.iter_batches(batch_size=chunksize):
                if batch.num_rows:
                    yield _fresh_index(pa.Table.from_batches([batch]).to_pandas(), start)
                    start += batch.num_rows
        except (pa.ArrowException, OSError) as exc:
            raise _parquet_error(path, exc) from None


def _parquet_columns(path: Path) -> list[str]:
    import pyarrow.parquet as pq

    return list(pq.read_schema(path).names)


def _write_parquet(df: pd.DataFrame, tmp: Path, path: Path) -> None:
    import pyarrow as pa

    try:
        df.to_parquet(tmp, index=False, engine="pyarrow")
    except (pa.ArrowException, TypeError, ValueError) as exc:
        raise DataError(
            f"Cannot write {path.name} as Parquet: {exc}. A column probably mixes types (numbers and text); "
            "convert it with df[col].astype(str), or write .csv instead."
        ) from None


# --- JSONL --------------------------------------------------------------------------------------
def _jsonl_records(path: Path, encoding: str) -> Iterator[dict[str, Any]]:
    """One dict per non-blank line; a malformed line is an error naming its line number."""
    codec = _python_encoding(encoding)
    try:
        with open(path, encoding=codec, errors="strict", newline="") as f:
            for lineno, line in enumerate(f, start=1):
                if line.strip():
                    yield _json_object(path, line, lineno)
    except UnicodeDecodeError:
        raise _encoding_error(path, encoding) from None


def _json_object(path: Path, line: str, lineno: int) -> dict[str, Any]:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DataError(
            f"{path.name} line {lineno} is not valid JSON: {exc.msg} (column {exc.colno}). "
            "JSONL needs one complete JSON object per line."
        ) from None
    if not isinstance(obj, dict):
        raise DataError(
            f"{path.name} line {lineno} is a JSON {type(obj).__name__}, not an object. "
            'JSONL needs one object per line, e.g. {"text": "hi", "label": "ham"}.'
        )
    return obj


def _records_frame(records: list[dict[str, Any]], start: int) -> pd.DataFrame:
    df = pd.DataFrame.from_records(records) if records else pd.DataFrame()
    return _fresh_index(df, start)


def _jsonl_chunks(path: Path, encoding: str, chunksize: int) -> Iterator[pd.DataFrame]:
    batch: list[dict[str, Any]] = []
    start = 0
    for record in _jsonl_records(path, encoding):
        batch.append(record)
        if len(batch) == chunksize:
            yield _records_frame(batch, start)
            start += len(batch)
            batch = []
    if batch:
        yield _records_frame(batch, start)


# --- image folders ------------------------------------------------------------------------------
def _image_frame(root: Path) -> pd.DataFrame:
    """Columns ``image`` (absolute path) and ``label`` (class subfolder name), sorted by class then path."""
    root = root.resolve()
    try:
        entries = sorted(p for p in root.iterdir() if not p.name.startswith("."))
    except PermissionError:
        raise DataError(f"Cannot read the folder {root}: permission denied.") from None
    classes = [p for p in entries if p.is_dir()]
    images: list[str] = []
    labels: list[str] = []
    for folder in classes:
        found = sorted(str(p) for p in folder.rglob("*") if p.is_file() and _is_image(p))
        if not found:
            log.warning("%s: the class folder '%s' holds no images and is skipped.", root.name, folder.name)
        images += found
        labels += [folder.name] * len(found)
    if not images:
        raise _not_image_folder(root, entries)
    return pd.DataFrame({"image": images, "label": labels})


def _is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def _not_image_folder(root: Path, entries: list[Path]) -> DataError:
    layout = "Expected one subfolder per class holding images, e.g. cats/1.png, dogs/2.jpg"
    loose = [p for p in entries if p.is_file() and _is_image(p)]
    if loose:
        return DataError(
            f"{root} holds {len(loose)} images directly but no class subfolders. {layout}: "
            "move each image into a subfolder named after its class."
        )
    files = [p for p in entries if p.is_file()]
    if files:
        kinds = ", ".join(sorted({p.suffix or p.name for p in files})[:5])
        return DataError(
            f"{root} is a folder, not an image folder: it holds files ({kinds}) and no class subfolders of images. "
            f"{layout} ({', '.join(IMAGE_EXTENSIONS)}). To read one table, pass the file, not the folder."
        )
    return DataError(f"{root} is not an image folder: no images found. {layout} ({', '.join(IMAGE_EXTENSIONS)}).")


def _frame_chunks(df: pd.DataFrame, chunksize: int) -> Iterator[pd.DataFrame]:
    for start in range(0, len(df), chunksize):
        yield df.iloc[start : start + chunksize]


# --- arrays -----------------------------------------------------------------------------------
def _feature_names(width: int, feature_names: Sequence[str] | None) -> list[str]:
    if feature_names is None:
        return [f"x{i}" for i in range(width)]
    names = [str(n) for n in feature_names]
    if len(names) != width:
        raise DataError(f"X has {width} columns but {len(names)} feature_names were given; give one name per column.")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise DataError(f"feature_names must be unique; repeated: {', '.join(repeated)}.")
    return names
