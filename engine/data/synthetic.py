"""Generators for the synthetic built-in datasets: pure, vectorised numpy, seeded by ``rng``.

Each returns ``(x, y)`` with x float32 and y int64 class indices or float32 (N, K) targets.
"""

from __future__ import annotations

import numpy as np

SHAPE_NAMES = ("circle", "square", "triangle", "cross", "ring")


def shapes(rng: np.random.Generator, n_samples: int, size: int = 28, noise: float = 0.1):
    """Grey ``size``×``size`` images of filled shapes, each jittered in place, size, angle and
    brightness, over a noisy background. Classes are balanced."""
    y = rng.permutation(np.arange(n_samples) % len(SHAPE_NAMES)).astype(np.int64)
    radius = rng.uniform(0.22, 0.42, n_samples) * size
    # Centre far enough from the border that the whole shape stays in the picture.
    margin = radius + 1.0
    cx = margin + rng.uniform(0, 1, n_samples) * (size - 1 - 2 * margin)
    cy = margin + rng.uniform(0, 1, n_samples) * (size - 1 - 2 * margin)
    angle = rng.uniform(-0.35, 0.35, n_samples)
    brightness = rng.uniform(0.6, 1.0, n_samples).astype(np.float32)

    grid = np.arange(size, dtype=np.float32)
    x = np.zeros((n_samples, size, size), dtype=np.float32)
    for label, name in enumerate(SHAPE_NAMES):
        idx = np.flatnonzero(y == label)
        if len(idx) == 0:
            continue
        r = radius[idx, None, None].astype(np.float32)
        dx = (grid[None, None, :] - cx[idx, None, None]) / r
        dy = (grid[None, :, None] - cy[idx, None, None]) / r
        cos, sin = np.cos(angle[idx, None, None]), np.sin(angle[idx, None, None])
        u, v = cos * dx + sin * dy, -sin * dx + cos * dy  # shape-local, rotated coordinates
        x[idx] = _shape_mask(name, u, v)
    x *= brightness[:, None, None]
    x += rng.normal(0.0, noise, x.shape).astype(np.float32)
    np.clip(x, 0.0, 1.0, out=x)
    return x[:, None, :, :], y


