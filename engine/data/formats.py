"""The file formats LayerLab reads: how each is recognised, which loader reads it, and the
options the Dataset panel offers for it.

Options are Params, so the window draws them with the inspector's widget factory; the loaders
themselves check every option they are given (engine/data/options.py), including the ones the
panel does not offer.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine.model.params import Param

from .dataset import Dataset
from .errors import DatasetError
from .idx import IDX_NAME, find_idx_files
from .images import IMAGE_SUFFIXES

CSV_SUFFIXES = (".csv", ".tsv", ".txt")
FORMATS_TEXT = (
    "a folder of MNIST-format IDX files, a .npz file with x and y arrays, a .csv file, "
    "or a folder with one sub-folder of images per class"
)


@dataclass(frozen=True)
class FileFormat:
    """One readable format: its id, the loader function, and the options offered for it."""

    id: str
    module: str
    function: str
    params: tuple[Param, ...] = ()

    def loader(self) -> Callable[..., Dataset]:
        # Imported on first use: keeps `import engine.data` light.
        return getattr(importlib.import_module(f"{__package__}.{self.module}"), self.function)


NPZ = FileFormat(
    "npz",
    "npz",
    "load_npz",
    (
        Param(
            "kind",
            "choice",
            None,
            label="Input kind",
            choices=("image", "sequence", "vector"),
            none_label="from the array shape",
        ),
    ),
)
CSV = FileFormat(
    "csv",
    "tabular",
    "load_csv",
    (
        Param(
            "target",
            "text",
            None,
            label="Target column",
            help="Column name, or its 0-based number",
            none_label="last column",
        ),
        Param(
            "window",
            "int",
            None,
            label="Window length",
            help="Steps per input sequence, for a time series",
            minimum=1,
            maximum=1_000_000,
            none_label="none: one sample a line",
        ),
        Param(
            "skip_rows",
            "int",
            None,
            label="Lines to skip",
            help="Lines before the header or the first sample (notes, a line of counts)",
            minimum=0,
            maximum=1_000_000,
            none_label="a line of counts, if any",
        ),
    ),
)
IDX = FileFormat(
    "idx",
    "idx",
    "load_idx",
    (Param("transpose", "bool", False, label="Transposed images (EMNIST)"),),
)
IMAGES = FileFormat(
    "images",
    "images",
    "load_image_folder",
    (
        Param("size", "int", 28, label="Image size", minimum=4, maximum=1024),
        Param("colour", "bool", False, label="Colour (RGB) instead of grey"),
    ),
)
# Options every source takes, built-in or file: how the samples are split.
SPLIT_PARAMS = (
    Param(
        "val_fraction",
        "float",
        0.2,
        label="Validation fraction",
        help="Share of the samples kept for validation (seeded, stratified)",
        minimum=0.0,
        maximum=0.9,
    ),
    Param(
        "seed",
        "int",
        0,
        label="Seed",
        help="Seed of the split and of generated data: same seed, same data",
        minimum=0,
        maximum=2**31 - 1,
    ),
)


def detect_format(path: Path) -> FileFormat:
    """The format of ``path`` from its name (and, for a folder, the names in it); a
    DatasetError that says what LayerLab reads when it is none of them."""
    if not path.exists():
        raise DatasetError(
            f"'{path}' does not exist. Check the path, or pick the file or folder again.",
            path=str(path),
        )
    if path.is_dir():
        if find_idx_files(path):
            return IDX
        if any(p.is_dir() and not p.name.startswith(".") for p in path.iterdir()):
            return IMAGES
        raise DatasetError(
            f"The folder '{path}' holds neither MNIST-format IDX files nor one sub-folder of "
            f"images per class. LayerLab reads {FORMATS_TEXT}.",
            path=str(path),
        )
    name = path.name.lower()
    if name.endswith(".npz"):
        return NPZ
    if name.endswith(CSV_SUFFIXES):
        return CSV
    if IDX_NAME.search(path.name):
        return IDX  # one of the four files: the loader reads the folder it is in
    if name.endswith(IMAGE_SUFFIXES):
        raise DatasetError(
            f"'{path}' is a single image. Pick the folder that holds one sub-folder of images "
            "per class instead.",
            path=str(path),
        )
    raise DatasetError(
        f"LayerLab cannot read '{path.name}': the format is not known from its name. "
        f"It reads {FORMATS_TEXT}.",
        path=str(path),
    )
