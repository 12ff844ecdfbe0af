"""The data layer: read tables, infer their schema, split them. It knows no torch.

    read_table / read_chunks / write_table / from_arrays    data/readers.py
    Schema, ColumnSchema, infer_schema, labelled_rows       data/schema.py
    Splits, make_splits, cross_validation_fold              data/split.py
"""

from traincraft.data.readers import FORMATS, from_arrays, read_chunks, read_table, write_table
from traincraft.data.schema import ROLES, TASKS, TYPES, ColumnSchema, Schema, infer_schema, labelled_rows
from traincraft.data.split import METHODS, SPLITS, Splits, cross_validation_fold, make_splits

__all__ = [
    "FORMATS",
    "METHODS",
    "ROLES",
    "SPLITS",
    "TASKS",
    "TYPES",
    "ColumnSchema",
    "Schema",
    "Splits",
    "from_arrays",
    "infer_schema",
    "labelled_rows",
    "make_splits",
    "cross_validation_fold",
    "read_chunks",
    "read_table",
    "write_table",
]
