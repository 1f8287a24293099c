"""The curves' point stores: a series that keeps a bounded number of points however long the
run, peak-preserving decimation, and the exponential moving average that smooths a loss.

No Qt here: plain numpy, shared by the Loss curves view, the Gradient flow view and the Runs
panel's overlays.
"""

from __future__ import annotations

import functools

import numpy as np

from gui.training.views.base import Bounds, bounds_of, merge_bounds

# Points a series keeps (x and y: 16 bytes each). A plot shows about a screen's width of them,
# twice (a bucket's low and high); the rest of a long run is on disk in its run folder.
MAX_SERIES_POINTS = 20_000
_EMA_BLOCK = 256


def peak_downsample(x: np.ndarray, y: np.ndarray, max_points: int) -> tuple[np.ndarray, ...]:
    """At most ``max_points`` points: the x range cut into ``max_points // 2`` equal buckets,
    each keeping its lowest and highest point in their order, so a spike (a diverging step)
    survives as pyqtgraph's peak mode keeps it on screen. Vectorised: ~2 ms for 10^5 points.
    Buckets of equal width in x, not in count: applied again to an already thinned history
    (GrowableSeries does, as a run grows) it keeps old steps as finely as recent ones."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    n = len(x)
    if n <= max_points:
        return x, y
    buckets = max(1, max_points // 2)
    lo, hi = float(np.nanmin(x)), float(np.nanmax(x))
    width = (hi - lo) / buckets if hi > lo else 1.0
    # NaN (a diverged step) sorts as the series' mean: it neither hides a real extreme nor is lost
    # silently when it is the bucket's only kind of point.
    finite = np.isfinite(y)
    filled = np.where(finite, y, np.mean(y[finite]) if finite.any() else 0.0)
    steps = np.diff(x)
    if np.all(steps == steps[0]):  # every step, evenly spaced (a recorded run): one reshape
        keep = _even_peaks(filled, -(-n // buckets))
    elif np.all(steps >= 0):  # steps in order, as runs record them: O(n), no sort
        keep = _sorted_peaks(x, filled, lo, width, buckets)
    else:
        bucket = np.minimum(((x - lo) / width).astype(np.int64), buckets - 1)
        order = np.lexsort((filled, bucket))  # by bucket, then by value
        sorted_bucket = bucket[order]
        starts = np.flatnonzero(np.r_[True, sorted_bucket[1:] != sorted_bucket[:-1]])
        ends = np.r_[starts[1:], n] - 1
        keep = np.unique(np.concatenate((order[starts], order[ends])))  # index order = x order
    return x[keep], y[keep]


def _even_peaks(y: np.ndarray, k: int) -> np.ndarray:
    """The indices of the lowest and highest point of each run of ``k`` points (~0.5 ms for
    10^5 points)."""
    n = len(y)
    m = n // k
    base = np.arange(m) * k
    block = y[: m * k].reshape(m, k)
    parts = [base + block.argmin(axis=1), base + block.argmax(axis=1)]
    if n > m * k:  # the last, shorter run
        parts.append(m * k + np.array([np.argmin(y[m * k :]), np.argmax(y[m * k :])]))
    return np.unique(np.concatenate(parts))


def _sorted_peaks(x: np.ndarray, y: np.ndarray, lo: float, width: float, buckets: int):
    """The indices of each bucket's lowest and highest point when x is sorted: the buckets are
    runs of consecutive points, so numpy's reduceat finds them (~2 ms for 10^5 points, a
    tenth of sorting)."""
    n = len(x)
    edges = lo + width * np.arange(1, buckets)
    starts = np.unique(np.r_[0, np.searchsorted(x, edges, side="left")])
    starts = starts[starts < n]
    counts = np.diff(np.r_[starts, n])
    index = np.arange(n)
    low = np.repeat(np.minimum.reduceat(y, starts), counts)
    high = np.repeat(np.maximum.reduceat(y, starts), counts)
    first_low = np.minimum.reduceat(np.where(y == low, index, n), starts)
    first_high = np.minimum.reduceat(np.where(y == high, index, n), starts)
    return np.unique(np.concatenate((first_low, first_high)))


@functools.lru_cache(maxsize=4)
def _ema_matrix(a: float, n: int) -> np.ndarray:
    """M[i, k] = (1 - a) a^(i - k) for k <= i: one block of the EMA as a matrix product."""
    i = np.arange(n)
    power = i[:, None] - i[None, :]
    matrix = np.where(power >= 0, (1.0 - a) * a ** np.maximum(power, 0), 0.0)
    matrix.setflags(write=False)  # cached and shared: every repaint used to rebuild it (~0.6 ms)
    return matrix


def ema(y: np.ndarray, a: float, start: float) -> np.ndarray:
    """s_t = a s_{t-1} + (1 - a) y_t with s_{-1} = start, in blocks of matrix products.

    The recurrence is sequential; a Python loop over 10^6 points takes ~1 s, blocks of 256
    as (256 x 256) products take ~0.1 s (and scipy.signal, which has it in C, costs 1.4 s to
    import). Non-finite inputs are carried as the previous value and shown as gaps.
    """
    out = np.empty(len(y), dtype=np.float64)
    matrix = _ema_matrix(a, _EMA_BLOCK)
    decay = a ** np.arange(1, _EMA_BLOCK + 1)
    prev = start
    for begin in range(0, len(y), _EMA_BLOCK):
        chunk = np.asarray(y[begin : begin + _EMA_BLOCK], dtype=np.float64)
        n = len(chunk)
        finite = np.isfinite(chunk)
        if not finite.all():
            chunk = chunk.copy()
            chunk[~finite] = prev if np.isfinite(prev) else 0.0
        block = matrix[:n, :n] @ chunk + decay[:n] * prev
        prev = block[-1]
        block[~finite] = np.nan
        out[begin : begin + n] = block
    return out


class GrowableSeries:
    """x/y float64 arrays with amortised O(1) append and bounded memory.

    Capacity doubles when full, up to ``max_points``; past that the older points are thinned
    by ``peak_downsample`` into half the room while the newest quarter stays at full
    resolution, so a run of 10^6 steps keeps at most ``max_points`` points, its spikes among
    them. ``total`` counts every point ever added. The finite bounds of x and y are kept as
    points arrive, so a plot's range is known without a pass over the points on every frame.
    """

    def __init__(self, capacity: int = 1024, max_points: int = MAX_SERIES_POINTS):
        self.max_points = max(8, max_points)
        capacity = min(capacity, self.max_points)
        self._x = np.empty(capacity, dtype=np.float64)
        self._y = np.empty(capacity, dtype=np.float64)
        self.size = 0
        self.total = 0
        self.x_bounds: Bounds | None = None
        self.y_bounds: Bounds | None = None

    def append(self, x: float, y: float) -> None:
        self.extend(np.array((x,), np.float64), np.array((y,), np.float64))

    def extend(self, xs: np.ndarray, ys: np.ndarray) -> None:
        n = len(xs)
        self.total += n
        self.x_bounds = merge_bounds(self.x_bounds, bounds_of(xs))
        self.y_bounds = merge_bounds(self.y_bounds, bounds_of(ys))
        if self.size + n > self.max_points:
            self._thin(np.asarray(xs, np.float64), np.asarray(ys, np.float64))
            return
        if self.size + n > len(self._x):
            self._grow(self.size + n)
        self._x[self.size : self.size + n] = xs
        self._y[self.size : self.size + n] = ys
        self.size += n

    def _grow(self, needed: int) -> None:
        capacity = len(self._x)
        while capacity < needed:
            capacity *= 2
        capacity = min(capacity, self.max_points)
        for name in ("_x", "_y"):
            grown = np.empty(capacity, dtype=np.float64)
            grown[: self.size] = getattr(self, name)[: self.size]
            setattr(self, name, grown)

    def _thin(self, xs: np.ndarray, ys: np.ndarray) -> None:
        """Keep the newest quarter as it is and thin everything older into half the room:
        a quarter stays free, so this runs once per max_points / 4 new points (O(1) amortised)."""
        x, y = np.concatenate((self.x, xs)), np.concatenate((self.y, ys))
        recent = min(len(x), self.max_points // 4)
        cut = len(x) - recent
        old_x, old_y = peak_downsample(x[:cut], y[:cut], self.max_points // 2)
        if len(self._x) < self.max_points:
            self._x = np.empty(self.max_points, dtype=np.float64)
            self._y = np.empty(self.max_points, dtype=np.float64)
        size = len(old_x) + recent
        self._x[: len(old_x)], self._y[: len(old_x)] = old_x, old_y
        self._x[len(old_x) : size], self._y[len(old_x) : size] = x[cut:], y[cut:]
        self.size = size

    @property
    def capacity(self) -> int:
        return len(self._x)

    @property
    def x(self) -> np.ndarray:
        return self._x[: self.size]

    @property
    def y(self) -> np.ndarray:
        return self._y[: self.size]
