"""The real UCI Adult census data, read from the copy in tests/evaluation/data/adult (see its README)."""

from __future__ import annotations

import hashlib
import lzma
from pathlib import Path

import pandas as pd

DATA = Path(__file__).parent / "data" / "adult"
COLUMNS = [
    "age", "workclass", "fnlwgt", "education", "education_num", "marital_status", "occupation",
    "relationship", "race", "sex", "capital_gain", "capital_loss", "hours_per_week", "native_country", "income",
]
SHA256 = {
    "adult.data": "5b00264637dbfec36bdeaab5676b0b309ff9eb788d63554ca0a249491c86603d",
    "adult.test": "a2a9044bc167a35b2361efbabec64e89d69ce82d9790d2980119aac5fd7e9c05",
}


def raw_bytes(name: str) -> bytes:
    return lzma.decompress((DATA / f"{name}.xz").read_bytes())


def adult_frame(which: str = "adult.data") -> pd.DataFrame:
    """The file as a table: stripped strings, ``?`` as missing, income without the test file's trailing dot."""
    raw = raw_bytes(which)
    assert hashlib.sha256(raw).hexdigest() == SHA256[which], f"{which} is not the UCI original"
    frame = pd.read_csv(
        DATA / f"{which}.xz", names=COLUMNS, skipinitialspace=True, na_values="?",
        skiprows=1 if which == "adult.test" else 0, compression="xz",
    )
    frame["income"] = frame["income"].str.rstrip(".")
    return frame
