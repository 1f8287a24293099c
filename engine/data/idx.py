"""MNIST-format IDX files (MNIST, Fashion-MNIST, KMNIST, EMNIST), raw or gzipped.

Layout of one file: two zero bytes, a type code, the number of dimensions, then each
dimension as a big-endian 32-bit size, then the data in C order, big-endian.
"""

from __future__ import annotations

import gzip
import re
import zlib
from dataclasses import dataclass
from math import prod
from pathlib import Path
from typing import IO, Any

import numpy as np

from .dataset import Dataset
from .errors import DatasetError
from .options import take_options
from .prepare import build, check_finite, from_splits, scale_images
from .resources import MemoryEstimate, Progress, require_file, require_memory

# "train-images-idx3-ubyte", "t10k-labels.idx1-ubyte.gz", "emnist-letters-test-images-idx3-ubyte"
IDX_NAME = re.compile(
    r"(?:^|[-_.])(train|t10k|test)-(images|labels)[-.]idx(\d)-ubyte(\.gz)?$", re.IGNORECASE
)
_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class IdxHeader:
    path: Path
    dims: tuple[int, ...]
    dtype: np.dtype
    offset: int
    gzipped: bool
    file_size: int

    @property
    def data_bytes(self) -> int:
        return prod(self.dims) * self.dtype.itemsize


def find_idx_files(folder: Path) -> dict[tuple[str, str], Path]:
    """{("train"|"t10k", "images"|"labels"): path} for the IDX files in ``folder``."""
    found: dict[tuple[str, str], list[Path]] = {}
    for path in sorted(folder.iterdir()):
        match = IDX_NAME.search(path.name)
        if match and path.is_file():
            split = "train" if match.group(1).lower() == "train" else "t10k"
            found.setdefault((split, match.group(2).lower()), []).append(path)
    result = {}
    for key, paths in found.items():
        # The same file raw and gzipped is fine (prefer raw: no decompression); two
        # different data sets in one folder (EMNIST subsets) is not.
        stems = {p.name.lower().removesuffix(".gz") for p in paths}
        if len(stems) > 1:
            names = ", ".join(p.name for p in paths)
            raise DatasetError(
                f"The folder '{folder}' holds more than one {key[0]} {key[1]} file ({names}). "
                "Move each data set into a folder of its own and pick that folder.",
                path=str(folder),
            )
        result[key] = min(paths, key=lambda p: p.name.lower().endswith(".gz"))
    return result


def load_idx(
    path: Path, *, seed: int, val_fraction: float, progress: Progress, **options: Any
) -> Dataset:
    """A folder of IDX files (or one of them): train-* is the training split and t10k-*/test-*
    the validation split; without t10k files the training files are split by val_fraction."""
    folder = path if path.is_dir() else path.parent
    opts = take_options(options, {"transpose": False, "class_names": None}, str(path), "IDX")
    files = find_idx_files(folder)
    _require_pairs(folder, files)
    headers = {key: read_header(p, key[1]) for key, p in files.items()}
    for split in ("train", "t10k"):
        if (split, "images") in headers:
            _check_counts(headers[(split, "images")], headers[(split, "labels")])
    if ("t10k", "images") in headers:
        train_dims = headers[("train", "images")].dims[1:]
        test_dims = headers[("t10k", "images")].dims[1:]
        if train_dims != test_dims:
            raise DatasetError(
                f"The training images in '{folder}' are {'×'.join(map(str, train_dims))} but "
                f"the test images are {'×'.join(map(str, test_dims))}. Both must come from the "
                "same data set.",
                path=str(folder),
            )
    require_memory(_estimate(headers), folder, "The IDX data")

    total = sum(h.data_bytes for h in headers.values()) or 1
    arrays, done = {}, 0
    for key, header in headers.items():
        part = progress.part(done / total, (done + header.data_bytes) / total)
        arrays[key] = read_data(header, part)
        done += header.data_bytes

    for split in _splits(arrays):  # before scaling, which would spread a NaN everywhere
        check_finite(arrays[(split, "images")], "the images", str(files[(split, "images")]))
    images = {s: _images(arrays[(s, "images")], opts["transpose"]) for s in _splits(arrays)}
    labels = {s: _labels(arrays[(s, "labels")], files[(s, "labels")]) for s in _splits(arrays)}
    k = int(max(int(y.max()) for y in labels.values() if y.size) + 1)
    class_names = _class_names(opts["class_names"], k, labels, files)
    kind = "image" if images["train"].ndim == 4 else "vector"
    common = dict(
        name=folder.name,
        task="classification",
        input_kind=kind,
        class_names=class_names,
        description=f"IDX files in {folder}",
        source=str(folder),
        options={"seed": seed, "val_fraction": val_fraction, **opts},
    )
    if "t10k" in images:
        return from_splits(
            x_train=images["train"],
            y_train=labels["train"],
            x_val=images["t10k"],
            y_val=labels["t10k"],
            **common,
        )
    return build(
        x=images["train"], y=labels["train"], seed=seed, val_fraction=val_fraction, **common
    )


