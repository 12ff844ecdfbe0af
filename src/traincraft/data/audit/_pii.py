"""Personal data in text: find it (audit) and replace it with typed placeholders (prepare's ``redact``).

Kinds and how a match is confirmed (a pattern alone flags too much):

    SECRET_URL   a URL with ``user:password@`` or a token-like query parameter (token, key, sig, ...)
    EMAIL        local@domain.tld
    IBAN         2 letters, 2 check digits, 11-30 letters/digits; the ISO 13616 mod-97 checksum must be 1
    CARD         13-19 digits (spaces or dashes allowed); the Luhn checksum must hold
    NATIONAL_ID  US SSN (not area 000/666/9xx, group 00, serial 0000) and UK National Insurance numbers
    IP           IPv4 (each octet <= 255) and IPv6, validated by :mod:`ipaddress`
    PHONE        an optional +country code and 9-15 digits in groups (E.164 allows at most 15)

Kinds are applied in that order and each match is replaced before the next kind looks, so the
digits of a card are never counted again as a phone. Rows are pre-filtered with one vectorised
pyarrow (RE2) regex per kind; only rows that may hold something go through Python.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["KINDS", "PLACEHOLDERS", "PiiMatch", "scan", "redact_text", "candidate_rows", "mask_value", "luhn_ok", "iban_ok"]

KINDS = ("SECRET_URL", "EMAIL", "IBAN", "CARD", "NATIONAL_ID", "IP", "PHONE")
PLACEHOLDERS = {k: f"<{k}>" for k in KINDS}

_SECRET_PARAMS = (
    "access_token|refresh_token|id_token|token|api_key|apikey|api-key|key|secret|client_secret|password|passwd|pwd"
    "|sig|signature|auth|authorization|session|sessionid|sid|x-amz-signature|x-amz-credential"
)
_PATTERNS: dict[str, re.Pattern[str]] = {
    "SECRET_URL": re.compile(
        r"\b[a-zA-Z][a-zA-Z0-9+.-]*://(?:[^\s/:@]+:[^\s/@]+@[^\s]+"
        rf"|[^\s?#]+\?(?:[^\s#]*&)?(?:{_SECRET_PARAMS})=[^\s&#]+[^\s]*)",
        re.IGNORECASE,
    ),
    "EMAIL": re.compile(r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}\b"),
    "IBAN": re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,30}(?![A-Za-z0-9])"),
    "CARD": re.compile(r"(?<![\d.-])\d(?:[ -]?\d){12,18}(?![\d])"),
    "NATIONAL_ID": re.compile(
        r"(?<![\w-])(?:(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}"
        r"|[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D])(?![\w-])"
    ),
    "IP": re.compile(
        r"(?<![\w.:])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?![\w.]|:\w)"
        r"|(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])"
    ),
    "PHONE": re.compile(r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,5}\)[ .-]?)?\d{2,5}(?:[ .-]?\d{2,5}){1,5}(?![\w])"),
}
# RE2 (pyarrow) pre-filters: a superset of rows that may hold each kind; no look-arounds in RE2
_PREFILTERS = {
    "SECRET_URL": r"://",
    "EMAIL": r"@",
    "IBAN": r"[A-Z]{2}\d{2}",
    "CARD": r"\d(?:[ -]?\d){12}",
    "NATIONAL_ID": r"\d{3}-\d{2}-\d{4}|[A-Za-z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-Da-d]",
    "IP": r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}|[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:",
    "PHONE": r"\d(?:[ .()+-]*\d){8}",
}


def luhn_ok(digits: str) -> bool:
    """The Luhn (mod 10) checksum of a payment card number."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban_ok(text: str) -> bool:
    """ISO 13616: move the first four characters to the end, letters to 10..35, the number mod 97 is 1."""
    s = text.replace(" ", "").upper()
    if not 15 <= len(s) <= 34 or not s[:2].isalpha() or not s[2:4].isdigit():
        return False
    moved = s[4:] + s[:4]
    number = "".join(str(int(ch, 36)) for ch in moved)
    return int(number) % 97 == 1


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _valid_card(m: str) -> bool:
    d = _digits(m)
    return 13 <= len(d) <= 19 and luhn_ok(d) and len(set(d)) > 1


def _valid_ip(m: str) -> bool:
    try:
        ipaddress.ip_address(m)
    except ValueError:
        return False
    return "." in m or m.count(":") >= 2


def _valid_phone(m: str) -> bool:
    d = _digits(m)
    return 9 <= len(d) <= 15 and len(set(d)) > 1


_VALIDATORS: dict[str, Callable[[str], bool]] = {
    "SECRET_URL": lambda m: True,
    "EMAIL": lambda m: True,
    "IBAN": iban_ok,
    "CARD": _valid_card,
    "NATIONAL_ID": lambda m: True,
    "IP": _valid_ip,
    "PHONE": _valid_phone,
}


@dataclass(frozen=True)
class PiiMatch:
    kind: str
    value: str


def redact_text(text: str, kinds: tuple[str, ...] = KINDS) -> tuple[str, list[PiiMatch]]:
    """``text`` with each confirmed match replaced by its placeholder, and the matches found."""
    found: list[PiiMatch] = []
    for kind in KINDS:
        if kind not in kinds:
            continue
        pattern, valid = _PATTERNS[kind], _VALIDATORS[kind]

        def replace(m: re.Match[str], kind: str = kind, valid: Callable[[str], bool] = valid) -> str:
            value = m.group(0)
            if kind == "SECRET_URL":
                value = value.rstrip(".,;:!?)]}'\"")
                tail = m.group(0)[len(value):]
                found.append(PiiMatch(kind, value))
                return PLACEHOLDERS[kind] + tail
            if not valid(value):
                return value
            found.append(PiiMatch(kind, value))
            return PLACEHOLDERS[kind]

        text = pattern.sub(replace, text)
    return text, found


def scan(text: str, kinds: tuple[str, ...] = KINDS) -> list[PiiMatch]:
    return redact_text(text, kinds)[1]


def candidate_rows(arr: pa.Array, kinds: tuple[str, ...] = KINDS) -> np.ndarray:
    """Positions of the rows that may hold any of ``kinds`` (a vectorised superset)."""
    if len(arr) == 0:
        return np.empty(0, np.int64)
    pattern = "|".join(f"(?:{_PREFILTERS[k]})" for k in kinds)
    hit = pc.fill_null(pc.match_substring_regex(arr, pattern), False)
    return np.flatnonzero(hit.to_numpy(zero_copy_only=False))


def mask_value(value: str) -> str:
    """Shown on screen instead of the value: first and last character, the rest as '*'."""
    if len(value) <= 4:
        return "*" * len(value)
    keep = 2 if len(value) > 10 else 1
    return value[:keep] + "*" * (len(value) - 2 * keep) + value[-keep:]
