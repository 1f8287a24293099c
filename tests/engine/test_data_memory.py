"""One memory estimate before any allocation: it counts what a load really holds at its peak
(measured here with tracemalloc, which sees numpy's allocations), and a load whose estimate
does not fit is refused before anything is allocated."""

from __future__ import annotations

import time
import tracemalloc

import pytest

from engine.data import BUILTIN, DatasetError, load_builtin, resources
from engine.data.resources import MemoryEstimate, cgroup_free

GB = 1_000_000_000
# Big enough that the arrays, not Python's own bookkeeping, make the peak; small enough to be
# quick.
MEDIUM = {
    "digits": {},
    "shapes": {"n_samples": 1000, "size": 48},
    "sine": {"n_samples": 1000, "seq_len": 300},
    "adding": {"n_samples": 1000, "seq_len": 300},
    "first_symbol": {"n_samples": 1000, "seq_len": 300, "n_symbols": 3, "distractors": "symbols"},
    "moons": {"n_samples": 100_000},
    "spirals": {"n_samples": 100_000},
    "circles": {"n_samples": 100_000},
}


def traced_peak(fn, *args, **kwargs):
    tracemalloc.start()
    try:
        result = fn(*args, **kwargs)
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_every_builtin_is_measured_here():
    assert set(MEDIUM) == set(BUILTIN)


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_builtin_estimate_covers_the_measured_peak(name):
    info = BUILTIN[name]
    estimate = info.memory({**info.options, **MEDIUM[name]})
    load_builtin(name, **MEDIUM[name])  # first: imports (scikit-learn for digits) are not data
    dataset, peak = traced_peak(load_builtin, name, **MEDIUM[name])
    held = sum(a.nbytes for a in (dataset.x_train, dataset.y_train, dataset.x_val, dataset.y_val))
    assert held <= estimate.dataset <= held * 1.01
    # Never below what the load really held; not so far above that it refuses good loads.
    assert peak <= estimate.load_peak <= 2.5 * peak


@pytest.mark.parametrize(
    ("name", "options", "advice"),
    [
        ("shapes", {"n_samples": 200_000, "size": 128}, "Lower 'n_samples' to at most"),
        ("adding", {"n_samples": 200_000, "seq_len": 2000}, "or 'seq_len'"),
        (
            "first_symbol",
            {"n_samples": 200_000, "seq_len": 2000, "n_symbols": 26, "distractors": "symbols"},
            "Lower 'n_samples' to at most",
        ),
    ],
)
def test_huge_builtin_is_refused_before_allocating(monkeypatch, name, options, advice):
    monkeypatch.setattr(resources, "available_memory", lambda: 8 * GB)
    start = time.perf_counter()
    with pytest.raises(DatasetError) as caught:
        traced_peak(load_builtin, name, **options)
    assert time.perf_counter() - start < 1.0
    message = str(caught.value)
    assert f"'{name}'" in message and "8.0 GB is free" in message and advice in message
    estimate = float(message.split("about ")[1].split(" GB")[0])
    assert estimate > 12  # each of these holds more than 12 GB once generated


def test_refused_builtin_allocates_nothing(monkeypatch):
    monkeypatch.setattr(resources, "available_memory", lambda: 8 * GB)
    tracemalloc.start()
    try:
        with pytest.raises(DatasetError):
            load_builtin("shapes", n_samples=200_000, size=128)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000


def test_suggested_sample_count_fits(monkeypatch):
    monkeypatch.setattr(resources, "available_memory", lambda: GB)
    with pytest.raises(DatasetError) as caught:
        load_builtin("shapes", n_samples=100_000, size=64)
    fitting = int(str(caught.value).split("at most ")[1].split(".")[0].replace(",", ""))
    assert 1000 < fitting < 100_000
    info = BUILTIN["shapes"]
    assert info.memory({**info.options, "n_samples": fitting, "size": 64}).peak <= 0.8 * GB


def test_run_peak_counts_the_training_process_copy():
    estimate = MemoryEstimate(reading=10, dataset=100)
    assert estimate.peak == estimate.run_peak == 400
    assert MemoryEstimate(reading=1000, dataset=100).peak == 1100
    assert MemoryEstimate(reading=1000, dataset=100, standardised=True).peak == 1300


def test_cgroup_v2_limit(tmp_path):
    (tmp_path / "memory.max").write_text("1000000\n")
    (tmp_path / "memory.current").write_text("250000\n")
    assert cgroup_free(tmp_path) == 750_000
    (tmp_path / "memory.max").write_text("max\n")
    assert cgroup_free(tmp_path) is None


def test_cgroup_v1_limit(tmp_path):
    v1 = tmp_path / "memory"
    v1.mkdir()
    (v1 / "memory.limit_in_bytes").write_text("2000\n")
    (v1 / "memory.usage_in_bytes").write_text("500\n")
    assert cgroup_free(tmp_path) == 1500
    (v1 / "memory.limit_in_bytes").write_text("9223372036854771712\n")  # v1's "no limit"
    assert cgroup_free(tmp_path) is None


def test_no_cgroup(tmp_path):
    assert cgroup_free(tmp_path) is None
