"""File > Export… and File > Import weights…, with the file dialogs and message boxes stubbed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault(
    "QT_QPA_PLATFORM", "offscreen"
)  # before Qt starts (tests/conftest.py does too)

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PySide6.QtWidgets import QFileDialog, QMessageBox  # noqa: E402

from engine.export.formats import export_formats, export_weights  # noqa: E402
from engine.export.weights import read_weights  # noqa: E402
from engine.model.spec import ModelSpec  # noqa: E402
from gui.export_dialog import (  # noqa: E402
    export_filters,
    export_from_window,
    import_weights_dialog,
    resolve_export_path,
)

# Every test here fails if it leaves a window, a thread or a training process behind.
pytestmark = pytest.mark.usefixtures("leak_check")

SPEC = ModelSpec.from_dict({
    "format": "layerlab-model", "version": 1, "name": "Tiny GRU / test",
    "input": {"kind": "sequence", "shape": [5, 2]},
    "blocks": [
        {"id": "gru1", "type": "gru", "params": {"hidden_size": 3}},
        {"id": "dense1", "type": "dense", "params": {"units": 2}},
    ],
})  # fmt: skip
FILTERS = dict(zip((f.id for f in export_formats()), export_filters(), strict=True))


@pytest.fixture
def boxes(monkeypatch, qapp):
    """Record what the message boxes would have shown: (kind, text)."""
    shown: list[tuple[str, str]] = []
    for kind in ("information", "critical"):

        def show(_parent, _title, text, *_args, _kind=kind, **_kwargs):
            shown.append((_kind, text))
            return QMessageBox.StandardButton.Ok

        monkeypatch.setattr(QMessageBox, kind, staticmethod(show))
    return shown


def _save_dialog(monkeypatch, path, filter_id="safetensors"):
    asked = {}

    def get_save_file_name(_parent, _caption, start, filters, selected):
        asked.update(start=start, filters=filters.split(";;"), selected=selected)
        return (str(path), FILTERS[filter_id]) if path else ("", "")

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(get_save_file_name))
    return asked


def _open_dialog(monkeypatch, path):
    monkeypatch.setattr(
        QFileDialog, "getOpenFileName", staticmethod(lambda *_a, **_k: (str(path), ""))
    )


def _weights(tmp_path) -> dict[str, np.ndarray]:
    """Weights as the GUI holds them: numpy arrays by name (here: a fresh model's, perturbed)."""
    export_weights(SPEC, None, tmp_path / "seed.safetensors")
    return {k: v + 0.5 for k, v in read_weights(tmp_path / "seed.safetensors").items()}


def test_export_writes_the_chosen_format_and_reports_it(monkeypatch, boxes, tmp_path):
    weights = _weights(tmp_path)
    asked = _save_dialog(monkeypatch, tmp_path / "tiny.onnx", "onnx")
    result = export_from_window(None, SPEC, weights, start_dir=str(tmp_path))
    assert result is not None and result.fmt == "onnx" and result.path.stat().st_size > 0
    assert boxes == [("information", "Exported the trained weights to tiny.onnx (ONNX).")]
    assert asked["filters"] == export_filters() and asked["selected"] == FILTERS["safetensors"]
    assert Path(asked["start"]).name == "tiny_gru_test.safetensors"


def test_export_without_weights_says_they_are_initial(monkeypatch, boxes, tmp_path):
    _save_dialog(monkeypatch, tmp_path / "tiny.pt", "state_dict")
    result = export_from_window(None, SPEC, None)
    assert result is not None and result.fmt == "state_dict"
    assert "initial (untrained) weights" in boxes[0][1]


def test_exported_weights_are_the_ones_given(monkeypatch, boxes, tmp_path):
    weights = _weights(tmp_path)
    _save_dialog(monkeypatch, tmp_path / "tiny.safetensors")
    export_from_window(None, SPEC, weights)
    back = read_weights(tmp_path / "tiny.safetensors")
    assert back.keys() == weights.keys()
    for name, array in weights.items():
        np.testing.assert_array_equal(back[name], array)


def test_cancelled_export_does_nothing(monkeypatch, boxes, tmp_path):
    _save_dialog(monkeypatch, None)
    assert export_from_window(None, SPEC, None) is None
    assert boxes == []


def test_export_error_is_shown_not_raised(monkeypatch, boxes, tmp_path):
    weights = _weights(tmp_path)
    del weights["dense1.bias"]
    _save_dialog(monkeypatch, tmp_path / "tiny.pt", "state_dict")
    assert export_from_window(None, SPEC, weights) is None
    [(kind, text)] = boxes
    assert kind == "critical" and "tiny.pt" in text and "dense1.bias" in text
    assert not (tmp_path / "tiny.pt").exists()


@pytest.mark.parametrize(
    ("typed", "filter_id", "expected"),
    [
        ("m", "onnx", ("m.onnx", "onnx")),
        ("m.v2", "python", ("m.v2.py", "python")),
        ("m.ONNX", "state_dict", ("m.ONNX", "onnx")),  # the typed extension wins
        ("m.pt", "torchscript", ("m.pt", "torchscript")),  # TorchScript is often named .pt
        ("m.pt", "state_dict", ("m.pt", "state_dict")),
    ],
)
def test_resolve_export_path(typed, filter_id, expected):
    chosen = next(f for f in export_formats() if f.id == filter_id)
    path, fmt = resolve_export_path(f"/x/{typed}", chosen)
    assert (path.name, fmt) == expected


def test_import_returns_numpy_weights_that_fit(monkeypatch, boxes, tmp_path):
    weights = _weights(tmp_path)
    export_weights(SPEC, weights, tmp_path / "trained.pt")
    _open_dialog(monkeypatch, tmp_path / "trained.pt")
    loaded = import_weights_dialog(None, SPEC)
    assert loaded is not None and loaded.keys() == weights.keys()
    assert all(isinstance(a, np.ndarray) for a in loaded.values())  # never a live tensor
    np.testing.assert_array_equal(loaded["gru1.weight_ih_l0"], weights["gru1.weight_ih_l0"])
    assert boxes[0][0] == "information" and "trained.pt" in boxes[0][1]


def test_import_of_weights_for_another_model_is_refused(monkeypatch, boxes, tmp_path):
    export_weights(SPEC.with_params(0, {"hidden_size": 4}), None, tmp_path / "other.safetensors")
    _open_dialog(monkeypatch, tmp_path / "other.safetensors")
    assert import_weights_dialog(None, SPEC) is None
    [(kind, text)] = boxes
    assert kind == "critical" and "other.safetensors" in text and "gru1.weight_hh_l0" in text


def test_cancelled_import_does_nothing(monkeypatch, boxes):
    _open_dialog(monkeypatch, "")
    assert import_weights_dialog(None, SPEC) is None
    assert boxes == []


def test_importing_the_dialog_module_does_not_import_torch():
    # The window opens before torch has loaded; File menu code must not pull it in.
    code = "import sys, gui.export_dialog; print('torch' in sys.modules)"
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"
