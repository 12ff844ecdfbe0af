"""Plant outliers in a real table: scikit-learn's breast cancer measurements (569 rows, 30 numeric columns).

A share of the rows (5%, 28 rows, chosen with the seed) each get a few of their measurements (3 of
30, chosen per row) multiplied by a factor drawn uniformly from 3 to 5: what a unit mix-up or a
slipped decimal point does to a record. Every other value is the real measurement. The column
``planted`` marks the changed rows (1) so the detector can be scored; the recipe keeps it out of the
features. The diagnosis column is dropped: the detector sees measurements only.

    python examples/anomaly/plant_outliers.py          # writes examples/anomaly/breast_cancer_planted.csv
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

SHARE = 0.05  # share of rows changed
COLUMNS_PER_ROW = 3  # measurements changed in each of those rows
FACTOR = (3.0, 5.0)  # each changed value is multiplied by a factor drawn uniformly from this range
OUTPUT = Path(__file__).with_name("breast_cancer_planted.csv")


def planted_table(seed: int = 0, *, share: float = SHARE, columns_per_row: int = COLUMNS_PER_ROW,
                  factor: tuple[float, float] = FACTOR) -> pd.DataFrame:
    """The breast cancer measurements with planted outliers and a 0/1 ``planted`` column."""
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer()
    frame = pd.DataFrame(bunch.data, columns=[str(c) for c in bunch.feature_names])
    rng = np.random.default_rng(seed)
    n_rows = round(share * len(frame))
    rows = np.sort(rng.choice(len(frame), size=n_rows, replace=False))
    values = frame.to_numpy(copy=True)
    for row in rows:
        cols = rng.choice(values.shape[1], size=columns_per_row, replace=False)
        values[row, cols] *= rng.uniform(*factor, size=columns_per_row)
    out = pd.DataFrame(values, columns=frame.columns)
    out["planted"] = 0
    out.loc[rows, "planted"] = 1
    return out


def main(path: Path = OUTPUT) -> Path:
    table = planted_table()
    table.to_csv(path, index=False)
    print(f"wrote {path}: {len(table)} rows, {int(table['planted'].sum())} planted outliers")
    return path


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUTPUT)