def _shape_mask(name: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    r2 = u * u + v * v
    au, av = np.abs(u), np.abs(v)
    if name == "circle":
        mask = r2 <= 1.0
    elif name == "ring":
        mask = (r2 <= 1.0) & (r2 >= 0.36)
    elif name == "square":
        mask = np.maximum(au, av) <= 0.8
    elif name == "triangle":
        # Apex at the top (v = -0.9), base at v = 0.75, half-width 0.95 at the base.
        mask = (v <= 0.75) & (au <= (v + 0.9) * (0.95 / 1.65))
    elif name == "cross":
        mask = ((au <= 0.28) & (av <= 0.95)) | ((av <= 0.28) & (au <= 0.95))
    else:  # pragma: no cover - SHAPE_NAMES and this function are kept in step
        raise ValueError(name)
    return mask.astype(np.float32)


def sine(rng: np.random.Generator, n_samples: int, seq_len: int, noise: float = 0.05):
    """Windows of noisy sine waves of random frequency, amplitude and phase (T, 1); the
    target is the clean value one step after the window (1,)."""
    # Periods from 6 to 40 steps: short enough to see a cycle in a window, several per set.
    period = rng.uniform(6.0, 40.0, (n_samples, 1))
    amplitude = rng.uniform(0.5, 1.0, (n_samples, 1))
    phase = rng.uniform(0.0, 2 * np.pi, (n_samples, 1))
    t = np.arange(seq_len + 1, dtype=np.float64)[None, :]
    clean = amplitude * np.sin(2 * np.pi * t / period + phase)
    x = clean[:, :seq_len] + rng.normal(0.0, noise, (n_samples, seq_len))
    return x[:, :, None].astype(np.float32), clean[:, seq_len:].astype(np.float32)


def adding(rng: np.random.Generator, n_samples: int, seq_len: int):
    """The adding problem (Hochreiter & Schmidhuber 1997): channel 0 holds random values in
    [0, 1], channel 1 marks two steps, one in each half; the target is the sum of the two
    marked values. Predicting the mean (1.0) gives an MSE of about 0.167."""
    values = rng.uniform(0.0, 1.0, (n_samples, seq_len))
    half = max(seq_len // 2, 1)
    first = rng.integers(0, half, n_samples)
    second = rng.integers(half, seq_len, n_samples) if seq_len > 1 else first
    markers = np.zeros((n_samples, seq_len))
    rows = np.arange(n_samples)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    target = values[rows, first] + values[rows, second] * (second != first)
    x = np.stack([values, markers], axis=-1).astype(np.float32)
    return x, target[:, None].astype(np.float32)


def first_symbol(
    rng: np.random.Generator,
    n_samples: int,
    seq_len: int,
    n_symbols: int,
    noise: float = 0.2,
    distractors: str = "noise",
):
    """Sequences (T, n_symbols) whose first step is a one-hot symbol, the label. The later steps
    are Gaussian noise (``distractors="noise"``) or random one-hot symbols plus noise
    (``"symbols"``, much harder), so the answer must be carried across all T steps."""
    y = rng.permutation(np.arange(n_samples) % n_symbols)  # balanced classes
    if distractors == "symbols":
        symbols = rng.integers(0, n_symbols, (n_samples, seq_len))
        symbols[:, 0] = y
        x = np.eye(n_symbols, dtype=np.float32)[symbols]
    else:
        # Noise, not symbols: what is to be remembered is unambiguous, so the task measures
        # memory span alone — the RNN's fades with T, the LSTM's cell keeps it.
        x = np.zeros((n_samples, seq_len, n_symbols), dtype=np.float32)
        x[np.arange(n_samples), 0, y] = 1.0
    if noise > 0:
        x[:, 1:] += rng.normal(0.0, noise, x[:, 1:].shape).astype(np.float32)
    return x, y.astype(np.int64)


def moons(rng: np.random.Generator, n_samples: int, noise: float):
    """Two interleaving half circles."""
    n_out = n_samples // 2
    n_in = n_samples - n_out
    t_out = rng.uniform(0.0, np.pi, n_out)
    t_in = rng.uniform(0.0, np.pi, n_in)
    outer = np.stack([np.cos(t_out), np.sin(t_out)], axis=1)
    inner = np.stack([1.0 - np.cos(t_in), 0.5 - np.sin(t_in)], axis=1)
    x = np.concatenate([outer, inner]) + rng.normal(0.0, noise, (n_samples, 2))
    x -= (0.5, 0.25)  # centre the pair on the origin
    y = np.concatenate([np.zeros(n_out), np.ones(n_in)]).astype(np.int64)
    order = rng.permutation(n_samples)
    return x[order].astype(np.float32), y[order]


def spirals(rng: np.random.Generator, n_samples: int, noise: float, n_classes: int):
    """``n_classes`` interleaved spiral arms of 1.5 turns each."""
    y = rng.permutation(np.arange(n_samples) % n_classes).astype(np.int64)
    t = np.sqrt(rng.uniform(0.0, 1.0, n_samples))  # even density along the arm
    theta = t * 3.0 * np.pi + y * (2 * np.pi / n_classes)
    x = np.stack([t * np.cos(theta), t * np.sin(theta)], axis=1)
    x += rng.normal(0.0, noise, x.shape)
    return x.astype(np.float32), y


def circles(rng: np.random.Generator, n_samples: int, noise: float, factor: float = 0.5):
    """A small circle (class 1) inside a large one (class 0)."""
    y = rng.permutation(np.arange(n_samples) % 2).astype(np.int64)
    theta = rng.uniform(0.0, 2 * np.pi, n_samples)
    r = np.where(y == 1, factor, 1.0)
    x = np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1)
    x += rng.normal(0.0, noise, x.shape)
    return x.astype(np.float32), y
