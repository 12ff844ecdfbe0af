"""JSON records to model inputs, for the server: per-field validation, then encoding without pandas.

A request is validated field by field against the bundle's encoders before it joins a batch, so
one bad record never fails another client's request and every error names its field. Each value
is *prepared* as it is checked (a number, a category index, an encoded row), and a batch of
prepared records becomes the same :data:`~traincraft.features.table.EncodedTable` that
``TableEncoder.transform(pd.DataFrame(records))`` gives for each record, in a fraction of the time:

- numeric columns: the encoder's own formula (median fill, standardise, missing flag), vectorised;
- categorical columns: the encoder's vocabulary, matched on ``canonical_key``;
- boolean and datetime columns: the encoder itself, once per distinct value (cached);
- text columns: the encoder itself, once per batch (hashing is vectorised already);
- image columns: base64 image bytes (never a path on the server), checked, then the encoder itself.

The fast paths are checked against the encoders when the codec is built; a column whose fast
path disagrees falls back to calling its encoder on the batch (and a warning says so).
"""

from __future__ import annotations

import base64
import binascii
import io
import logging
import math
import operator
import os
import tempfile
import uuid
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import torch

from traincraft._util.suggest import did_you_mean
from traincraft.constants import NUMERIC_MAX_ABS_Z
from traincraft.errors import SchemaError
from traincraft.features._common import canonical_key
from traincraft.features.categorical import MISSING as CATEGORY_MISSING
from traincraft.features.categorical import RESERVED, UNKNOWN
from traincraft.features.table import EncodedTable

__all__ = ["FieldError", "RecordsInvalid", "RecordCodec", "MAX_FIELD_ERRORS", "MAX_IMAGE_PIXELS"]

log = logging.getLogger(__name__)

MAX_FIELD_ERRORS = 50  # errors listed in one 422 response; enough to fix a record, bounded in size
MAX_IMAGE_PIXELS = 25_000_000  # a served image larger than this (5000 x 5000) is refused before decoding
FLOAT32_MAX = float(np.finfo(np.float32).max)  # a standardised value beyond this overflows the network's input
VALUE_CACHE = 4096  # distinct boolean / datetime values whose encoded rows are kept per column
_SHOWN_COLUMNS = 20  # column names listed in an "unknown field" message
_DENSE_KINDS = ("numeric", "boolean", "datetime")  # the kinds TableEncoder concatenates into "dense"
_MISSING = object()  # a field absent from the record (null is a missing *value*, which is allowed)
_PLAIN_NUMBERS = {int, float, type(None)}  # JSON numbers and null (bool, a subclass of int, is refused)


class FieldError:
    """One problem with one field: where (``loc``), what (``msg``) and a machine-readable ``type``."""

    __slots__ = ("loc", "msg", "type")

    def __init__(self, loc: Sequence[str | int], msg: str, type: str) -> None:
        self.loc = tuple(loc)
        self.msg = msg
        self.type = type

    def to_json(self) -> dict[str, Any]:
        return {"loc": list(self.loc), "msg": self.msg, "type": self.type}

    def __repr__(self) -> str:
        return f"FieldError({'.'.join(str(p) for p in self.loc)}: {self.msg})"


class RecordsInvalid(SchemaError):
    """The request's records do not fit the model's inputs; ``errors`` lists each field."""

    def __init__(self, errors: list[FieldError], *, total: int | None = None) -> None:
        self.errors = errors[:MAX_FIELD_ERRORS]
        self.total = total if total is not None else len(errors)
        shown = "; ".join(f"{'.'.join(str(p) for p in e.loc)}: {e.msg}" for e in self.errors[:3])
        more = f" (and {self.total - 3} more)" if self.total > 3 else ""
        super().__init__(f"{self.total} invalid field{'s' if self.total != 1 else ''}: {shown}{more}")


class _Bad(Exception):
    """A value that does not fit its column (raised while preparing; becomes a FieldError)."""

    def __init__(self, msg: str, type: str) -> None:
        super().__init__(msg)
        self.msg = msg
        self.type = type


def _describe(value: Any) -> str:
    kind = {bool: "boolean", int: "number", float: "number", str: "string", list: "array", dict: "object"}.get(type(value), type(value).__name__)
    if isinstance(value, (list, dict)):
        return kind
    text = repr(value)
    return f"{kind} {text if len(text) <= 40 else text[:37] + '...'}"


def _blank(value: Any) -> bool:
    """The encoders' missing rule for a JSON value: null, or a string of only whitespace."""
    return value is None or (isinstance(value, str) and not value.strip())


