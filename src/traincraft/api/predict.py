"""``predict_file``: stream a large table through a bundle in chunks and write predictions atomically."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from traincraft._util.atomic import atomic_write_with
from traincraft._util.suggest import did_you_mean
from traincraft.data import read_chunks
from traincraft.errors import BundleError, DataError
from traincraft.api.evaluate import training_read_options
from traincraft.serving import AnomalyPredictor, ClusterPredictor, Predictor, load

__all__ = ["predict_file", "OUTPUT_FORMATS"]

log = logging.getLogger(__name__)

OUTPUT_FORMATS = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}
DEFAULT_CHUNK_ROWS = 50_000  # rows per chunk: bounded memory, and large enough to amortise a forward pass


def predict_file(
    bundle: str | Path | Predictor,
    data: str | Path,
    output: str | Path,
    *,
    chunksize: int = DEFAULT_CHUNK_ROWS,
    overwrite: bool = False,
    on_chunk: Callable[[int], None] | None = None,
    id_column: str | None = None,
    **read_options: Any,
) -> dict[str, Any]:
    """Predict every row of ``data`` chunk by chunk into ``output`` (CSV, TSV, Parquet or JSONL).

    Memory holds one chunk (``chunksize`` rows) at a time. The bundle's id column, or
    ``id_column`` when given, is copied from the input into the first column of the output.
    """
    predictor = bundle if isinstance(bundle, (Predictor, ClusterPredictor, AnomalyPredictor)) else load(bundle)
    if predictor.task == "rl":
        raise BundleError(
            f"{predictor.path} is a policy (task: rl); it acts on observations, not table rows. Run it with traincraft play, "
            "or call traincraft.load(bundle).predict(observations) in Python."
        )
    data, output = Path(data), Path(output)
    fmt = OUTPUT_FORMATS.get(output.suffix.lower())
    if fmt is None:
        raise DataError(f"Cannot write predictions to {output}: use a .csv, .tsv, .parquet or .jsonl file name.")
    if output.exists() and data.exists() and output.resolve() == data.resolve():
        raise DataError(f"The output {output} is the input file; choose another name so the input is not overwritten.")
    if output.exists() and not overwrite:
        raise DataError(f"{output} already exists; choose another file name or pass --overwrite to replace it.")
    options = training_read_options(predictor, data, **read_options)  # a headerless file like the training one gets its names
    rows = 0

    def write(tmp: Path) -> None:
        nonlocal rows
        writer = _Writer(tmp, fmt)
        try:
            for chunk in read_chunks(data, chunksize=chunksize, **options):
                out = predictor.predict(chunk)
                if id_column is not None and id_column not in out.columns:
                    if id_column not in chunk.columns:
                        raise DataError(
                            f"The id column '{id_column}' is not in {data.name}. Columns: {', '.join(map(str, chunk.columns[:20]))}."
                            f"{did_you_mean(id_column, [str(c) for c in chunk.columns])}"
                        )
                    out.insert(0, id_column, chunk[id_column])
                writer.write(out)
                rows += len(out)
                if on_chunk:
                    on_chunk(rows)
        finally:
            writer.close()

    atomic_write_with(output, write)
    log.info("wrote %d predictions to %s", rows, output)
    return {"bundle": str(predictor.path), "input": str(data), "output": str(output), "rows": rows}


class _Writer:
    """Appends prediction chunks to one CSV / TSV / JSONL / Parquet file."""

    def __init__(self, path: Path, fmt: str) -> None:
        self.path, self.fmt = path, fmt
        self._parquet = None
        self._file = None if fmt == "parquet" else open(path, "w", encoding="utf-8", newline="")
        self._first = True

    def write(self, frame: pd.DataFrame) -> None:
        if self.fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(frame.reset_index(drop=True), preserve_index=False)
            if self._parquet is None:
                self._parquet = pq.ParquetWriter(str(self.path), table.schema)
            self._parquet.write_table(table.cast(self._parquet.schema))
        elif self.fmt == "jsonl":
            for record in frame.to_dict(orient="records"):
                self._file.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        else:
            frame.to_csv(self._file, sep="\t" if self.fmt == "tsv" else ",", index=False, header=self._first)
        self._first = False

    def close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
        elif self._file is not None:
            if self._first and self.fmt != "jsonl":
                self._file.write("")
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