def _estimate(headers: dict[tuple[str, str], IdxHeader]) -> MemoryEstimate:
    """Checked before any data is read: the raw bytes, images as float32 and the scaling's
    float32 temporary, labels as int64."""
    values = sum(prod(h.dims) for key, h in headers.items() if key[1] == "images")
    labels = sum(h.dims[0] for key, h in headers.items() if key[1] == "labels")
    raw = sum(h.data_bytes for h in headers.values())
    return MemoryEstimate(reading=raw + 8 * values + 8 * labels, dataset=4 * values + 8 * labels)


def _splits(arrays: dict) -> list[str]:
    return [s for s in ("train", "t10k") if (s, "images") in arrays]


def _require_pairs(folder: Path, files: dict[tuple[str, str], Path]) -> None:
    for split in ("train", "t10k"):
        have = {kind for (s, kind) in files if s == split}
        if split == "t10k" and not have:
            continue  # the test pair is optional
        for kind in ("images", "labels"):
            if kind not in have:
                n = 3 if kind == "images" else 1
                raise DatasetError(
                    f"The folder '{folder}' has no {split} {kind} file (expected a name like "
                    f"'{split}-{kind}-idx{n}-ubyte' or '{split}-{kind}-idx{n}-ubyte.gz'). "
                    "Put all four IDX files of the data set in one folder.",
                    path=str(folder),
                )


def _open(path: Path, gzipped: bool) -> IO[bytes]:
    return gzip.open(path, "rb") if gzipped else open(path, "rb")  # noqa: SIM115


def read_header(path: Path, kind: str) -> IdxHeader:
    """Check the magic number and read the dimensions; nothing else is read yet.

    The number of dimensions must match the file name's "idxN" when it has one."""
    size = require_file(path)
    with open(path, "rb") as raw:
        gzipped = raw.read(2) == _GZIP_MAGIC
    try:
        with _open(path, gzipped) as stream:
            magic = stream.read(4)
            _check_magic(path, magic, kind)
            ndim = magic[3]
            dim_bytes = stream.read(4 * ndim)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise _damaged_gzip(path, exc) from None
    if len(dim_bytes) < 4 * ndim:
        raise _truncated(path, "its header is cut short")
    # Sizes are unsigned: read as signed, a header claiming 2**31 items would say -2**31.
    dims = tuple(int(d) for d in np.frombuffer(dim_bytes, ">u4"))
    if 0 in dims:
        what = "no labels" if kind == "labels" else f"items of {'×'.join(map(str, dims[1:]))}"
        if dims[0] != 0:
            what = f"{_describe(dims)}, and a size of 0 holds nothing"
        raise DatasetError(
            f"The IDX file '{path}' holds no data: its header declares {what}. The file is "
            "damaged or empty of samples; get it again.",
            path=str(path),
        )
    header = IdxHeader(path, dims, np.dtype(_DTYPES[magic[2]]), 4 + 4 * ndim, gzipped, size)
    if not gzipped:
        have = size - header.offset
        if have < header.data_bytes:
            raise _truncated(
                path,
                f"its header declares {_describe(dims)} ({header.data_bytes:,} bytes) but it "
                f"holds only {have:,}",
            )
        if have > header.data_bytes:
            raise DatasetError(
                f"The IDX file '{path}' has {have - header.data_bytes:,} bytes more than its "
                f"header declares ({_describe(dims)}). The file is damaged or not an IDX file; "
                "get it again.",
                path=str(path),
            )
    return header


def read_data(header: IdxHeader, progress: Progress) -> np.ndarray:
    """The data of one file, read in chunks so progress can be reported."""
    out = np.empty(header.data_bytes, dtype=np.uint8)
    view = memoryview(out)
    filled = 0
    try:
        with _open(header.path, header.gzipped) as stream:
            stream.read(header.offset)
            while filled < header.data_bytes:
                n = stream.readinto(view[filled : filled + _CHUNK])
                if not n:
                    break
                filled += n
                progress(filled / header.data_bytes)
            extra = stream.read(1)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise _damaged_gzip(header.path, exc) from None
    if filled < header.data_bytes:
        raise _truncated(
            header.path,
            f"its header declares {_describe(header.dims)} ({header.data_bytes:,} bytes) but "
            f"it holds only {filled:,}",
        )
    if extra:
        raise DatasetError(
            f"The IDX file '{header.path}' holds more data than its header declares "
            f"({_describe(header.dims)}). The file is damaged or not an IDX file; get it again.",
            path=str(header.path),
        )
    return out.view(header.dtype).reshape(header.dims)


