from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from traincraft.errors import DataError
from traincraft.features.labels import LabelCodec


def roundtrip(codec: LabelCodec) -> LabelCodec:
    return LabelCodec.from_json(json.loads(json.dumps(codec.to_json())))


def test_string_classes_sorted_and_encoded():
    codec = LabelCodec.fit(pd.Series(["spam", "ham", "ham"], name="label"), "binary")
    assert codec.classes == ["ham", "spam"] and codec.out_dim == 2
    encoded = codec.encode(pd.Series(["spam", "ham"]))
    assert encoded.dtype == torch.int64 and encoded.tolist() == [1, 0]
    assert codec.decode(torch.tensor([1, 0, 1])).tolist() == ["spam", "ham", "spam"]


def test_integer_classes_stay_integers_through_json():
    codec = LabelCodec.fit(pd.Series(np.array([10, 2, 2, 33], dtype=np.int64)), "multiclass")
    assert codec.classes == [2, 10, 33]
    back = roundtrip(codec)
    assert back.classes == [2, 10, 33] and all(type(c) is int for c in back.classes)
    decoded = back.decode(np.array([2, 0]))
    assert decoded.tolist() == [33, 2] and decoded.dtype == np.int64


def test_encode_matches_other_spellings_of_a_class():
    codec = LabelCodec.fit(pd.Series([0, 1, 1]), "binary")
    assert codec.encode(pd.Series([1.0, "0"], dtype=object)).tolist() == [1, 0]


def test_unknown_label_is_an_error_naming_it():
    codec = LabelCodec.fit(pd.Series(["cat", "dog"], name="animal"), "binary")
    with pytest.raises(DataError, match=r"Label column 'animal' holds 'bird' \(first at row 1\), not seen in training\. Known classes: 'cat', 'dog'"):
        codec.encode(pd.Series(["cat", "bird"]))


def test_missing_label_is_an_error():
    with pytest.raises(DataError, match=r"Label column 'y' has 1 missing value\(s\), first at row 'b'"):
        LabelCodec.fit(pd.Series(["a", None, "b"], index=["a", "b", "c"], name="y"), "binary")


def test_single_class_is_an_error():
    with pytest.raises(DataError, match=r"has a single class \('yes'\)"):
        LabelCodec.fit(pd.Series(["yes", "yes"]), "binary")


def test_binary_with_three_classes_is_an_error():
    with pytest.raises(DataError, match=r"The task is binary but the label column has 3 classes.*multiclass"):
        LabelCodec.fit(pd.Series(["a", "b", "c"]), "binary")


def test_regression_is_standardised_and_decoded_back():
    codec = LabelCodec.fit(pd.Series([10.0, 20.0, 30.0], name="price"), "regression")
    assert codec.out_dim == 1 and codec.classes == []
    encoded = codec.encode(pd.Series([20.0, 30.0]))
    assert encoded.dtype == torch.float32
    assert encoded[0].item() == pytest.approx(0.0)
    np.testing.assert_allclose(roundtrip(codec).decode(encoded), [20.0, 30.0], rtol=1e-6)


def test_regression_uses_training_statistics_only():
    codec = LabelCodec.fit(pd.Series([0.0, 2.0]), "regression")
    codec.encode(pd.Series([1000.0]))
    assert (codec.mean, codec.std) == (1.0, 1.0)


def test_regression_label_that_is_not_a_number_is_an_error():
    with pytest.raises(DataError, match=r"Regression needs numbers in label column 'price', but row 1 holds 'cheap'"):
        LabelCodec.fit(pd.Series(["1.5", "cheap"], name="price"), "regression")


def test_unknown_task_and_bad_index_are_errors():
    with pytest.raises(DataError, match=r"LabelCodec needs a task in binary, multiclass, regression; got 'clustering'"):
        LabelCodec("clustering")
    codec = LabelCodec.fit(pd.Series(["a", "b"]), "binary")
    with pytest.raises(DataError, match=r"Class index out of range: indices must be in 0\.\.1"):
        codec.decode(np.array([2]))
