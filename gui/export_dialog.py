"""File > Export… and File > Import weights…: a file dialog, one engine call, one message box.

The GUI holds weights as numpy arrays only; building the torch model, checking and writing
happen in the engine (engine.export.formats.export_weights, engine.export.weights.load_weights_into_spec).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox, QWidget

from engine.export.formats import (
    ExportError,
    ExportFormat,
    ExportResult,
    export_formats,
    export_weights,
)
from engine.export.weights import WEIGHT_EXTENSIONS, WeightsError, load_weights_into_spec

if TYPE_CHECKING:
    import numpy as np

    from engine.model.spec import ModelSpec

DEFAULT_FORMAT = "safetensors"  # weights plus the model spec, and no pickle: the safest default


def export_filters() -> list[str]:
    """One file-dialog filter per export format, e.g. "ONNX (*.onnx)"."""
    return [_filter(f) for f in export_formats()]


def export_from_window(
    parent: QWidget | None,
    spec: ModelSpec,
    weights: dict[str, np.ndarray] | None,
    *,
    start_dir: str = "",
) -> ExportResult | None:
    """Ask where to export, write the file, and tell the user; None when cancelled or failed.

    ``weights`` None exports initial (untrained) weights, and the message says so.
    """
    formats = {_filter(f): f for f in export_formats()}
    default = next(f for f in export_formats() if f.id == DEFAULT_FORMAT)
    start = str(Path(start_dir) / f"{_file_stem(spec.name)}{default.extension}")
    path, chosen_filter = QFileDialog.getSaveFileName(
        parent, "Export model", start, ";;".join(formats), _filter(default)
    )
    if not path:
        return None
    path, fmt = resolve_export_path(path, formats.get(chosen_filter, default))
    QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)  # ONNX and TorchScript take a moment
    try:
        result = export_weights(spec, weights, path, fmt=fmt)
    except ExportError as err:
        QMessageBox.critical(parent, "Export failed", str(err))
        return None
    finally:
        QApplication.restoreOverrideCursor()
    QMessageBox.information(parent, "Export", result.message)
    return result


def resolve_export_path(path: str, chosen: ExportFormat) -> tuple[Path, str]:
    """The file to write and its format, from the name typed and the filter chosen.

    A known extension typed by the user wins over the filter, except .pt with the TorchScript
    filter (TorchScript files are often named .pt); a name without one gets the filter's.
    """
    target = Path(path)
    typed = next((f for f in export_formats() if f.extension == target.suffix.lower()), None)
    if typed is None:
        return target.with_name(target.name + chosen.extension), chosen.id
    if chosen.id == "torchscript" and typed.id == "state_dict":
        return target, "torchscript"
    return target, typed.id


def import_weights_dialog(
    parent: QWidget | None, spec: ModelSpec, *, start_dir: str = ""
) -> dict[str, np.ndarray] | None:
    """Ask for a .safetensors or .pt file and return its weights, checked against ``spec``.

    None when cancelled or refused (the reason is shown); the model is never half-loaded because
    nothing is returned unless every tensor fits.
    """
    patterns = " ".join(f"*{ext}" for ext in WEIGHT_EXTENSIONS)
    path, _ = QFileDialog.getOpenFileName(
        parent, "Import weights", start_dir, f"Weights ({patterns});;All files (*)"
    )
    if not path:
        return None
    QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
    try:
        weights = load_weights_into_spec(spec, path)
    except WeightsError as err:
        QMessageBox.critical(parent, "Import failed", str(err))
        return None
    finally:
        QApplication.restoreOverrideCursor()
    values = sum(a.size for a in weights.values())
    QMessageBox.information(
        parent,
        "Import weights",
        f"Loaded {len(weights)} tensors ({values:,} values) from {Path(path).name}.",
    )
    return weights


def _filter(fmt: ExportFormat) -> str:
    return f"{fmt.description} (*{fmt.extension})"


def _file_stem(name: str) -> str:
    stem = re.sub(r"[^\w-]+", "_", name, flags=re.ASCII).strip("_").lower()
    return stem or "model"
