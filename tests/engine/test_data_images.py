"""Image folders: one sub-folder per class, resize, grey or colour, corrupt images."""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pytest
from PIL import Image

from engine.data import DatasetError, load_file, resources


def make_folder(root, classes=("cat", "dog"), per_class=6, size=(16, 12), fmt="png"):
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    for c, name in enumerate(classes):
        (root / name).mkdir()
        for i in range(per_class):
            pixels = rng.integers(0, 256, (*size[::-1], 3), dtype=np.uint8)
            pixels[..., 0] = 255 * c  # the red channel tells the classes apart
            Image.fromarray(pixels).save(root / name / f"{i}.{fmt}")
    (root / "cat" / "notes.txt").write_text("not an image, ignored")
    return root


@pytest.mark.parametrize("fmt", ["png", "jpg", "bmp"])
def test_grey_images_resized(tmp_path, fmt):
    folder = make_folder(tmp_path / "pets", fmt=fmt)
    seen = []
    ds = load_file(folder, progress=seen.append)
    assert ds.name == "pets" and ds.class_names == ("cat", "dog")
    assert ds.input_kind == "image" and ds.input_shape == (1, 28, 28)
    assert ds.num_train + ds.num_val == 12 and (ds.class_counts("val") > 0).all()
    assert ds.x_train.min() >= 0 and ds.x_train.max() <= 1
    assert seen[-1] == 1.0 and seen == sorted(seen)


def test_colour_and_size_options(tmp_path):
    ds = load_file(make_folder(tmp_path / "p"), size=8, colour=True, val_fraction=0.0)
    assert ds.input_shape == (3, 8, 8)
    red = ds.x_train[:, 0].mean(axis=(1, 2))
    np.testing.assert_allclose(red[ds.y_train == 1], 1.0, atol=1e-6)
    np.testing.assert_allclose(red[ds.y_train == 0], 0.0, atol=1e-6)


def test_palette_image_with_transparency_loads_without_warning(tmp_path):
    folder = make_folder(tmp_path / "p")
    image = Image.new("P", (10, 10))
    image.info["transparency"] = b"\x00" * 256
    image.save(folder / "dog" / "pal.png", transparency=b"\x00" * 256)
    assert load_file(folder).num_train + load_file(folder).num_val == 13


def test_corrupt_image_is_skippable(tmp_path):
    folder = make_folder(tmp_path / "p")
    bad = folder / "dog" / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    with pytest.raises(DatasetError) as info:
        load_file(folder)
    assert "1 of the 13 images" in str(info.value) and "broken.png" in str(info.value)
    assert info.value.skippable == [str(bad)]
    ds = load_file(folder, skip_corrupt=True)
    assert ds.num_train + ds.num_val == 12 and ds.skipped == (str(bad),)


def test_truncated_jpeg_is_reported(tmp_path):
    folder = make_folder(tmp_path / "p", fmt="jpg", size=(64, 64))
    victim = folder / "cat" / "0.jpg"
    victim.write_bytes(victim.read_bytes()[:200])
    with pytest.raises(DatasetError) as info:
        load_file(folder)
    assert info.value.skippable == [str(victim)]


def test_all_corrupt_cannot_be_skipped(tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "x.png").write_bytes(b"nope")
    with pytest.raises(DatasetError, match="None of the 2 images") as info:
        load_file(tmp_path, skip_corrupt=True)
    assert info.value.skippable == []


def test_empty_class_folder(tmp_path):
    folder = make_folder(tmp_path / "p")
    (folder / "bird").mkdir()
    with pytest.raises(DatasetError, match="class folder .*bird' holds no PNG"):
        load_file(folder)


def test_only_one_class(tmp_path):
    folder = make_folder(tmp_path / "p", classes=("cat",))
    with pytest.raises(DatasetError, match="at least two sub-folders"):
        load_file(folder)


def test_single_image_picked(tmp_path):
    folder = make_folder(tmp_path / "p")
    with pytest.raises(DatasetError, match="single image"):
        load_file(folder / "cat" / "0.png")


@pytest.mark.parametrize("size", [0, 2, 5000, "big"])
def test_bad_size(tmp_path, size):
    with pytest.raises(DatasetError, match="Option 'size' must be"):
        load_file(make_folder(tmp_path / "p"), size=size)


def test_too_large_for_memory(tmp_path, monkeypatch):
    folder = make_folder(tmp_path / "p")
    monkeypatch.setattr(resources, "available_memory", lambda: 10_000)
    with pytest.raises(DatasetError, match="The images in .* would need about"):
        load_file(folder, size=256)


def claims_size(path, width, height):
    """A tiny valid PNG whose header claims width×height: what a decompression bomb looks
    like to the loader before it decodes anything."""
    import struct
    import zlib

    Image.new("L", (1, 1)).save(path)
    data = bytearray(path.read_bytes())
    ihdr = data.index(b"IHDR")
    data[ihdr + 4 : ihdr + 12] = struct.pack(">II", width, height)
    body = bytes(data[ihdr : ihdr + 17])
    data[ihdr + 17 : ihdr + 21] = struct.pack(">I", zlib.crc32(body))
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize(
    ("width", "height", "says"),
    [
        (7000, 7000, "7000×7000 pixels, more than the 40,000,000 pixels LayerLab decodes"),
        # past Pillow's own limit: its DecompressionBombWarning becomes the same sentence
        (12000, 12000, "more than the 40,000,000 pixels LayerLab decodes"),
        (70000, 70000, "more than the 40,000,000 pixels LayerLab decodes"),
    ],
)
def test_huge_images_are_refused_before_decoding(tmp_path, width, height, says):
    folder = make_folder(tmp_path / "pets")
    claims_size(folder / "dog" / "huge.png", width, height)
    with pytest.raises(DatasetError, match="1 of the 13 images") as caught:
        load_file(folder)
    assert f"huge.png: {says}" in str(caught.value)
    assert caught.value.skippable == [str(folder / "dog" / "huge.png")]
    tracemalloc.start()
    try:
        ds = load_file(folder, skip_corrupt=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert ds.skipped == (str(folder / "dog" / "huge.png"),)
    assert peak < 20_000_000  # nothing the size of the claimed picture was decoded


def test_no_library_warning_reaches_the_user(tmp_path):
    # 12000×12000 is past Pillow's DecompressionBombWarning threshold (about 89 megapixels):
    # Pillow warns on opening it, and the CLI printed that warning before its one line.
    folder = make_folder(tmp_path / "pets")
    claims_size(folder / "dog" / "huge.png", 12000, 12000)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        ds = load_file(folder, skip_corrupt=True)
    assert [str(w.message) for w in seen] == []
    assert len(ds.skipped) == 1