def _row_of(encoder: Any, value: Any) -> np.ndarray:
    """The encoder's output row for one value, exactly as for a one-record DataFrame (dtype inferred)."""
    try:
        return np.asarray(encoder.transform(pd.Series([value]), strict=True))[0]
    except SchemaError as exc:
        message = str(exc).split(". Fix")[0]  # the encoder's "what" without its advice for files
        raise _Bad(message.replace(" row 0 holds", " got"), f"value_error.{encoder.kind}") from None
    except (ValueError, TypeError, OverflowError) as exc:  # pandas refusing a value outright (e.g. a year 10^30)
        raise _Bad(f"not a valid {encoder.kind} value ({type(exc).__name__}: {str(exc)[:200]})", f"value_error.{encoder.kind}") from None


# --- columns ---------------------------------------------------------------------------------
class _Column:
    """One feature column: how a JSON value is checked and prepared, and its JSON schema."""

    kind = ""
    json_type: dict[str, Any] = {}

    def __init__(self, encoder: Any) -> None:
        self.encoder = encoder
        self.name: str = encoder.name
        self.fast = True

    def prepare(self, value: Any) -> Any:
        raise NotImplementedError

    def schema(self) -> dict[str, Any]:
        return {**self.json_type, "title": self.name, "x-traincraft-type": self.kind}


class _Numeric(_Column):
    kind = "numeric"
    json_type = {"type": ["number", "null"], "description": "A number; null for a missing value."}

    def __init__(self, encoder: Any) -> None:
        super().__init__(encoder)
        state = encoder.to_json()
        self.mean, self.std, self.median = float(state["mean"]), float(state["std"]), float(state["median"])
        self.flag = bool(state["has_missing"])
        self.width = len(encoder.feature_names)

    def prepare(self, value: Any) -> float:
        if value is None:
            return math.nan
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _Bad(f"expected a number or null, got {_describe(value)}", "type_error.number")
        try:
            number = float(value)
        except OverflowError:
            raise _Bad("number too large for a float64", "value_error.number") from None
        if not math.isfinite(number):
            raise _Bad("expected a finite number", "value_error.number")
        if abs((number - self.mean) / self.std) > FLOAT32_MAX:
            raise _Bad(f"{number:g} is too far outside the training range ({self.mean:g} ± {self.std:g}) for the model's float32 inputs", "value_error.number")
        return number

    def block(self, values: list[float]) -> np.ndarray:
        """(N, 1 or 2) float32, as NumericEncoder.transform gives."""
        raw = np.asarray(values, dtype=np.float64)
        if not self.fast:
            return self.encoder.transform(pd.Series(raw), strict=True)
        missing = np.isnan(raw)
        out = np.empty((len(raw), self.width), dtype=np.float32)
        out[:, 0] = np.clip((np.where(missing, self.median, raw) - self.mean) / self.std, -NUMERIC_MAX_ABS_Z, NUMERIC_MAX_ABS_Z)
        if self.flag:
            out[:, 1] = missing
        return out


class _Categorical(_Column):
    kind = "categorical"
    json_type = {"type": ["string", "number", "boolean", "null"], "description": "A category; an unseen one is allowed (it maps to 'unknown'); null for missing."}

    def __init__(self, encoder: Any) -> None:
        super().__init__(encoder)
        self.index = {str(k): i + RESERVED for i, k in enumerate(encoder.vocabulary)}

    def prepare(self, value: Any) -> Any:
        if _blank(value):
            return None
        if not isinstance(value, (str, int, float, bool)):
            raise _Bad(f"expected a string, number, boolean or null, got {_describe(value)}", "type_error.scalar")
        if isinstance(value, float) and not math.isfinite(value):
            raise _Bad("expected a finite number", "value_error.number")
        return value

    def code(self, value: Any) -> int:
        return CATEGORY_MISSING if value is None else self.index.get(canonical_key(value), UNKNOWN)

    def block(self, values: list[Any]) -> np.ndarray:
        """(N,) int64 indices, as CategoricalEncoder.transform gives."""
        if not self.fast:
            return self.encoder.transform(pd.Series(values), strict=True)
        return np.fromiter((self.code(v) for v in values), dtype=np.int64, count=len(values))

    def schema(self) -> dict[str, Any]:
        shown = list(self.encoder.vocabulary[:10])
        return {**super().schema(), "examples": shown} if shown else super().schema()


