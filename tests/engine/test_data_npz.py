"""NumPy .npz files: kind and task inference, options, and bad arrays."""

from __future__ import annotations

import re
import tracemalloc
import zipfile

import numpy as np
import pytest

from engine.data import DatasetError, load_file, resources

RNG = np.random.default_rng(0)


def save(tmp_path, name="data.npz", **arrays):
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    ("x", "kind", "shape"),
    [
        (RNG.integers(0, 256, (40, 1, 6, 5)).astype(np.uint8), "image", (1, 6, 5)),
        (RNG.random((40, 6, 5, 3)), "image", (3, 6, 5)),  # channels-last moved first
        (RNG.normal(size=(40, 12, 3)), "sequence", (12, 3)),
        (RNG.normal(size=(40, 7)), "vector", (7,)),
        (RNG.normal(size=40), "vector", (1,)),
    ],
)
def test_kind_is_inferred_from_the_shape(tmp_path, x, kind, shape):
    path = save(tmp_path, x=x, y=np.arange(40) % 3)
    ds = load_file(path)
    assert (ds.input_kind, ds.input_shape, ds.task) == (kind, shape, "classification")
    assert ds.num_train + ds.num_val == 40 and ds.num_outputs == 3
    assert ds.x_train.dtype == np.float32
    if kind == "image":
        assert ds.x_train.min() >= 0 and ds.x_train.max() <= 1
    else:  # standardised with the training split's statistics
        assert np.allclose(ds.x_train.mean(axis=tuple(range(ds.x_train.ndim - 1))), 0, atol=1e-5)
        assert ds.x_mean is not None and ds.x_std is not None


def test_kind_option_overrides(tmp_path):
    path = save(tmp_path, x=RNG.random((20, 8, 8)), y=np.arange(20) % 2)
    assert load_file(path, kind="image").input_shape == (1, 8, 8)
    assert load_file(path, kind="vector").input_shape == (64,)
    with pytest.raises(DatasetError, match="Option 'kind' must be one of"):
        load_file(path, kind="graph")


def test_float_targets_mean_regression(tmp_path):
    y = RNG.normal(100, 20, (50, 2)).astype(np.float32)
    path = save(tmp_path, x=RNG.normal(size=(50, 4)), y=y)
    ds = load_file(path, val_fraction=0.0)
    assert ds.task == "regression" and ds.num_outputs == 2 and ds.class_names is None
    assert abs(ds.y_train.mean()) < 1e-4  # standardised, and reversible:
    np.testing.assert_allclose(np.sort(ds.denormalise_y(ds.y_train), 0), np.sort(y, 0), rtol=1e-4)
    raw = load_file(path, val_fraction=0.0, normalise=False)
    np.testing.assert_allclose(np.sort(raw.y_train, 0), np.sort(y, 0))


def test_task_option_and_one_hot_labels(tmp_path):
    y = np.eye(3)[np.arange(30) % 3]
    path = save(tmp_path, x=RNG.normal(size=(30, 5)), y=y)
    ds = load_file(path, task="classification")
    assert ds.num_outputs == 3 and ds.y_train.dtype == np.int64
    assert load_file(path, task="forecast").task == "forecast"


def test_explicit_validation_split_and_class_names(tmp_path):
    path = save(
        tmp_path,
        x=RNG.random((30, 4)),
        y=np.arange(30) % 2,
        x_val=RNG.random((6, 4)),
        y_val=np.arange(6) % 2,
        class_names=np.array(["cat", "dog"]),
    )
    ds = load_file(path, val_fraction=0.5)
    assert (ds.num_train, ds.num_val) == (30, 6)
    assert ds.class_names == ("cat", "dog")


def test_seeded_split(tmp_path):
    path = save(tmp_path, x=RNG.random((100, 3)), y=np.arange(100) % 4)
    a, b, c = load_file(path, seed=1), load_file(path, seed=1), load_file(path, seed=2)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert not np.array_equal(a.x_train, c.x_train)


# ----- bad input -------------------------------------------------------------------------


