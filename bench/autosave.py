"""What an autosave costs (gui/recovery.py Autosave.write_now): the digits
CNN example and a LayerLab copy of the pytorch/examples MNIST net (1,199,882 parameters), each
with its weights, the training panel's settings and three runs referenced, written into a
fresh data directory. The window's thread only takes a snapshot (how long typing waits);
the writer thread writes it (fsync and rename of each file).

    python -m bench.autosave [--writes N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path


def mnist_spec():
    from engine.model.spec import InputSpec, ModelSpec

    spec = ModelSpec(input=InputSpec("image", (1, 28, 28)), name="MNIST net")
    for type_id, params in (
        ("conv2d", {"out_channels": 32, "kernel_size": 3, "padding": 0}),
        ("relu", {}),
        ("conv2d", {"out_channels": 64, "kernel_size": 3, "padding": 0}),
        ("relu", {}),
        ("maxpool2d", {"kernel_size": 2, "stride": 2}),
        ("flatten", {}),
        ("dense", {"units": 128}),
        ("relu", {}),
        ("dense", {"units": 10}),
    ):
        spec = spec.insert(len(spec.blocks), spec.new_block(type_id, params))
    return spec


def measure(window, spec, writes: int, runs_dir: Path) -> tuple[int, list[float]]:
    import torch

    from engine.nn.build import build_model
    from engine.runs.folder import write_json_atomic

    doc = window.document
    doc.new(spec)
    weights = {k: v.numpy().copy() for k, v in build_model(spec).state_dict().items()}
    doc.set_weights(weights)
    for n in range(3):
        run = runs_dir / f"{spec.name}-{n}".replace(" ", "-")
        run.mkdir(parents=True)
        write_json_atomic(run / "run.json", {"format": "layerlab.run", "version": 1})
        doc.add_run(run)
    autosave = window.files.autosave
    held, written = [], []
    for _ in range(writes):
        started = time.perf_counter()
        assert autosave.write_now()
        held.append((time.perf_counter() - started) * 1e3)
        autosave.wait()
        written.append(autosave.last_write_seconds * 1e3)
    del torch
    return sum(w.size for w in weights.values()), held, written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=20)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="layerlab-bench-autosave-"))
    os.environ["LAYERLAB_DATA_DIR"] = str(tmp / "data")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSettings

    from engine.model.examples import example_path
    from engine.model.spec import ModelSpec
    from gui.app import _application
    from gui.editor.document import ModelDocument
    from gui.workbench import build_main_window

    _application()
    window = build_main_window(
        ModelDocument(), QSettings(str(tmp / "s.ini"), QSettings.Format.IniFormat)
    )
    window.show()
    for name, spec in (
        ("digits CNN", ModelSpec.load(example_path("digits_cnn"))),
        ("MNIST net", mnist_spec()),
    ):
        params, held, written = measure(window, spec, args.writes, tmp / "data" / "runs")
        print(
            f"{name}: {params:,} parameters, 3 runs referenced, {args.writes} autosaves: "
            f"window's thread held median {statistics.median(held):.2f} ms "
            f"(max {max(held):.2f}); the write on the writer thread median "
            f"{statistics.median(written):.1f} ms (max {max(written):.1f})"
        )
    window.document.new(ModelSpec())
    window.close()


if __name__ == "__main__":
    main()
