"""Features: encoders fitted on the training split only, serialised to JSON, that turn tables into tensors.

One module per column type (``numeric``, ``boolean``, ``categorical``, ``text``, ``image``,
``datetime``), each encoder with ``fit`` / ``transform`` / ``to_json`` / ``from_json``;
:class:`TableEncoder` combines them into an :data:`EncodedTable`; :class:`LabelCodec` maps the
label column to what the loss sees and back.
"""

from traincraft.features.boolean import BooleanEncoder
from traincraft.features.categorical import CategoricalEncoder
from traincraft.features.datetime import DatetimeEncoder
from traincraft.features.image import ImageEncoder
from traincraft.features.labels import LabelCodec
from traincraft.features.numeric import NumericEncoder
from traincraft.features.table import EncodedTable, TableEncoder, categorical_embedding_dim
from traincraft.features.text import TextEncoder

__all__ = [
    "BooleanEncoder",
    "CategoricalEncoder",
    "DatetimeEncoder",
    "EncodedTable",
    "ImageEncoder",
    "LabelCodec",
    "NumericEncoder",
    "TableEncoder",
    "TextEncoder",
    "categorical_embedding_dim",
]