def test_missing_and_empty_file(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        load_file(tmp_path / "none.npz")
    (tmp_path / "empty.npz").write_bytes(b"")
    with pytest.raises(DatasetError, match="is empty"):
        load_file(tmp_path / "empty.npz")


def test_not_a_zip(tmp_path):
    (tmp_path / "fake.npz").write_bytes(b"hello, not an archive")
    with pytest.raises(DatasetError, match="not a NumPy .npz archive"):
        load_file(tmp_path / "fake.npz")


def test_truncated_archive(tmp_path):
    path = save(tmp_path, x=RNG.random((300, 30)), y=np.arange(300) % 2)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError, match="data.npz"):
        load_file(path)


@pytest.mark.parametrize("missing", ["x", "y"])
def test_missing_array(tmp_path, missing):
    arrays = {"x": RNG.random((5, 2)), "y": np.arange(5), "labels": np.arange(5)}
    del arrays[missing]
    with pytest.raises(DatasetError, match=f"no array named '{missing}' \\(it has: "):
        load_file(save(tmp_path, **arrays))


def test_object_arrays_are_refused(tmp_path):
    path = tmp_path / "obj.npz"
    np.savez(path, x=np.array([[1], [1, 2]], dtype=object), y=np.arange(2))
    with pytest.raises(DatasetError, match="Python objects"):
        load_file(path)


def test_counts_differ(tmp_path):
    with pytest.raises(DatasetError, match="x has 10 samples but y has 9"):
        load_file(save(tmp_path, x=RNG.random((10, 2)), y=np.arange(9)))


@pytest.mark.parametrize(
    ("y", "message"),
    [
        (np.array([0, 1, -1, 2]), "Label -1 of sample 2 .* negative"),
        (np.array([0, 1, 5000, 2]), "out of range for class numbers"),
    ],
)
def test_labels_out_of_range(tmp_path, y, message):
    with pytest.raises(DatasetError, match=message):
        load_file(save(tmp_path, x=RNG.random((4, 2)), y=y))


def test_labels_out_of_range_of_class_names(tmp_path):
    path = save(tmp_path, x=RNG.random((4, 2)), y=np.array([0, 1, 2, 3]))
    with pytest.raises(DatasetError, match="Label 3 .* out of range for the 3 class names"):
        load_file(path, class_names=["a", "b", "c"])


def test_non_integer_labels_for_classification(tmp_path):
    path = save(tmp_path, x=RNG.random((4, 2)), y=np.array([0.0, 1.5, 1.0, 0.0]))
    with pytest.raises(DatasetError, match="Label 1.5 of sample 1 .* not a whole number"):
        load_file(path, task="classification")


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf(tmp_path, bad):
    x = RNG.random((10, 3))
    x[7, 1] = bad
    with pytest.raises(DatasetError, match="NaN or infinite values in the array x .* sample 7"):
        load_file(save(tmp_path, x=x, y=np.arange(10) % 2))
    y = RNG.random(10)
    y[2] = bad
    with pytest.raises(DatasetError, match="NaN or infinite values in the array y"):
        load_file(save(tmp_path, x=RNG.random((10, 3)), y=y))


def test_string_inputs(tmp_path):
    with pytest.raises(DatasetError, match="not numbers"):
        load_file(save(tmp_path, x=np.array(["a", "b"]), y=np.arange(2)))


def test_too_large_for_memory(tmp_path, monkeypatch):
    path = save(tmp_path, x=RNG.random((100, 10)), y=np.arange(100) % 2)
    monkeypatch.setattr(resources, "available_memory", lambda: 1000)
    with pytest.raises(DatasetError, match="would need about .* only 0.0 MB is free"):
        load_file(path)


def test_progress_runs_from_0_to_1(tmp_path):
    path = save(tmp_path, x=RNG.random((100, 10)), y=np.arange(100) % 2)
    seen = []
    load_file(path, progress=seen.append)
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen)


def test_zip_without_npy_members(tmp_path):
    path = tmp_path / "other.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hi")
    with pytest.raises(DatasetError, match="no array named 'x' \\(it has: readme.txt\\)"):
        load_file(path)