class _CachedRows(_Column):
    """Boolean and datetime columns: the encoder's own row for each distinct value, cached."""

    allowed: tuple[type, ...] = ()
    expected = ""

    def __init__(self, encoder: Any) -> None:
        super().__init__(encoder)
        self._row = lru_cache(maxsize=VALUE_CACHE)(self._encode)

    def _encode(self, kind: type, value: Any) -> np.ndarray:  # ``kind`` keeps True, 1 and 1.0 apart
        row = _row_of(self.encoder, value)
        row.setflags(write=False)
        return row

    def prepare(self, value: Any) -> np.ndarray:
        if _blank(value):
            return self._row(type(None), None)
        if not isinstance(value, self.allowed) or (isinstance(value, bool) and bool not in self.allowed):
            raise _Bad(f"expected {self.expected}, got {_describe(value)}", f"type_error.{self.kind}")
        if isinstance(value, float) and not math.isfinite(value):
            raise _Bad("expected a finite number", "value_error.number")
        return self._row(type(value), value)

    def block(self, values: list[np.ndarray]) -> np.ndarray:
        return np.stack(values).astype(np.float32, copy=False)  # (N, d)


class _Boolean(_CachedRows):
    kind = "boolean"
    allowed = (bool, int, float, str)
    expected = "true/false (or 1/0, \"yes\"/\"no\") or null"
    json_type = {
        "anyOf": [{"type": "boolean"}, {"enum": [0, 1]}, {"type": "string"}, {"type": "null"}],
        "description": "true/false; also 1/0 and the strings true/false, yes/no, y/n, t/f, 1/0; null for missing.",
    }


class _Datetime(_CachedRows):
    kind = "datetime"
    allowed = (str, int)
    expected = "a date or timestamp string (ISO 8601, e.g. \"2024-05-31\" or \"2024-05-31T12:00:00Z\") or null"
    json_type = {"type": ["string", "integer", "null"], "description": "A date or timestamp (ISO 8601 preferred); null for missing."}


class _Text(_Column):
    kind = "text"
    json_type = {"type": ["string", "null"], "description": "Free text; null for missing."}

    def prepare(self, value: Any) -> str:
        if value is None:
            return ""
        if not isinstance(value, str):
            raise _Bad(f"expected a string or null, got {_describe(value)}", "type_error.string")
        return value

    def block(self, values: list[str]) -> tuple[np.ndarray, np.ndarray]:
        return self.encoder.transform(pd.Series(values, dtype=object), strict=True)  # (N, L), (N, L)


class _Image(_Column):
    """Base64 image bytes (a data URL is fine); written to a private temporary file for the encoder."""

    kind = "image"
    json_type = {
        "type": ["string", "null"],
        "contentEncoding": "base64",
        "description": "An image file (PNG, JPEG, ...) encoded as base64, or a data: URL; null for missing. Paths are not accepted.",
    }

    def __init__(self, encoder: Any, scratch: Callable[[], str]) -> None:
        super().__init__(encoder)
        self._scratch = scratch
        self._blank_row = np.zeros((encoder.channels, encoder.size, encoder.size), dtype=np.float32)

    def prepare(self, value: Any) -> np.ndarray:
        from PIL import Image, UnidentifiedImageError

        if _blank(value):
            return self._blank_row
        if not isinstance(value, str):
            raise _Bad(f"expected a base64-encoded image or null, got {_describe(value)}", "type_error.image")
        text = value.split(",", 1)[1] if value.startswith("data:") else value
        try:
            data = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise _Bad("not valid base64; send the image file's bytes base64-encoded (paths are not accepted)", "value_error.image") from None
        try:
            with Image.open(io.BytesIO(data)) as img:
                width, height = img.size
        except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError):
            raise _Bad("the bytes are not an image file Pillow can read (PNG, JPEG, GIF, BMP, TIFF, WebP)", "value_error.image") from None
        if width * height > MAX_IMAGE_PIXELS:
            raise _Bad(f"image of {width}x{height} pixels is larger than the {MAX_IMAGE_PIXELS:,} pixels served", "value_error.image")
        path = os.path.join(self._scratch(), f"{uuid.uuid4().hex}.img")
        try:
            with open(path, "wb") as f:
                f.write(data)
            return _row_of(self.encoder, path)
        finally:
            os.unlink(path)

    def block(self, values: list[np.ndarray]) -> np.ndarray:
        return np.stack(values).astype(np.float32, copy=False)  # (N, C, H, W)