def _check_magic(path: Path, magic: bytes, kind: str) -> None:
    match = IDX_NAME.search(path.name)
    want_ndim = int(match.group(3)) if match else (3 if kind == "images" else 1)
    ok = len(magic) == 4 and magic[:2] == b"\0\0" and magic[2] in _DTYPES
    if ok and (magic[3] != want_ndim or (kind == "images") != (want_ndim >= 2)):
        ok = False
    if ok:
        return
    if len(magic) < 4:
        raise _truncated(path, "it is shorter than the 4-byte IDX magic number")
    hint = ""
    if magic[:2] == b"PK":
        hint = " It looks like a zip archive: unpack it first."
    elif magic.lstrip()[:1] == b"<":
        hint = " It looks like a web page saved in place of the data: download it again."
    got = " ".join(f"{b:02x}" for b in magic)
    raise DatasetError(
        f"'{path}' is not an IDX {kind} file: it starts with the bytes {got} instead of the "
        f"magic number 00 00 08 0{want_ndim}.{hint}",
        path=str(path),
    )


def _check_counts(images: IdxHeader, labels: IdxHeader) -> None:
    if images.dims[0] != labels.dims[0]:
        raise DatasetError(
            f"'{images.path.name}' holds {images.dims[0]:,} images but '{labels.path.name}' holds "
            f"{labels.dims[0]:,} labels; each image needs exactly one label. One of the files "
            "belongs to another data set or is damaged.",
            path=str(images.path),
        )


def _images(raw: np.ndarray, transpose: bool) -> np.ndarray:
    if raw.ndim == 2:  # flat feature vectors
        x = raw
        return scale_images(x) if np.issubdtype(x.dtype, np.integer) else x.astype(np.float32)
    if raw.ndim == 4:  # (N, H, W, C) is how multi-channel IDX files are written
        raw = np.moveaxis(raw, -1, 1)
    else:
        raw = raw.reshape(raw.shape[0], -1, *raw.shape[-2:])
    if transpose:  # EMNIST stores images transposed
        raw = np.swapaxes(raw, -1, -2)
    return scale_images(raw)


def _labels(raw: np.ndarray, path: Path) -> np.ndarray:
    if not np.issubdtype(raw.dtype, np.integer):
        raise DatasetError(
            f"The labels in '{path}' are not whole numbers; IDX labels must be class numbers.",
            path=str(path),
        )
    if raw.size and raw.min() < 0:
        first = int(np.flatnonzero(raw < 0)[0])
        raise DatasetError(
            f"Label {int(raw[first])} of sample {first} in '{path}' is negative; class "
            "labels must be 0, 1, 2, …",
            path=str(path),
        )
    return raw.astype(np.int64)


def _class_names(
    names: Any, k: int, labels: dict[str, np.ndarray], files: dict[tuple[str, str], Path]
) -> tuple[str, ...]:
    if names is None:
        if k > 1000:
            raise DatasetError(
                f"The labels in '{files[('train', 'labels')]}' go up to {k - 1}; class labels "
                "must be small whole numbers 0, 1, 2, …",
                path=str(files[("train", "labels")]),
            )
        return tuple(str(i) for i in range(k))
    names = tuple(str(n) for n in names)
    for split, y in labels.items():
        if y.size and y.max() >= len(names):
            first = int(np.flatnonzero(y >= len(names))[0])
            raise DatasetError(
                f"Label {int(y[first])} of sample {first} in '{files[(split, 'labels')]}' is out "
                f"of range for the {len(names)} class names given (0 to {len(names) - 1}).",
                path=str(files[(split, "labels")]),
            )
    return names


def _describe(dims: tuple[int, ...]) -> str:
    if len(dims) == 1:
        return f"{dims[0]:,} labels"
    return f"{dims[0]:,} items of {'×'.join(map(str, dims[1:]))}"


def _truncated(path: Path, why: str) -> DatasetError:
    return DatasetError(
        f"The IDX file '{path}' is truncated: {why}. It may not have finished downloading or "
        "copying; get it again.",
        path=str(path),
    )


def _damaged_gzip(path: Path, exc: Exception) -> DatasetError:
    if isinstance(exc, EOFError):
        return _truncated(path, "the compressed data ends early")
    return DatasetError(
        f"The compressed file '{path}' is damaged ({exc}). Get it again, or unpack it with "
        "another tool and pick the unpacked files.",
        path=str(path),
    )
