"""Peak memory of ``traincraft predict`` over a ~1 GB CSV, measured by GNU ``/usr/bin/time -v``.

The CSV is breast cancer's 569 real rows (30 numeric columns) tiled with 1% noise, plus a
``row_id`` column, written here in 50,000-row pieces (the generator itself stays small) until it
reaches ``--gb`` gigabytes. ``traincraft predict BUNDLE data.csv -o predictions.csv --json`` then
runs as its own process under ``/usr/bin/time -v``; its "Maximum resident set size" is the peak
RSS. The row count of the output is checked, and both files are deleted at the end (also on
failure or Ctrl-C). ``apt-get install time`` provides GNU time where it is missing.

Target: peak RSS < 1 GB (10^9 bytes).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
GNU_TIME = "/usr/bin/time"
PIECE_ROWS = 50_000  # rows generated and written at a time
LIMIT_BYTES = 10**9


def write_csv(path: Path, gigabytes: float) -> int:
    """Write ``row_id`` + 30 columns until the file holds ``gigabytes``; return the rows written.

    One noisy 50,000-row piece is formatted once; each repetition gets fresh row ids.
    """
    from sklearn.datasets import load_breast_cancer

    base = load_breast_cancer(as_frame=True).frame.drop(columns=["target"])
    tiled = pd.concat([base] * -(-PIECE_ROWS // len(base)), ignore_index=True).iloc[:PIECE_ROWS]
    piece = tiled * np.random.default_rng(0).normal(1.0, 0.01, size=tiled.shape)
    header, *lines = piece.to_csv(index=False, float_format="%.6g").splitlines()
    rows = 0
    target = gigabytes * 1e9
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(f"row_id,{header}\n")
        while f.tell() < target:
            f.write("".join(f"{rows + i},{line}\n" for i, line in enumerate(lines)))
            rows += len(lines)
    return rows


def peak_rss_kb(report: str) -> int:
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", report)
    if not match:
        raise SystemExit(f"GNU time printed no 'Maximum resident set size':\n{report[-2000:]}")
    return int(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", help="a breast-cancer bundle (default: train one here)")
    parser.add_argument("--gb", type=float, default=1.0, help="size of the generated CSV in GB")
    parser.add_argument("--chunksize", type=int, default=50_000, help="traincraft predict --chunksize")
    parser.add_argument("--workdir", default=None, help="where the CSV is written (default: a temporary folder)")
    parser.add_argument("--timeout", type=float, default=1800.0)
    args = parser.parse_args()
    if not Path(GNU_TIME).exists():
        raise SystemExit(f"{GNU_TIME} is missing; install GNU time (apt-get install time).")

    with tempfile.TemporaryDirectory(prefix="predict-memory-", dir=args.workdir) as tmp:
        folder = Path(tmp)
        bundle = args.bundle
        if bundle is None:
            import traincraft as tc

            bundle = str(tc.train(ROOT / "examples" / "tabular" / "recipe.yaml", recipe={"train": {"epochs": 3}}, runs_dir=folder / "runs").bundle_dir)
        data, output = folder / "data.csv", folder / "predictions.csv"
        start = time.perf_counter()
        rows = write_csv(data, args.gb)
        size = data.stat().st_size
        print(f"wrote {data.name}: {size / 1e9:.2f} GB, {rows:,} rows x 31 columns in {time.perf_counter() - start:.0f} s")
        command = [GNU_TIME, "-v", sys.executable, "-m", "traincraft", "predict", bundle, str(data), "-o", str(output), "--chunksize", str(args.chunksize), "--json"]
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        load = os.getloadavg()
        print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; running: traincraft predict ... --chunksize {args.chunksize}")
        done = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout, env=env)
        if done.returncode != 0:
            raise SystemExit(f"traincraft predict failed ({done.returncode}):\n{done.stderr[-3000:]}")
        result = json.loads(done.stdout)
        peak = peak_rss_kb(done.stderr)
        wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", done.stderr)
        cpu_user = re.search(r"User time \(seconds\): (\S+)", done.stderr)
        with open(output, "rb") as f:
            written = sum(1 for _ in f) - 1  # minus the header
        print(f"predicted {result['rows']:,} rows ({written:,} lines written) in {wall.group(1) if wall else '?'} wall, {cpu_user.group(1) if cpu_user else '?'} s user CPU")
        print(f"input {size / 1e9:.2f} GB -> {output.stat().st_size / 1e9:.2f} GB of predictions")
        ok = peak * 1024 < LIMIT_BYTES and result["rows"] == rows == written
        print(f"peak RSS {peak / 1024:.0f} MiB ({peak * 1024 / 1e9:.2f} GB) (target < 1 GB, all rows predicted): {'PASS' if ok else 'FAIL'}")


if __name__ == "__main__":
    main()
