"""Audit throughput: exact + near duplicates + personal data + missing values on 1,000,000 short texts.

    python benchmarks/audit_throughput.py [--rows 1000000] [--baseline-rows 20000]

The texts are the planted near-duplicate corpus of ``near_duplicates.py`` (5% near copies) with 2%
exact copies, 1% of rows carrying an e-mail / phone / card and 1% empty. Prints the audit's wall
time and rows/s (target: <= 60 s for a million rows on 2 cores) beside plain datasketch MinHash
LSH (word 3-shingles, threshold 0.7, 128 permutations) measured on ``--baseline-rows`` of the same
texts in the same run (it is pure Python and linear in rows; its rows/s is what it would sustain).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from near_duplicates import datasketch_pairs, planted_corpus  # noqa: E402

from traincraft.data.audit import audit  # noqa: E402

CHECKS = ["exact_duplicates", "near_duplicates", "personal_data", "missing_values"]


def corpus(n: int, seed: int = 0) -> pd.DataFrame:
    texts, _ = planted_corpus(n, seed=seed)
    rng = np.random.default_rng(seed + 1)
    texts = np.array(texts, dtype=object)
    copies = rng.choice(n, int(0.02 * n), replace=False)
    texts[copies] = texts[rng.choice(n, len(copies))]
    pii = rng.choice(n, int(0.01 * n), replace=False)
    values = np.array(["write to anna.smith@example.com", "call +44 7700 900123", "card 4111 1111 1111 1111"], dtype=object)
    texts[pii] = texts[pii] + " " + values[np.arange(len(pii)) % 3]
    texts[rng.choice(n, int(0.01 * n), replace=False)] = None
    return pd.DataFrame({"text": pd.Series(texts, dtype="str")})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--baseline-rows", type=int, default=20_000)
    args = ap.parse_args()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    df = corpus(args.rows)
    print(f"{len(df):,} rows, {cores} usable cores, checks: {', '.join(CHECKS)}")

    started, cpu = time.perf_counter(), time.process_time()
    report = audit(df, checks=CHECKS)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    for f in report.findings:
        print(f"  {f.check:18s} {f.count:>9,}  {f.message[:90]}")
    print("  seconds per check: " + ", ".join(f"{k} {v:.1f}" for k, v in report.seconds.items()))
    print(f"traincraft audit  {wall:6.1f} s wall, {cpu:6.1f} s cpu  {len(df) / wall:>10,.0f} rows/s  ({'within' if wall <= 60 else 'OVER'} the 60 s target)")

    sample = df["text"].dropna().tolist()[: args.baseline_rows]
    started = time.perf_counter()
    datasketch_pairs(sample)
    base = time.perf_counter() - started
    print(f"datasketch LSH    {base:6.1f} s wall on {len(sample):,} rows  {len(sample) / base:>10,.0f} rows/s  (near duplicates only)")
    print(f"speed ratio       x{(len(df) / wall) / (len(sample) / base):.1f}")


if __name__ == "__main__":
    main()