def npy_member(archive: zipfile.ZipFile, name: str, shape, dtype, data: bytes | None = None):
    """Write one .npy member whose header declares ``shape`` and whose data is ``data`` (by
    default zeros of the declared size, streamed so the test holds little memory)."""
    header = np.lib.format.header_data_from_array_1_0(np.empty(0, dtype))
    header["shape"] = tuple(shape)
    with archive.open(name, "w", force_zip64=True) as member:
        np.lib.format.write_array_header_1_0(member, header)
        if data is not None:
            member.write(data)
            return
        left = int(np.prod(shape)) * np.dtype(dtype).itemsize
        block = bytes(1 << 20)
        while left > 0:
            member.write(block[: min(left, len(block))])
            left -= len(block)


def test_compressed_arrays_are_counted_by_their_headers(tmp_path, monkeypatch):
    # 200 MB of zeros compress to a file of a few hundred KB; the machine here has 100 MB.
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        npy_member(archive, "x.npy", (50_000, 1000), np.float32)
        npy_member(archive, "y.npy", (50_000,), np.int64)
    assert path.stat().st_size < 2_000_000
    monkeypatch.setattr(resources, "available_memory", lambda: 100_000_000)
    tracemalloc.start()
    try:
        with pytest.raises(DatasetError) as caught:
            load_file(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000  # refused from the headers, nothing decompressed
    message = str(caught.value)
    assert "bomb.npz" in message and "0.1 GB is free" in message
    # 200 MB of x, its float32 copies and the training process's copy: about 1.3 GB
    assert re.search(r"would need about 1\.\d GB", message)


def test_header_declaring_more_than_the_member_holds(tmp_path):
    path = tmp_path / "lies.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        npy_member(archive, "x.npy", (10**12, 10), np.float64, data=bytes(800))
        npy_member(archive, "y.npy", (10,), np.int64, data=bytes(80))
    with pytest.raises(DatasetError, match=r"array x in .*declares shape \(1000000000000, 10\)"):
        load_file(path)


def test_object_array_refused_from_its_header(tmp_path):
    path = tmp_path / "objects.npz"
    np.savez(path, x=np.array([{"a": 1}, None], dtype=object), y=np.arange(2))
    with pytest.raises(DatasetError, match="holds Python objects"):
        load_file(path)


@pytest.mark.parametrize(
    "arrays",
    [
        {"x": RNG.integers(0, 256, (3000, 1, 24, 24)).astype(np.uint8), "y": np.arange(3000) % 4},
        {"x": RNG.random((1500, 20, 20, 3)), "y": np.arange(1500) % 4},
        {"x": RNG.random((20_000, 40)), "y": RNG.random(20_000)},
        {"x": RNG.random((1000, 60, 8)).astype(np.float32), "y": np.arange(1000) % 3},
    ],
    ids=["uint8 images", "float64 channels-last", "vectors, regression", "sequences"],
)
def test_estimate_covers_the_measured_peak(tmp_path, arrays):
    path = tmp_path / "data.npz"
    np.savez_compressed(path, **arrays)
    load_file(path)  # first: imports are not data
    estimates = []
    real = resources.require_memory

    def spy(needed, *args, **kwargs):
        estimates.append(needed)
        return real(needed, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("engine.data.npz.require_memory", spy)
        tracemalloc.start()
        try:
            load_file(path)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    (estimate,) = estimates
    assert peak <= estimate.load_peak <= 2.5 * peak


def test_float32_conversion_is_counted(tmp_path, monkeypatch):
    # 18 MB of 8-bit images become 74 MB of float32, held beside the raw bytes, split, and
    # copied into the training process: three copies of the raw size would undercount 5-fold.
    path = tmp_path / "images.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        npy_member(archive, "x.npy", (18_000, 1, 32, 32), np.uint8)
        npy_member(archive, "y.npy", (18_000,), np.int64)
    monkeypatch.setattr(resources, "available_memory", lambda: 100_000_000)
    with pytest.raises(DatasetError, match=r"would need about 0\.[23] GB"):
        load_file(path)
