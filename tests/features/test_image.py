from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from traincraft.errors import SchemaError
from traincraft.features.image import ImageEncoder
from traincraft.recipe import ImageConfig


def png(path: Path, mode: str, value, size=(12, 10)) -> str:
    Image.new(mode, size, value).save(path)
    return str(path)


@pytest.fixture()
def gray_paths(tmp_path) -> list[str]:
    return [png(tmp_path / f"g{i}.png", "L", 40 * i) for i in range(4)]


@pytest.fixture()
def rgb_path(tmp_path) -> str:
    return png(tmp_path / "rgb.png", "RGB", (255, 0, 10))


def test_auto_mode_is_grayscale_when_every_training_image_is(gray_paths):
    enc = ImageEncoder("img", ImageConfig(size=8)).fit(pd.Series(gray_paths))
    assert enc.mode == "L" and enc.channels == 1
    out = enc.transform(pd.Series(gray_paths))
    assert out.shape == (4, 1, 8, 8) and out.dtype == np.float32
    # standardised with these very images: mean 0, std 1
    assert out.mean() == pytest.approx(0.0, abs=1e-5)
    assert out.std() == pytest.approx(1.0, abs=1e-4)
    np.testing.assert_allclose(enc.mean, [np.mean([0, 40, 80, 120]) / 255], rtol=1e-6)


def test_auto_mode_is_rgb_when_any_training_image_is_colour(gray_paths, rgb_path):
    enc = ImageEncoder("img", ImageConfig(size=8)).fit(pd.Series(gray_paths + [rgb_path]))
    assert enc.mode == "RGB"
    out = enc.transform(pd.Series([rgb_path, gray_paths[0]]))
    assert out.shape == (2, 3, 8, 8)
    assert out[0, 0].mean() > out[0, 1].mean()  # red channel brighter than green for the red image


def test_forced_channels(gray_paths, rgb_path):
    gray = ImageEncoder("img", ImageConfig(size=8, channels="grayscale")).fit(pd.Series([rgb_path] + gray_paths))
    assert gray.transform(pd.Series([rgb_path])).shape == (1, 1, 8, 8)
    rgb = ImageEncoder("img", ImageConfig(size=8, channels="rgb")).fit(pd.Series(gray_paths))
    assert rgb.transform(pd.Series(gray_paths)).shape == (4, 3, 8, 8)


def test_statistics_come_from_the_training_split_only(gray_paths, tmp_path):
    enc = ImageEncoder("img", ImageConfig(size=8)).fit(pd.Series(gray_paths))
    mean, std = list(enc.mean), list(enc.std)
    white = png(tmp_path / "white.png", "L", 255)
    enc.transform(pd.Series([white, white]))
    assert (enc.mean, enc.std) == (mean, std)


def test_unreadable_path_is_an_error_naming_row_column_and_value(gray_paths, tmp_path):
    enc = ImageEncoder("photo", ImageConfig(size=8)).fit(pd.Series(gray_paths))
    not_image = tmp_path / "notes.txt"
    not_image.write_text("hello")
    data = pd.Series([gray_paths[0], str(not_image), str(tmp_path / "gone.png")], index=[5, 6, 7])
    with pytest.raises(SchemaError, match=r"Column 'photo' should hold paths of readable image files, but row 6 holds '.*notes\.txt' \(2 such values; also row 7: '.*gone\.png'\)"):
        enc.transform(data)


def test_missing_and_unreadable_give_the_mean_image_when_not_strict(gray_paths, tmp_path):
    enc = ImageEncoder("img", ImageConfig(size=8)).fit(pd.Series(gray_paths))
    out = enc.transform(pd.Series([None, str(tmp_path / "gone.png"), gray_paths[3]]), strict=False)
    assert not out[0].any() and not out[1].any() and out[2].any()
    with pytest.raises(SchemaError, match="gone.png"):
        enc.transform(pd.Series([str(tmp_path / "gone.png")]))


def test_no_training_images_is_an_error():
    with pytest.raises(SchemaError, match=r"Image column 'img' has no images in the training split"):
        ImageEncoder("img").fit(pd.Series([None, None], dtype=object))


def test_unreadable_training_image_is_an_error(tmp_path):
    with pytest.raises(SchemaError, match=r"row 0 holds .*missing\.png.*data\.columns\.img\.type"):
        ImageEncoder("img").fit(pd.Series([str(tmp_path / "missing.png")]))


def test_json_round_trip_gives_identical_transforms(gray_paths, rgb_path):
    enc = ImageEncoder("img", ImageConfig(size=8)).fit(pd.Series(gray_paths + [rgb_path]))
    back = ImageEncoder.from_json(json.loads(json.dumps(enc.to_json())))
    data = pd.Series([rgb_path, None, gray_paths[1]], dtype=object)
    np.testing.assert_array_equal(enc.transform(data), back.transform(data))
