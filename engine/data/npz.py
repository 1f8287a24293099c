"""NumPy .npz archives holding arrays ``x`` and ``y`` (and optionally x_val, y_val,
class_names)."""

from __future__ import annotations

import zipfile
import zlib
from math import prod
from pathlib import Path
from typing import Any

import numpy as np

from .arrays import class_labels, infer_kind, infer_task, regression_targets
from .dataset import Dataset
from .errors import DatasetError
from .options import choice, take_options
from .prepare import build, check_finite, from_splits, scale_images
from .resources import MemoryEstimate, Progress, require_file, require_memory

_DEFAULTS = {"kind": None, "task": None, "class_names": None, "normalise": True}


def load_npz(
    path: Path, *, seed: int, val_fraction: float, progress: Progress, **options: Any
) -> Dataset:
    """x (N, ...) and y (N,) or (N, K); x_val/y_val, when present, are the validation split."""
    where = str(path)
    opts = take_options(options, _DEFAULTS, where, ".npz")
    if opts["kind"] is not None:
        choice(opts["kind"], ("image", "sequence", "vector"), "kind", where)
    if opts["task"] is not None:
        choice(opts["task"], ("classification", "regression", "forecast"), "task", where)
    require_file(path)
    members = _members(path)
    headers = {key: _header(path, key, members[key]) for key in _WANTED if key in members}
    standardise = bool(opts["normalise"]) and opts["kind"] != "image" and len(headers["x"][0]) < 4
    require_memory(_estimate(headers, standardise), path, "The arrays")
    arrays = _read(path, members, progress)

    y = arrays["y"]
    has_val = "x_val" in arrays or "y_val" in arrays
    if has_val and not ("x_val" in arrays and "y_val" in arrays):
        raise DatasetError(
            f"'{path}' has only one of x_val and y_val; save both, or neither to split x and y.",
            path=where,
        )
    parts = [("x", "y")] + ([("x_val", "y_val")] if has_val else [])
    for xk, yk in parts:
        _check_pair(arrays[xk], arrays[yk], xk, yk, where)
    names = opts["class_names"]
    if names is None and "class_names" in arrays:
        names = [str(n) for n in arrays["class_names"].reshape(-1)]

    task = infer_task(y, opts["task"])
    xs, ys = {}, {}
    for xk, yk in parts:
        kind, xs[xk] = infer_kind(arrays[xk], opts["kind"], where)
        check_finite(xs[xk], f"the array {xk}", where)
        if task == "classification":
            ys[yk], _ = class_labels(arrays[yk], where, yk, names)
        else:
            ys[yk] = regression_targets(arrays[yk])
            check_finite(ys[yk], f"the array {yk}", where)
    if task == "classification":
        k = max(int(v.max()) + 1 for v in ys.values()) if names is None else len(names)
        class_names = tuple(names) if names is not None else tuple(str(i) for i in range(k))
    else:
        class_names = None
    if kind == "image":
        xs = {key: scale_images(v) for key, v in xs.items()}
    else:
        xs = {key: v.astype(np.float32) for key, v in xs.items()}
    if has_val and xs["x"].shape[1:] != xs["x_val"].shape[1:]:
        raise DatasetError(
            f"In '{path}', x has samples of shape {xs['x'].shape[1:]} but x_val of shape "
            f"{xs['x_val'].shape[1:]}; both must have the same shape.",
            path=where,
        )
    normalise = bool(opts["normalise"])
    common = dict(
        name=path.name,
        task=task,
        input_kind=kind,
        class_names=class_names,
        standardise_x=normalise and kind != "image",
        standardise_y=normalise and task != "classification",
        description=f"NumPy arrays from {path}",
        source=where,
        options={"seed": seed, "val_fraction": val_fraction, **opts},
    )
    if has_val:
        return from_splits(
            x_train=xs["x"], y_train=ys["y"], x_val=xs["x_val"], y_val=ys["y_val"], **common
        )
    return build(x=xs["x"], y=ys["y"], seed=seed, val_fraction=val_fraction, **common)


