"""A folder with one sub-folder of images (PNG, JPEG, BMP) per class."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .dataset import Dataset
from .errors import DatasetError
from .options import positive_int, take_options
from .prepare import build
from .resources import MemoryEstimate, Progress, require_memory

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
_DEFAULTS = {"size": 28, "colour": False, "skip_corrupt": False}
_MAX_SIZE = 1024
# Larger images are refused from their header, before decoding: a small compressed file can
# claim a huge picture (a decompression bomb). 40 megapixels is a large camera photo.
MAX_PIXELS = 40_000_000
# Decoding the largest allowed image: its pixels (up to 4 bytes each) and the grey or RGB copy.
_DECODE_BYTES = MAX_PIXELS * 7


def load_image_folder(
    path: Path, *, seed: int, val_fraction: float, progress: Progress, **options: Any
) -> Dataset:
    """Class names are the sub-folder names (sorted); images are resized to size×size, grey
    (1 channel) or colour (3), and scaled to [0, 1]."""
    where = str(path)
    opts = take_options(options, _DEFAULTS, where, "image folder")
    size = positive_int(opts["size"], "size", where, minimum=4)
    if size > _MAX_SIZE:
        raise DatasetError(
            f"Option 'size' must be at most {_MAX_SIZE}, not {size} (loading '{path}').",
            path=where,
        )
    channels = 3 if opts["colour"] else 1
    classes = _class_files(path)
    files = [(f, label) for label, (_, fs) in enumerate(classes) for f in fs]
    x_bytes = len(files) * (channels * size * size * 4 + 8)
    estimate = MemoryEstimate(reading=x_bytes + _DECODE_BYTES, dataset=x_bytes)
    require_memory(estimate, path, "The images")

    x = np.empty((len(files), channels, size, size), dtype=np.float32)
    y = np.empty(len(files), dtype=np.int64)
    keep = np.ones(len(files), dtype=bool)
    corrupt: dict[str, str] = {}  # file -> why it cannot be used
    for i, (file, label) in enumerate(files):
        image = _read_image(file, size, channels)
        if isinstance(image, str):
            corrupt[str(file)] = image
            keep[i] = False
        else:
            x[i], y[i] = image, label
        progress((i + 1) / len(files))
    if corrupt and (not opts["skip_corrupt"] or len(corrupt) == len(files)):
        raise _corrupt_error(path, corrupt, len(files), opts["skip_corrupt"])
    return build(
        name=path.name,
        task="classification",
        input_kind="image",
        x=x[keep],
        y=y[keep],
        seed=seed,
        val_fraction=val_fraction,
        class_names=tuple(name for name, _ in classes),
        description=f"Images in {path}, {len(classes)} classes",
        source=where,
        options={"seed": seed, "val_fraction": val_fraction, **opts},
        skipped=tuple(corrupt),
    )


def _class_files(folder: Path) -> list[tuple[str, list[Path]]]:
    subfolders = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    classes = []
    for sub in subfolders:
        files = sorted(
            p for p in sub.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
        )
        if not files:
            raise DatasetError(
                f"The class folder '{sub}' holds no PNG, JPEG or BMP images. Add images to it "
                "or move it out of the dataset folder.",
                path=str(sub),
            )
        classes.append((sub.name, files))
    if len(classes) < 2:
        raise DatasetError(
            f"The folder '{folder}' needs at least two sub-folders, one per class, each holding "
            f"that class's images; it has {len(classes)}.",
            path=str(folder),
        )
    return classes


def _read_image(path: Path, size: int, channels: int) -> np.ndarray | str:
    """(channels, size, size) float32 in [0, 1], or why the file cannot be used."""
    from PIL import Image  # Pillow is only needed for this format

    # Pillow reports a huge image (DecompressionBombWarning), damaged metadata and the like as
    # warnings, which would reach the user as raw text: here they make the file unusable, with
    # a reason. (catch_warnings is process-wide; a load runs in one worker thread at a time.)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return _decode(path, size, channels, Image)


def _decode(path: Path, size: int, channels: int, Image) -> np.ndarray | str:  # noqa: N803
    try:
        with Image.open(path) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                return _too_large(width, height)
            image.load()
            if image.mode == "P" and "transparency" in image.info:
                image = image.convert("RGBA")  # Pillow warns converting these straight to L
            image = image.convert("RGB" if channels == 3 else "L")
            image = image.resize((size, size), Image.Resampling.BILINEAR)
            pixels = np.asarray(image, dtype=np.float32) / 255.0
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return _too_large(None, None)
    # Any other decoding failure means "this file is not a usable image": Pillow raises
    # OSError, ValueError, SyntaxError or a warning made an error, depending on the damage.
    except Exception as exc:  # noqa: BLE001
        return f"cannot be decoded: {str(exc)[:80] or type(exc).__name__}"
    return pixels[None] if channels == 1 else np.moveaxis(pixels, -1, 0)


def _too_large(width: int | None, height: int | None) -> str:
    size = f"{width}×{height} pixels, " if width is not None else ""
    return f"{size}more than the {MAX_PIXELS:,} pixels LayerLab decodes; shrink it first"


def _corrupt_error(
    folder: Path, reasons: dict[str, str], total: int, skipping: bool
) -> DatasetError:
    corrupt = list(reasons)
    names = "; ".join(f"{Path(c).name}: {reasons[c]}" for c in corrupt[:5])
    names += "; …" if len(corrupt) > 5 else ""
    if skipping:  # everything was unreadable: nothing left to skip to
        return DatasetError(
            f"None of the {total} images in '{folder}' could be read ({names}).",
            path=str(folder),
        )
    return DatasetError(
        f"{len(corrupt)} of the {total} images in '{folder}' could not be read ({names}). "
        "Replace or delete them, or skip them and load the rest.",
        path=str(folder),
        skippable=corrupt,
    )
