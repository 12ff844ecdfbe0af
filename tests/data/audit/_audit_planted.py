"""Planted data for the audit tests."""

from __future__ import annotations

import numpy as np


def planted_near_copies(n: int, rate: float = 0.05, seed: int = 0) -> tuple[list[str], set[tuple[int, int]]]:
    """``n`` short random texts (Zipf words) of which ``rate`` are copies of another with 1-2 words changed."""
    rng = np.random.default_rng(seed)
    syllables = np.array([c + v + e for c in "bcdfghjklmnprstvwz" for v in "aeiou" for e in ("", "n", "r", "s", "t")])
    vocab = np.unique(["".join(rng.choice(syllables, size=rng.integers(1, 4))) for _ in range(20000)])
    p = 1.0 / np.arange(1, len(vocab) + 1)
    p /= p.sum()
    copies = int(n * rate)
    base = n - copies
    lens = np.clip(rng.lognormal(np.log(13), 0.5, base).astype(int), 6, 40)
    words = vocab[rng.choice(len(vocab), size=lens.sum(), p=p)]
    offs = np.concatenate([[0], np.cumsum(lens)])
    texts = [" ".join(words[offs[i] : offs[i + 1]]) for i in range(base)]
    sources = rng.choice(base, copies, replace=False)
    for s in sources:
        toks = texts[s].split()
        for pos in rng.choice(len(toks), rng.integers(1, 3), replace=False):
            toks[pos] = vocab[rng.choice(len(vocab), p=p)]
        texts.append(" ".join(toks))
    order = rng.permutation(n)
    where = np.empty(n, dtype=np.int64)
    where[order] = np.arange(n)
    shuffled = [texts[i] for i in order]
    pairs = {tuple(sorted((int(where[s]), int(where[base + j])))) for j, s in enumerate(sources)}
    return shuffled, pairs


def luhn_complete(body: str) -> str:
    """``body`` plus the check digit that makes it pass Luhn."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return body + str((10 - total % 10) % 10)


def iban(country: str, bban: str) -> str:
    moved = bban + country + "00"
    number = int("".join(str(int(c, 36)) for c in moved))
    return f"{country}{98 - number % 97:02d}{bban}"


def planted_pii(n: int = 400, seed: int = 0) -> tuple[list[str], list[tuple[int, str, str]]]:
    """Texts with planted personal data; returns (texts, [(row, kind, value)]) including
    Luhn-invalid card numbers as kind 'BAD_CARD'."""
    rng = np.random.default_rng(seed)
    names = ["anna", "ben", "chloe", "dev", "emma", "farid", "gita", "hugo"]
    filler = ["please", "contact", "me", "about", "the", "order", "tomorrow", "thanks", "see", "details", "below"]
    texts, planted = [], []
    for row in range(n):
        kind = ["EMAIL", "PHONE", "CARD", "BAD_CARD", "IBAN", "IP", "NATIONAL_ID", "SECRET_URL", "NONE"][row % 9]
        if kind == "EMAIL":
            value = f"{rng.choice(names)}.{rng.choice(names)}{rng.integers(1, 99)}@{rng.choice(['mail', 'example', 'corp-x'])}.{rng.choice(['com', 'org', 'co.uk'])}"
        elif kind == "PHONE":
            fmt = row // 9 % 5
            d = [str(x) for x in rng.integers(0, 10, 12)]
            value = [f"+44 7700 {''.join(d[:6])}", f"(555) {''.join(d[:3])}-{''.join(d[3:7])}", f"07{''.join(d[:3])} {''.join(d[3:9])}",
                     f"+1-202-555-{''.join(d[:4])}", f"020 {''.join(d[:4])} {''.join(d[4:8])}"][fmt]
        elif kind in ("CARD", "BAD_CARD"):
            prefix = str(rng.choice(["4", "51", "37", "6011"]))
            length = 15 if prefix == "37" else 16
            body = prefix + "".join(str(x) for x in rng.integers(0, 10, length - len(prefix) - 1))
            good = luhn_complete(body)
            digits = good if kind == "CARD" else good[:-1] + str((int(good[-1]) + 1 + int(rng.integers(0, 8))) % 10)
            value = " ".join(digits[i : i + 4] for i in range(0, len(digits), 4)) if row % 2 else digits
        elif kind == "IBAN":
            value = iban("DE", "".join(str(x) for x in rng.integers(0, 10, 18))) if row % 2 else iban("GB", "NWBK" + "".join(str(x) for x in rng.integers(0, 10, 14)))
        elif kind == "IP":
            value = ".".join(str(x) for x in rng.integers(1, 255, 4)) if row % 3 else "2001:db8:85a3::8a2e:370:7334"
        elif kind == "NATIONAL_ID":
            value = f"{rng.integers(100, 665)}-{rng.integers(10, 99)}-{rng.integers(1000, 9999)}" if row % 2 else "AB 12 34 56 C"
        elif kind == "SECRET_URL":
            value = "https://deploy:s3cr3tpw@git.example.com/repo.git" if row % 2 else f"https://api.example.com/v1/items?id=3&token={rng.integers(10**8, 10**9)}abc"
        else:
            value = ""
        words = list(rng.choice(filler, size=6))
        words.insert(int(rng.integers(0, 7)), value)
        texts.append(" ".join(w for w in words if w))
        if value:
            planted.append((row, kind, value))
    return texts, planted