class _Generic(_Column):
    """A column kind the server has no fast path for: any JSON scalar, encoded by the bundle's TableEncoder."""

    json_type = {"type": ["string", "number", "boolean", "null"], "description": "A value of this column; null for missing."}

    def __init__(self, encoder: Any) -> None:
        super().__init__(encoder)
        self.kind = encoder.kind
        self.fast = False

    def prepare(self, value: Any) -> Any:
        if value is not None and not isinstance(value, (str, int, float, bool)):
            raise _Bad(f"expected a string, number, boolean or null, got {_describe(value)}", "type_error.scalar")
        if isinstance(value, float) and not math.isfinite(value):
            raise _Bad("expected a finite number", "value_error.number")
        return value


# --- the codec ---------------------------------------------------------------------------------
class RecordCodec:
    """Validates JSON records against a predictor's encoders and encodes batches of them.

    ``extra_fields="forbid"`` (default) refuses a field that is no column of the bundle's schema
    (a typo, usually); columns the schema knows but the model does not read (the id, the label)
    are accepted, and the id is echoed in the response. ``"ignore"`` accepts any extra field.
    """

    def __init__(self, predictor: Any, *, extra_fields: str = "forbid") -> None:
        if extra_fields not in ("forbid", "ignore"):
            raise SchemaError(f"extra_fields must be 'forbid' or 'ignore', got {extra_fields!r}.")
        self.predictor = predictor
        self.extra_fields = extra_fields
        self.table = predictor.encoder
        self.id_column: str | None = predictor.id_column
        self.known = {str(c["name"]) for c in predictor.meta["schema"]["columns"]} | set(self.table.columns)
        self._tmp: tempfile.TemporaryDirectory | None = None
        self.columns: list[_Column] = [self._column(enc) for enc in self.table.encoders]
        self.names = [c.name for c in self.columns]
        self._fields = operator.itemgetter(*self.names) if len(self.names) > 1 else (lambda record: (record[self.names[0]],))
        numeric = [j for j, c in enumerate(self.columns) if isinstance(c, _Numeric)]
        self._numeric_fields = numeric
        self._others = [(j, c) for j, c in enumerate(self.columns) if not isinstance(c, _Numeric)]
        self._numeric_check_mean = np.array([self.columns[j].mean for j in numeric])
        self._numeric_check_std = np.array([self.columns[j].std for j in numeric])
        self.whole_table = any(isinstance(c, _Generic) for c in self.columns)  # encode batches with TableEncoder itself
        self.fallbacks = [] if self.whole_table else self._check_fast_paths()

    def _column(self, encoder: Any) -> _Column:
        kinds: dict[str, Callable[[Any], _Column]] = {
            "numeric": _Numeric,
            "categorical": _Categorical,
            "boolean": _Boolean,
            "datetime": _Datetime,
            "text": _Text,
            "image": lambda enc: _Image(enc, self._scratch),
        }
        if encoder.kind not in kinds:
            log.info("Column '%s' (%s): no fast path in the server; batches are encoded by the bundle's TableEncoder.", encoder.name, encoder.kind)
            return _Generic(encoder)
        return kinds[encoder.kind](encoder)

    def _scratch(self) -> str:
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="traincraft-serve-")
        return self._tmp.name

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    # --- validation ------------------------------------------------------------------------------
    def parse(self, body: Any, *, max_records: int) -> tuple[list[tuple], list[Any], bool]:
        """``(prepared records, their ids (or None), whether one record was sent)``; :class:`RecordsInvalid` if any field is bad."""
        single = isinstance(body, dict)
        if single:
            records = [body]
        elif isinstance(body, list):
            records = body
            if not records:
                raise RecordsInvalid([FieldError(["body"], "the list of records is empty; send at least one record", "value_error.empty")])
            if len(records) > max_records:
                raise RecordsInvalid(
                    [FieldError(["body"], f"{len(records)} records in one request; the limit is {max_records}. Split the list.", "value_error.too_many")]
                )
        else:
            raise RecordsInvalid(
                [FieldError(["body"], f"expected a JSON object (one record) or a list of them, got {_describe(body)}", "type_error.body")]
            )
        prepared: list[tuple] = []
        ids: list[Any] = []
        errors: list[FieldError] = []
        for i, record in enumerate(records):
            where: tuple[str | int, ...] = ("body",) if single else ("body", i)
            if not isinstance(record, dict):
                errors.append(FieldError(where, f"expected a JSON object with the model's columns, got {_describe(record)}", "type_error.record"))
                continue
            row = self._prepare_quick(record)
            if row is None:
                row = self._prepare(record, where, errors)
            if row is not None:
                prepared.append(row)
                ids.append(record.get(self.id_column) if self.id_column else None)
            if len(errors) >= MAX_FIELD_ERRORS:
                break
        if errors:
            raise RecordsInvalid(errors, total=len(errors))
        return prepared, ids, single

    def _prepare_quick(self, record: dict) -> tuple | None:
        """The prepared record when it is plainly valid, else None (then :meth:`_prepare` finds and names the errors).

        Every field present, numbers checked all at once with numpy instead of one call per field,
        the other columns through their own ``prepare``: the same values :meth:`_prepare` gives,
        at a fraction of its cost per record.
        """
        try:
            given = self._fields(record)
        except KeyError:
            return None
        if self.extra_fields == "forbid" and len(record) > len(self.columns) and not record.keys() <= self.known:
            return None
        if self.id_column and not isinstance(record.get(self.id_column), (str, int, float, bool, type(None))):
            return None
        values = list(given)
        if self._numeric_fields:
            numbers = values if not self._others else [given[j] for j in self._numeric_fields]
            if not set(map(type, numbers)) <= _PLAIN_NUMBERS:
                return None
            try:
                raw = np.array(numbers, dtype=np.float64)  # None -> nan
            except OverflowError:
                return None
            within = np.abs((raw - self._numeric_check_mean) / self._numeric_check_std) <= FLOAT32_MAX  # False for inf, nan
            nulls = numbers.count(None)
            if nulls:
                if int(np.isnan(raw).sum()) != nulls:  # a NaN that was sent as a number
                    return None
                within |= np.isnan(raw)
            if not within.all():
                return None
            if not self._others:
                return tuple(raw.tolist())
            for j, number in zip(self._numeric_fields, raw.tolist()):
                values[j] = number
        for j, column in self._others:
            try:
                values[j] = column.prepare(given[j])
            except _Bad:
                return None
        return tuple(values)

    def _prepare(self, record: dict, where: tuple[str | int, ...], errors: list[FieldError]) -> tuple | None:
        values = []
        failed = False
        for column in self.columns:
            value = record.get(column.name, _MISSING)
            if value is _MISSING:
                errors.append(
                    FieldError((*where, column.name), f"field required ({column.kind}); send null for a missing value", "missing")
                )
                failed = True
                continue
            try:
                values.append(column.prepare(value))
            except _Bad as bad:
                errors.append(FieldError((*where, column.name), bad.msg, bad.type))
                failed = True
        if self.extra_fields == "forbid" and len(record) > len(self.columns):
            for key in record:
                if key not in self.known:
                    hint = did_you_mean(str(key), self.names)
                    shown = ", ".join(self.names[:_SHOWN_COLUMNS]) + (" ..." if len(self.names) > _SHOWN_COLUMNS else "")
                    errors.append(FieldError((*where, str(key)), f"unknown field; the model reads: {shown}.{hint}", "extra_forbidden"))
                    failed = True
        if self.id_column and self.id_column in record and not isinstance(record[self.id_column], (str, int, float, bool, type(None))):
            errors.append(FieldError((*where, self.id_column), f"the id must be a string, number or null, got {_describe(record[self.id_column])}", "type_error.id"))
            failed = True
        return None if failed else tuple(values)

    # --- encoding --------------------------------------------------------------------------------
    def _plan(self) -> None:
        """Where each dense column's block goes in ``dense``; the fast numeric columns as one vectorised group."""
        numeric: list[tuple[int, _Numeric, int]] = []
        self._dense_blocks: list[tuple[int, _Column, int, int]] = []
        offset = 0
        for j, column in enumerate(self.columns):
            if column.kind not in _DENSE_KINDS:
                continue
            width = len(column.encoder.feature_names)
            if isinstance(column, _Numeric) and column.fast:
                numeric.append((j, column, offset))
            else:
                self._dense_blocks.append((j, column, offset, offset + width))
            offset += width
        self._dense_width = offset
        self._numeric_rows = operator.itemgetter(*[j for j, _, _ in numeric]) if numeric else None
        self._numeric_single = len(numeric) == 1
        self._numeric_mean = np.array([c.mean for _, c, _ in numeric])
        self._numeric_std = np.array([c.std for _, c, _ in numeric])
        self._numeric_median = np.array([c.median for _, c, _ in numeric])
        self._numeric_at = np.array([at for _, _, at in numeric], dtype=np.int64)
        flagged = [k for k, (_, c, _) in enumerate(numeric) if c.flag]
        self._flag_of = np.array(flagged, dtype=np.int64)
        self._flag_at = np.array([numeric[k][2] + 1 for k in flagged], dtype=np.int64)

    def encode(self, rows: Sequence[tuple]) -> EncodedTable:
        """The EncodedTable for prepared records, laid out as TableEncoder.transform lays it out."""
        if self.whole_table:
            return self.table.transform(pd.DataFrame([dict(zip(self.names, row)) for row in rows]), strict=True)
        n = len(rows)
        out: EncodedTable = {}
        categorical: list[np.ndarray] = []
        for j, column in enumerate(self.columns):
            if column.kind == "categorical":
                categorical.append(column.block([row[j] for row in rows]))  # (N,)
            elif column.kind == "text":
                ids, weights = column.block([row[j] for row in rows])
                out[f"text:{column.name}"] = torch.from_numpy(ids)  # (N, L)
                out[f"text_w:{column.name}"] = torch.from_numpy(weights)  # (N, L)
            elif column.kind == "image":
                out[f"image:{column.name}"] = torch.from_numpy(column.block([row[j] for row in rows]))  # (N, C, H, W)
        if self._dense_width:
            dense = np.empty((n, self._dense_width), dtype=np.float32)  # (N, D)
            if self._numeric_rows is not None:
                picked = [self._numeric_rows(row) for row in rows]
                raw = np.array([[v] for v in picked] if self._numeric_single else picked, dtype=np.float64)  # (N, k)
                missing = np.isnan(raw)
                z = (np.where(missing, self._numeric_median, raw) - self._numeric_mean) / self._numeric_std
                dense[:, self._numeric_at] = np.clip(z, -NUMERIC_MAX_ABS_Z, NUMERIC_MAX_ABS_Z)  # as NumericEncoder clips
                if len(self._flag_of):
                    dense[:, self._flag_at] = missing[:, self._flag_of]
            for j, column, start, stop in self._dense_blocks:
                dense[:, start:stop] = column.block([row[j] for row in rows])  # (N, d_col)
            out["dense"] = torch.from_numpy(dense)
        if categorical:
            out["categorical"] = torch.from_numpy(np.ascontiguousarray(np.stack(categorical, axis=1)))  # (N, K)
        return out

    def _check_fast_paths(self) -> list[str]:
        """Compare the fast numeric / categorical paths with the encoders on probe values; fall back where they differ."""
        fallbacks = []
        for column in self.columns:
            if column.kind == "numeric":
                far = column.mean + 3 * NUMERIC_MAX_ABS_Z * column.std  # beyond the encoder's clipping
                probes = [0.0, -2.5, 1234.5678, None, 3, column.median, far, -far]
            elif column.kind == "categorical":
                vocabulary = list(column.encoder.vocabulary[:3])
                probes = [*vocabulary, None, "  ", "never seen in training", 3, 3.0, True]
            else:
                continue
            prepared = [column.prepare(v) for v in probes]
            for value, ready in zip(probes, prepared):
                expected = np.asarray(column.encoder.transform(pd.Series([value]), strict=True))
                got = np.asarray(column.block([ready]))
                if expected.shape != got.shape or not np.allclose(expected, got, rtol=0, atol=1e-6, equal_nan=True):
                    column.fast = False
                    fallbacks.append(column.name)
                    log.warning(
                        "Column '%s': the server's fast %s encoding differs from the bundle's encoder for %r; "
                        "using the encoder (slower).",
                        column.name,
                        column.kind,
                        value,
                    )
                    break
        self._plan()
        if self._dense_width != len(self.table.dense_names):
            raise SchemaError(f"The server's dense layout has {self._dense_width} features; the encoder's has {len(self.table.dense_names)}.")
        return fallbacks

    # --- description -----------------------------------------------------------------------------
    def record_schema(self) -> dict[str, Any]:
        """JSON Schema of one record: a property per column, the model's inputs required."""
        properties = {c.name: c.schema() for c in self.columns}
        for name in sorted(self.known - set(self.names)):
            note = "The row id; echoed in the response." if name == self.id_column else "Known to the bundle's schema but not read by the model; ignored."
            properties[name] = {"title": name, "description": note, "type": ["string", "number", "boolean", "null"]}
        schema: dict[str, Any] = {"type": "object", "title": "Record", "properties": properties, "required": list(self.names)}
        if self.extra_fields == "forbid":
            schema["additionalProperties"] = False
        return schema
