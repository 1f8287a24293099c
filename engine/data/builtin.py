"""Registry of built-in datasets: offline, seeded, deterministic.

Adding a dataset is one ``register(BuiltinInfo(...))`` entry; the parametrised tests in
tests/engine/test_data_builtin.py pick it up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from math import prod
from typing import Any

import numpy as np

from engine.model.params import Param, ParamError

from . import synthetic
from .dataset import Dataset
from .errors import DatasetError
from .prepare import build, check_val_fraction
from .resources import MemoryEstimate, ProgressFn, affordable_bytes, require_memory

# (rng, options) -> (x, y, class_names or None)
Generator = Callable[[np.random.Generator, dict[str, Any]], tuple[np.ndarray, np.ndarray, Any]]
# options -> what generating and splitting it will hold, known before anything is allocated
Footprint = Callable[[dict[str, Any]], MemoryEstimate]


@dataclass(frozen=True)
class BuiltinInfo:
    """What the dataset panel shows about a built-in set, and how to make it."""

    id: str
    title: str
    description: str
    input_kind: str
    task: str
    generate: Generator = field(repr=False)
    memory: Footprint = field(repr=False)
    params: tuple[Param, ...] = ()

    @property
    def options(self) -> dict[str, Any]:
        """Option name -> default value."""
        return {p.name: p.default for p in self.params}


BUILTIN: dict[str, BuiltinInfo] = {}


def register(info: BuiltinInfo) -> BuiltinInfo:
    """Add a built-in dataset; ids are stable (saved in project files) and must be unique."""
    if info.id in BUILTIN:
        raise ValueError(f"a built-in dataset with id {info.id!r} is already registered")
    BUILTIN[info.id] = info
    return info


def load_builtin(
    name: str,
    *,
    seed: int = 0,
    val_fraction: float = 0.2,
    progress: ProgressFn | None = None,
    **options: Any,
) -> Dataset:
    """Generate the built-in dataset ``name`` with ``options`` (see BUILTIN[name].options)."""
    info = BUILTIN.get(name)
    if info is None:
        known = ", ".join(sorted(BUILTIN))
        raise DatasetError(f"There is no built-in dataset called '{name}'. Built-in: {known}.")
    val_fraction = check_val_fraction(val_fraction)
    values = _check_options(info, options)
    _require_memory(info, values)
    x, y, class_names = info.generate(np.random.default_rng(int(seed)), values)
    dataset = build(
        name=info.id,
        task=info.task,
        input_kind=info.input_kind,
        x=x,
        y=y,
        seed=seed,
        val_fraction=val_fraction,
        class_names=tuple(class_names) if class_names is not None else None,
        description=info.description,
        source=info.id,
        options={"seed": int(seed), "val_fraction": val_fraction, **values},
    )
    if progress is not None:
        progress(1.0)
    return dataset


def _check_options(info: BuiltinInfo, options: dict[str, Any]) -> dict[str, Any]:
    params = {p.name: p for p in info.params}
    unknown = sorted(set(options) - set(params))
    if unknown:
        allowed = ", ".join(params) or "none"
        raise DatasetError(
            f"The built-in dataset '{info.id}' has no option '{unknown[0]}'. "
            f"Its options are: {allowed}."
        )
    values = info.options
    for key, value in options.items():
        try:
            values[key] = params[key].validate(value)
        except ParamError as exc:
            raise DatasetError(
                f"Option '{key}' of the built-in dataset '{info.id}' {exc}."
            ) from None
    return values


def _require_memory(info: BuiltinInfo, values: dict[str, Any]) -> None:
    estimate = info.memory(values)
    fix = "Close other programs and try again."
    if "n_samples" in values:
        # Every array grows with the number of samples, so the estimate scales with it.
        allowed = affordable_bytes() or 0
        fitting = int(values["n_samples"] * allowed / max(estimate.peak, 1))
        fix = f"Lower 'n_samples' to at most {fitting:,}"
        fix += ", or 'seq_len'." if "seq_len" in values else "."
        fix += "" if "size" not in values else " A smaller 'size' helps too."
    shown = ", ".join(
        f"{k}={v}" for k, v in values.items() if k in ("n_samples", "seq_len", "size", "n_symbols")
    )
    require_memory(estimate, None, f"The built-in dataset '{info.id}' ({shown})", fix)


def _footprint(n: int, sample: tuple[int, ...], y_bytes: int, work: float) -> MemoryEstimate:
    """``n`` samples of float32 x of shape ``sample`` and ``y_bytes`` of y each, made by a
    generator that holds ``work`` bytes per value of x at its peak (counted in its code)."""
    values = n * prod(sample)
    return MemoryEstimate(
        reading=int(values * work) + n * y_bytes, dataset=values * 4 + n * y_bytes
    )


def _n_samples(default: int, maximum: int = 200_000) -> Param:
    return Param("n_samples", "int", default, "Samples", minimum=10, maximum=maximum)


def _noise(default: float) -> Param:
    return Param("noise", "float", default, "Noise", minimum=0.0, maximum=2.0)


def _digits(rng: np.random.Generator, o: dict[str, Any]):
    from sklearn.datasets import load_digits  # ships with scikit-learn; nothing downloaded

    bunch = load_digits()
    x = (bunch.images / 16.0).astype(np.float32)[:, None, :, :]
    return x, bunch.target.astype(np.int64), [str(i) for i in range(10)]


def _shapes(rng, o):
    x, y = synthetic.shapes(rng, o["n_samples"], o["size"], o["noise"])
    return x, y, synthetic.SHAPE_NAMES


def _sine(rng, o):
    return (*synthetic.sine(rng, o["n_samples"], o["seq_len"], o["noise"]), None)


def _adding(rng, o):
    return (*synthetic.adding(rng, o["n_samples"], o["seq_len"]), None)


def _first_symbol(rng, o):
    n = o["n_symbols"]
    x, y = synthetic.first_symbol(
        rng, o["n_samples"], o["seq_len"], n, o["noise"], o["distractors"]
    )
    return x, y, [chr(ord("A") + i) for i in range(n)]


def _moons(rng, o):
    return (*synthetic.moons(rng, o["n_samples"], o["noise"]), ["upper", "lower"])


def _spirals(rng, o):
    k = o["n_classes"]
    return (*synthetic.spirals(rng, o["n_samples"], o["noise"], k), [f"arm {i}" for i in range(k)])


def _circles(rng, o):
    return (*synthetic.circles(rng, o["n_samples"], o["noise"]), ["outer", "inner"])


# What each generator holds at its peak, per value of x, counted from synthetic.py: the
# float64 temporaries of numpy's random draws and arithmetic beside the float32 result.
def _digits_memory(o):
    # scikit-learn parses its compressed CSV of 1,797 samples (float64) and copies the images.
    return MemoryEstimate(reading=3_000_000, dataset=1797 * (64 * 4 + 8))


def _shapes_memory(o):
    # x (4) + float64 noise (8) + its float32 copy (4); the per-class masks are freed before.
    return _footprint(o["n_samples"], (1, o["size"], o["size"]), 8, 16)


def _sine_memory(o):
    # the clean wave, the noise and their sum, all float64
    return _footprint(o["n_samples"], (o["seq_len"], 1), 4, 24)


def _adding_memory(o):
    # values and markers (float64, one of each per step = 8 per value), stacked (8), float32 (4)
    return _footprint(o["n_samples"], (o["seq_len"], 2), 4, 20)


def _first_symbol_memory(o):
    # x (4) + float64 noise (8) + its float32 copy (4); int64 symbol ids once per step
    extra = 8 / o["n_symbols"] if o["distractors"] == "symbols" else 0
    return _footprint(o["n_samples"], (o["seq_len"], o["n_symbols"]), 8, 16 + extra)


def _points_memory(o):
    # float64 points, noise, their sum and the shuffled copy, and the int64 labels' copies
    return _footprint(o["n_samples"], (2,), 8, 40)


_SEQ_LEN_MAX = 2000

register(
    BuiltinInfo(
        "digits",
        "Handwritten digits 8×8",
        "1,797 real handwritten digits (0-9) as 8×8 grey images, from scikit-learn.",
        "image",
        "classification",
        _digits,
        _digits_memory,
    )
)
register(
    BuiltinInfo(
        "shapes",
        "Shapes 28×28",
        "Synthetic grey images of circles, squares, triangles, crosses and rings with noise "
        "and jittered position, size, angle and brightness: a CNN task with no download.",
        "image",
        "classification",
        _shapes,
        _shapes_memory,
        (
            _n_samples(3000),
            Param("size", "int", 28, "Image size", minimum=12, maximum=128),
            _noise(0.1),
        ),
    )
)
register(
    BuiltinInfo(
        "sine",
        "Sine-wave forecasting",
        "Noisy sine waves of several frequencies; predict the next value of the wave.",
        "sequence",
        "forecast",
        _sine,
        _sine_memory,
        (
            _n_samples(2000),
            Param("seq_len", "int", 40, "Sequence length", minimum=2, maximum=_SEQ_LEN_MAX),
            _noise(0.05),
        ),
    )
)
register(
    BuiltinInfo(
        "adding",
        "Adding problem",
        "Long-memory test: add the two marked values of a sequence. A vanilla RNN fails as the "
        "sequence grows; an LSTM learns it.",
        "sequence",
        "regression",
        _adding,
        _adding_memory,
        (
            _n_samples(3000),
            Param("seq_len", "int", 50, "Sequence length", minimum=2, maximum=_SEQ_LEN_MAX),
        ),
    )
)
register(
    BuiltinInfo(
        "first_symbol",
        "Remember the first symbol",
        "Long-memory test: name the symbol shown at the first step of a sequence whose later "
        "steps are noise (or random distractor symbols). A vanilla RNN fails as the sequence "
        "grows (try 100 steps); an LSTM learns it.",
        "sequence",
        "classification",
        _first_symbol,
        _first_symbol_memory,
        (
            _n_samples(3000),
            Param("seq_len", "int", 30, "Sequence length", minimum=1, maximum=_SEQ_LEN_MAX),
            Param("n_symbols", "int", 4, "Symbols", minimum=2, maximum=26),
            _noise(0.2),
            Param("distractors", "choice", "noise", "Later steps", choices=("noise", "symbols")),
        ),
    )
)
register(
    BuiltinInfo(
        "moons",
        "Two moons",
        "2-D points on two interleaving half circles.",
        "vector",
        "classification",
        _moons,
        _points_memory,
        (_n_samples(1000), _noise(0.1)),
    )
)
register(
    BuiltinInfo(
        "spirals",
        "Spirals",
        "2-D points on interleaved spiral arms, one class per arm.",
        "vector",
        "classification",
        _spirals,
        _points_memory,
        (
            _n_samples(1000),
            _noise(0.05),
            Param("n_classes", "int", 2, "Arms", minimum=2, maximum=8),
        ),
    )
)
register(
    BuiltinInfo(
        "circles",
        "Circles",
        "2-D points on a small circle inside a large one.",
        "vector",
        "classification",
        _circles,
        _points_memory,
        (_n_samples(1000), _noise(0.08)),
    )
)
