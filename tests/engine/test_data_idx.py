"""MNIST-format IDX folders: good files raw and gzipped, and every way they go wrong."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from engine.data import DatasetError, load_dataset, load_file, resources


def idx_bytes(array: np.ndarray, code: int = 0x08) -> bytes:
    dtype = {0x08: ">u1", 0x0B: ">i2", 0x0D: ">f4"}[code]
    header = struct.pack(">BBBB", 0, 0, code, array.ndim)
    header += struct.pack(f">{array.ndim}i", *array.shape)
    return header + array.astype(dtype).tobytes()


def write(path: Path, data: bytes, gz: bool = False) -> Path:
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return path


def make_mnist(
    folder: Path, n_train=30, n_test=10, size=(28, 28), gz=False, names=None, test=True
) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    names = names or {
        "train_images": "train-images-idx3-ubyte",
        "train_labels": "train-labels-idx1-ubyte",
        "test_images": "t10k-images-idx3-ubyte",
        "test_labels": "t10k-labels-idx1-ubyte",
    }
    splits = [("train", n_train)] + ([("test", n_test)] if test else [])
    paths = {}
    for split, n in splits:
        images = rng.integers(0, 256, (n, *size)).astype(np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        paths[f"{split}_images"] = write(folder / names[f"{split}_images"], idx_bytes(images), gz)
        paths[f"{split}_labels"] = write(folder / names[f"{split}_labels"], idx_bytes(labels), gz)
    return paths


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_folder_loads(tmp_path, gz):
    make_mnist(tmp_path / "mnist", gz=gz)
    seen = []
    ds = load_file(tmp_path / "mnist", progress=seen.append)
    assert ds.input_kind == "image" and ds.input_shape == (1, 28, 28)
    assert (ds.num_train, ds.num_val) == (30, 10)  # t10k is the validation split
    assert ds.x_train.dtype == np.float32 and ds.x_train.min() >= 0 and ds.x_train.max() <= 1
    assert ds.num_outputs == 10 and ds.class_counts("val").sum() == 10
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen)


def test_pixel_values_are_kept_in_order(tmp_path):
    paths = make_mnist(tmp_path, n_train=3, n_test=2, size=(2, 3))
    raw = np.frombuffer(paths["train_images"].read_bytes()[16:], np.uint8).reshape(3, 2, 3)
    ds = load_file(tmp_path, val_fraction=0.0)
    np.testing.assert_allclose(ds.x_train[:, 0], raw / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(ds.y_train, [0, 1, 2])


def test_dotted_names_and_header_sizes(tmp_path):
    names = {
        "train_images": "train-images.idx3-ubyte",
        "train_labels": "train-labels.idx1-ubyte",
        "test_images": "t10k-images.idx3-ubyte",
        "test_labels": "t10k-labels.idx1-ubyte",
    }
    make_mnist(tmp_path, size=(12, 10), names=names)
    assert load_file(tmp_path).input_shape == (1, 12, 10)


def test_emnist_style_names_and_pointing_at_one_file(tmp_path):
    names = {
        "train_images": "emnist-digits-train-images-idx3-ubyte",
        "train_labels": "emnist-digits-train-labels-idx1-ubyte",
        "test_images": "emnist-digits-test-images-idx3-ubyte",
        "test_labels": "emnist-digits-test-labels-idx1-ubyte",
    }
    paths = make_mnist(tmp_path, gz=True, names=names)
    ds = load_file(paths["train_labels"])
    assert ds.num_val == 10
    transposed = load_file(tmp_path, transpose=True)
    np.testing.assert_array_equal(transposed.x_train[0, 0], ds.x_train[0, 0].T)


def test_without_test_files_the_training_files_are_split(tmp_path):
    make_mnist(tmp_path, n_train=50, test=False)
    ds = load_dataset(str(tmp_path), val_fraction=0.2, seed=1)
    assert (ds.num_train, ds.num_val) == (40, 10)


def test_class_names_option(tmp_path):
    make_mnist(tmp_path)
    names = [f"c{i}" for i in range(10)]
    assert load_file(tmp_path, class_names=names).class_names == tuple(names)
    with pytest.raises(DatasetError, match="out of range for the 5 class names"):
        load_file(tmp_path, class_names=names[:5])


def test_unknown_option(tmp_path):
    make_mnist(tmp_path)
    with pytest.raises(DatasetError, match="Option 'window' does not apply to IDX"):
        load_file(tmp_path, window=3)


# ----- bad input -------------------------------------------------------------------------


def test_missing_folder(tmp_path):
    with pytest.raises(DatasetError, match="does not exist") as info:
        load_file(tmp_path / "nope")
    assert info.value.path == str(tmp_path / "nope")


def test_missing_label_file(tmp_path):
    paths = make_mnist(tmp_path)
    paths["train_labels"].unlink()
    with pytest.raises(DatasetError, match="no train labels file"):
        load_file(tmp_path)


def test_empty_file(tmp_path):
    paths = make_mnist(tmp_path)
    paths["test_images"].write_bytes(b"")
    with pytest.raises(DatasetError, match="is empty") as info:
        load_file(tmp_path)
    assert info.value.path == str(paths["test_images"])


@pytest.mark.parametrize(
    ("start", "hint"),
    [(b"\x00\x00\x08\x02", ""), (b"PK\x03\x04", "zip archive"), (b"<!DOCTYPE html>", "web page")],
)
def test_wrong_magic_number(tmp_path, start, hint):
    paths = make_mnist(tmp_path)
    paths["train_images"].write_bytes(start + b"\0" * 64)
    with pytest.raises(DatasetError, match="magic number 00 00 08 03") as info:
        load_file(tmp_path)
    assert "train-images-idx3-ubyte" in str(info.value) and hint in str(info.value)


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_file(tmp_path, gz):
    make_mnist(tmp_path, gz=gz)
    name = "train-images-idx3-ubyte" + (".gz" if gz else "")
    path = tmp_path / name
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(DatasetError, match="truncated") as info:
        load_file(tmp_path)
    assert name in str(info.value)


def test_truncated_header(tmp_path):
    paths = make_mnist(tmp_path)
    paths["train_images"].write_bytes(b"\x00\x00\x08\x03\x00\x00")
    with pytest.raises(DatasetError, match="truncated: its header is cut short"):
        load_file(tmp_path)


def test_extra_bytes(tmp_path):
    paths = make_mnist(tmp_path)
    with open(paths["train_labels"], "ab") as f:
        f.write(b"\0\0\0")
    with pytest.raises(DatasetError, match="3 bytes more than its header declares"):
        load_file(tmp_path)


def test_damaged_gzip(tmp_path):
    paths = make_mnist(tmp_path, gz=True)
    data = bytearray(paths["train_images"].read_bytes())
    data[20:40] = b"\xff" * 20
    paths["train_images"].write_bytes(bytes(data))
    with pytest.raises(DatasetError, match="train-images-idx3-ubyte.gz"):
        load_file(tmp_path)


def test_image_and_label_counts_differ(tmp_path):
    paths = make_mnist(tmp_path)
    paths["train_labels"].write_bytes(idx_bytes(np.zeros(29, np.uint8)))
    with pytest.raises(DatasetError, match="30 images but .* 29 labels"):
        load_file(tmp_path)


def test_train_and_test_image_sizes_differ(tmp_path):
    paths = make_mnist(tmp_path)
    paths["test_images"].write_bytes(idx_bytes(np.zeros((10, 14, 14), np.uint8)))
    with pytest.raises(DatasetError, match="28×28 but the test images are 14×14"):
        load_file(tmp_path)


def test_labels_that_are_not_class_numbers(tmp_path):
    paths = make_mnist(tmp_path)
    paths["train_labels"].write_bytes(idx_bytes(np.full(30, -3, np.int16), code=0x0B))
    with pytest.raises(DatasetError, match="Label -3 of sample 0 .* is negative"):
        load_file(tmp_path)
    paths["train_labels"].write_bytes(idx_bytes(np.full(30, 5000, np.int16), code=0x0B))
    with pytest.raises(DatasetError, match="go up to 5000"):
        load_file(tmp_path)
    paths["train_labels"].write_bytes(idx_bytes(np.full(30, 0.5, np.float32), code=0x0D))
    with pytest.raises(DatasetError, match="not whole numbers"):
        load_file(tmp_path)


def test_nan_in_float_images(tmp_path):
    paths = make_mnist(tmp_path)
    images = np.zeros((30, 28, 28), np.float32)
    images[4, 3, 3] = np.nan
    paths["train_images"].write_bytes(idx_bytes(images, code=0x0D))
    with pytest.raises(DatasetError, match="NaN or infinite .* sample 4"):
        load_file(tmp_path)


def test_file_far_larger_than_memory(tmp_path):
    # A header declaring 10^9 images of 28×28 over a sparse file of that size: the check
    # must refuse it from the header alone, before reading anything.
    paths = make_mnist(tmp_path)
    n = 1_000_000_000
    with open(paths["train_images"], "wb") as f:
        f.write(struct.pack(">BBBBiii", 0, 0, 8, 3, n, 28, 28))
        f.truncate(16 + n * 28 * 28)
    with open(paths["train_labels"], "wb") as f:
        f.write(struct.pack(">BBBBi", 0, 0, 8, 1, n))
        f.truncate(8 + n)
    with pytest.raises(DatasetError, match="would need about .* of memory"):
        load_file(tmp_path)


def test_memory_check_uses_the_header_of_gzipped_files(tmp_path, monkeypatch):
    make_mnist(tmp_path, gz=True)
    monkeypatch.setattr(resources, "available_memory", lambda: 10_000)
    with pytest.raises(DatasetError, match="only 0.0 MB is free"):
        load_file(tmp_path)


def test_folder_with_nothing_to_read(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DatasetError, match="neither MNIST-format IDX files nor"):
        load_file(tmp_path)


def test_two_data_sets_in_one_folder(tmp_path):
    make_mnist(tmp_path)
    names = {
        "train_images": "emnist-a-train-images-idx3-ubyte",
        "train_labels": "emnist-a-train-labels-idx1-ubyte",
    }
    make_mnist(tmp_path, names=names, test=False)
    with pytest.raises(DatasetError, match="more than one train images file"):
        load_file(tmp_path)


def header_only(path: Path, dims: tuple[int, ...], gz: bool) -> Path:
    """An IDX file of unsigned 8-bit data whose header declares ``dims`` (sizes unsigned)."""
    data = struct.pack(f">BBBB{len(dims)}I", 0, 0, 8, len(dims), *dims) + bytes(64)
    return write(path, data, gz)


@pytest.mark.parametrize("gz", [False, True])
def test_sizes_are_unsigned(tmp_path, gz):
    # 2**31 images: a signed read made it -2,147,483,648 (raw) or "negative dimensions" (gz).
    paths = make_mnist(tmp_path, gz=gz)
    header_only(tmp_path / "train-images-idx3-ubyte", (2**31, 28, 28), gz)
    header_only(tmp_path / "train-labels-idx1-ubyte", (2**31,), gz)
    with pytest.raises(DatasetError) as caught:
        load_file(tmp_path)
    message = str(caught.value)
    assert "-2,147,483,648" not in message and "negative" not in message
    if gz:  # compressed: the header alone says it cannot fit
        assert "would need about" in message and "GB of memory" in message
    else:  # raw: the header declares far more than the file holds
        assert "2,147,483,648 items of 28×28" in message and "truncated" in message
    assert paths["train_images"].name in message or str(tmp_path) in message


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize(
    ("dims", "says"),
    [
        ((0, 28, 28), "declares items of 28×28"),
        ((30, 0, 28), "declares 30 items of 0×28, and a size of 0 holds nothing"),
    ],
)
def test_zero_sizes(tmp_path, gz, dims, says):
    make_mnist(tmp_path, gz=gz)
    path = header_only(tmp_path / "train-images-idx3-ubyte", dims, gz)
    with pytest.raises(DatasetError, match="holds no data") as caught:
        load_file(tmp_path)
    assert says in str(caught.value) and path.name in str(caught.value)


def test_zero_labels(tmp_path):
    make_mnist(tmp_path)
    header_only(tmp_path / "train-labels-idx1-ubyte", (0,), False)
    with pytest.raises(DatasetError, match="holds no data: its header declares no labels"):
        load_file(tmp_path)