def _members(path: Path) -> dict[str, zipfile.ZipInfo]:
    if not zipfile.is_zipfile(path):
        raise DatasetError(
            f"'{path}' is not a NumPy .npz archive (it is not a zip file). Save the arrays "
            "with numpy.savez(path, x=..., y=...).",
            path=str(path),
        )
    try:
        with zipfile.ZipFile(path) as archive:
            members = {info.filename.removesuffix(".npy"): info for info in archive.infolist()}
    except (zipfile.BadZipFile, OSError) as exc:
        raise _damaged(path, exc) from None
    for key in ("x", "y"):
        if key not in members:
            have = ", ".join(sorted(members)) or "no arrays"
            raise DatasetError(
                f"'{path}' has no array named '{key}' (it has: {have}). Save the inputs as x "
                "and the labels or targets as y: numpy.savez(path, x=..., y=...).",
                path=str(path),
            )
    return members


def _header(path: Path, key: str, member: zipfile.ZipInfo) -> tuple[tuple[int, ...], np.dtype]:
    """The shape and dtype an array's .npy header declares, read without decompressing the
    data: a small compressed file may expand to more than the machine holds."""
    fmt = np.lib.format
    try:
        with zipfile.ZipFile(path) as archive, archive.open(member) as stream:
            version = fmt.read_magic(stream)
            read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
            shape, _, dtype = read(stream)
            header_bytes = stream.tell()
    except (ValueError, zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise _damaged(path, exc) from None
    if dtype.hasobject:
        raise _objects(path)
    declared = header_bytes + prod(shape) * dtype.itemsize
    if declared > member.file_size:
        raise DatasetError(
            f"The array {key} in '{path}' declares shape {shape} of {dtype} "
            f"({declared:,} bytes) but its member of the archive holds {member.file_size:,} "
            "bytes. The file is damaged; save or copy it again.",
            path=str(path),
        )
    return shape, dtype


def _estimate(headers: dict, standardise: bool) -> MemoryEstimate:
    """What loading the arrays holds, from their headers alone."""
    raw = sum(prod(shape) * dtype.itemsize for shape, dtype in headers.values())
    x_values = sum(prod(headers[k][0]) for k in ("x", "x_val") if k in headers)
    n_y = sum(headers[k][0][0] if headers[k][0] else 1 for k in ("y", "y_val") if k in headers)
    y_values = sum(prod(headers[k][0]) for k in ("y", "y_val") if k in headers)
    # Beside the raw arrays: x as float32 and one float32 temporary of the scaling, a bool mask
    # of the finite check, and y as int64 labels (classes) or float32 targets.
    reading = raw + x_values * (4 + 4 + 1) + max(8 * n_y, 4 * y_values)
    dataset = x_values * 4 + max(8 * n_y, 4 * y_values)
    return MemoryEstimate(reading=reading, dataset=dataset, standardised=standardise)


_WANTED = ("x", "y", "x_val", "y_val", "class_names")


def _read(path: Path, members: dict[str, zipfile.ZipInfo], progress: Progress) -> dict:
    wanted = [k for k in _WANTED if k in members]
    total = sum(members[k].file_size for k in wanted) or 1
    arrays, done = {}, 0
    try:
        with np.load(path, allow_pickle=False) as archive:
            for key in wanted:
                arrays[key] = archive[key]
                done += members[key].file_size
                progress(done / total)
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise _objects(path) from None
        raise _damaged(path, exc) from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise _damaged(path, exc) from None
    return arrays


def _check_pair(x: np.ndarray, y: np.ndarray, xk: str, yk: str, where: str) -> None:
    if x.dtype.kind not in "biuf":
        raise DatasetError(
            f"The array {xk} in '{where}' is of type {x.dtype}, not numbers.", path=where
        )
    if x.ndim == 0 or len(x) == 0:
        raise DatasetError(f"The array {xk} in '{where}' holds no samples.", path=where)
    if y.ndim == 0 or len(x) != len(y):
        n_y = 1 if y.ndim == 0 else len(y)
        raise DatasetError(
            f"In '{where}', {xk} has {len(x)} samples but {yk} has {n_y}; each sample needs "
            "exactly one label or target.",
            path=where,
        )


def _objects(path: Path) -> DatasetError:
    return DatasetError(
        f"An array in '{path}' holds Python objects, which LayerLab does not load "
        "(unsafe, and not numbers). Save plain numeric arrays.",
        path=str(path),
    )


def _damaged(path: Path, exc: Exception) -> DatasetError:
    return DatasetError(
        f"The .npz file '{path}' is damaged or incomplete ({exc}). Save or copy it again.",
        path=str(path),
    )
