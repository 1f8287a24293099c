"""Entry points: a built-in id or a path in, a Dataset out; the format decides the loader."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .builtin import BUILTIN, load_builtin
from .dataset import Dataset
from .errors import DatasetError
from .formats import detect_format
from .prepare import check_val_fraction
from .resources import Progress


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
    loader = detect_format(path).loader()
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
