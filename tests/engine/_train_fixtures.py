"""Tiny models and datasets for the Trainer tests (each run well under a second)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.data import Dataset
from engine.model.spec import InputSpec, ModelSpec
from engine.training.events import Callback


def make_spec(
    kind: str, shape: tuple[int, ...], blocks: list[tuple[str, dict]], name="tiny"
) -> ModelSpec:
    spec = ModelSpec(input=InputSpec(kind, shape), name=name)
    for type_id, params in blocks:
        spec = spec.insert(len(spec.blocks), spec.new_block(type_id, params))
    return spec


def mlp_spec(features=2, classes=2) -> ModelSpec:
    return make_spec(
        "vector",
        (features,),
        [("dense", {"units": 8}), ("relu", {}), ("dense", {"units": classes})],
    )


def cnn_spec(classes=3) -> ModelSpec:
    return make_spec(
        "image",
        (1, 8, 8),
        [
            ("conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}),
            ("relu", {}),
            ("maxpool2d", {"kernel_size": 2, "stride": 2}),
            ("flatten", {}),
            ("dense", {"units": classes}),
        ],
    )


def rnn_spec(block="lstm", steps=6, features=3, outputs=1) -> ModelSpec:
    return make_spec(
        "sequence",
        (steps, features),
        [
            (block, {"hidden_size": 5}),
            ("dense", {"units": outputs}),
        ],
    )


def vector_data(n=96, features=2, classes=2, seed=0) -> Dataset:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64) % classes
    cut = n * 3 // 4
    return Dataset(
        "vec",
        "classification",
        x[:cut],
        y[:cut],
        x[cut:],
        y[cut:],
        "vector",
        (features,),
        tuple(f"c{i}" for i in range(classes)),
    )


def image_data(n=48, classes=3, seed=0) -> Dataset:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 1, 8, 8)).astype(np.float32)
    y = rng.integers(0, classes, n).astype(np.int64)
    return Dataset(
        "img",
        "classification",
        x[:36],
        y[:36],
        x[36:],
        y[36:],
        "image",
        (1, 8, 8),
        tuple(f"c{i}" for i in range(classes)),
    )


def sequence_data(n=40, steps=6, features=3, seed=0, scale=1.0) -> Dataset:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, steps, features)).astype(np.float32)
    y = (scale * x[:, :, :1].sum(axis=1)).astype(np.float32)
    return Dataset(
        "seq", "regression", x[:30], y[:30], x[30:], y[30:], "sequence", (steps, features), None
    )


class Recorder(Callback):
    """Keeps every event; optional ``on_step(trainer, event)`` hook for control tests."""

    def __init__(self, on_step=None):
        self.events = []
        self.on_step = on_step
        self.trainer = None

    def on_event(self, event):
        self.events.append(event)

    def on_step_end(self, event):
        if self.on_step is not None:
            self.on_step(self.trainer, event)

    def of(self, cls):
        return [e for e in self.events if isinstance(e, cls)]


def model_beside_its_data(folder: Path) -> Path:
    """sub/model.json whose dataset is "data.npz": a path relative to the model file."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    np.savez(folder / "data.npz", x=rng.normal(size=(40, 2)), y=rng.integers(0, 2, 40))
    spec = mlp_spec()
    spec = type(spec)(spec.input, spec.blocks, "beside", "data.npz", {"seed": 1})
    spec.save(folder / "model.json")
    return folder / "model.json"


def wait_for_epochs(proc, folder: Path, epochs: int, timeout: float = 180.0) -> None:
    """Wait until the run that ``proc`` (a `main.py train` subprocess) records in ``folder``
    has finished ``epochs`` epochs, by its run.json (renamed into place whole); fail if the
    process ends first or the time runs out."""
    import json
    import time

    deadline = time.monotonic() + timeout
    while True:
        try:
            done = json.loads((folder / "run.json").read_text())["epochs_done"]
        except (OSError, ValueError, KeyError):
            done = 0  # not written yet
        if done >= epochs:
            return
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, f"the run did not finish {epochs} epochs in time"
        time.sleep(0.02)  # polling the folder, not waiting for a time to pass
