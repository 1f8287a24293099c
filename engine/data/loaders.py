"""Entry points: a built-in id or a path in, a Dataset out; dispatch on suffix or folder."""

from __future__ import annotations

import importlib
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .builtin import BUILTIN, load_builtin
from .dataset import Dataset
from .errors import DatasetError
from .images import IMAGE_SUFFIXES
from .prepare import check_val_fraction
from .resources import Progress

CSV_SUFFIXES = (".csv", ".tsv", ".txt")
FORMATS = (
    "a folder of MNIST-format IDX files, a .npz file with x and y arrays, a .csv file, "
    "or a folder with one sub-folder of images per class"
)


def load_file(
    path: str | Path,
    *,
    seed: int = 0,
    val_fraction: float = 0.2,
    progress: Callable[[float], None] | None = None,
    **options: Any,
) -> Dataset:
    """Load a dataset file or folder. Safe to call from a worker thread; ``progress`` gets
    0..1 from that thread, and an exception raised by it aborts the load."""
    path = Path(path).expanduser()
    val_fraction = check_val_fraction(val_fraction)
    report = Progress(progress)
    report(0.0)
    loader = _pick_loader(path)
    try:
        dataset = loader(path, seed=seed, val_fraction=val_fraction, progress=report, **options)
    except DatasetError:
        raise
    except MemoryError:
        raise DatasetError(
            f"There is not enough memory to load '{path}'. Use a smaller subset of the data, "
            "or close other programs and try again.",
            path=str(path),
        ) from None
    except (OSError, EOFError, zlib.error, ValueError) as exc:
        # A safety net: each loader names the specific problems it knows; anything else
        # still reaches the user as a sentence, not a traceback.
        raise DatasetError(f"Could not read '{path}': {exc}.", path=str(path)) from exc
    report(1.0)
    return dataset


def load_dataset(name_or_path: str | Path, **kw: Any) -> Dataset:
    """A built-in dataset if ``name_or_path`` is a built-in id, else a file or folder."""
    text = str(name_or_path)
    if text in BUILTIN:
        return load_builtin(text, **kw)
    path = Path(text).expanduser()
    if not path.exists():
        known = ", ".join(sorted(BUILTIN))
        raise DatasetError(
            f"'{text}' is neither a built-in dataset nor an existing file or folder. "
            f"Built-in datasets: {known}.",
            path=text,
        )
    return load_file(path, **kw)


def _loader(module: str, function: str) -> Callable[..., Dataset]:
    # Format modules are imported on first use: keeps `import engine.data` light.
    return getattr(importlib.import_module(f"{__package__}.{module}"), function)


def _pick_loader(path: Path) -> Callable[..., Dataset]:
    from .idx import IDX_NAME, find_idx_files

    if not path.exists():
        raise DatasetError(
            f"'{path}' does not exist. Check the path, or pick the file or folder again.",
            path=str(path),
        )
    if path.is_dir():
        if find_idx_files(path):
            return _loader("idx", "load_idx")
        if any(p.is_dir() and not p.name.startswith(".") for p in path.iterdir()):
            return _loader("images", "load_image_folder")
        raise DatasetError(
            f"The folder '{path}' holds neither MNIST-format IDX files nor one sub-folder of "
            f"images per class. LayerLab reads {FORMATS}.",
            path=str(path),
        )
    name = path.name.lower()
    if name.endswith(".npz"):
        return _loader("npz", "load_npz")
    if name.endswith(CSV_SUFFIXES):
        return _loader("tabular", "load_csv")
    if IDX_NAME.search(path.name):
        return _loader("idx", "load_idx")  # one of the four files: read the folder it is in
    if name.endswith(IMAGE_SUFFIXES):
        raise DatasetError(
            f"'{path}' is a single image. Pick the folder that holds one sub-folder of images "
            "per class instead.",
            path=str(path),
        )
    raise DatasetError(
        f"LayerLab cannot read '{path.name}': the format is not known from its name. "
        f"It reads {FORMATS}.",
        path=str(path),
    )
