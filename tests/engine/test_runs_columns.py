"""metrics.npz: the columnar cache a run's end writes beside metrics.jsonl. It reads the same
as metrics.jsonl, and a stale, torn or foreign cache is passed over for metrics.jsonl."""

from __future__ import annotations

import json

import numpy as np

from engine.runs.checkpoint import read_checkpoint
from engine.runs.columns import METRICS_CACHE, columns_of, read_metric_columns
from engine.runs.folder import METRICS_JSONL, read_metrics
from tests.engine.test_runs import record


def same(a, b) -> bool:
    return set(a) == set(b) and all(np.array_equal(a[k], b[k], equal_nan=True) for k in a)


def test_a_finished_run_writes_a_cache_equal_to_its_metrics_jsonl(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    record(folder, 2)
    assert (folder / METRICS_CACHE).exists()
    fast = read_metric_columns(folder)
    slow = columns_of(read_metrics(folder))
    assert fast.cached and not slow.cached
    assert same(fast.steps, slow.steps) and same(fast.epochs, slow.epochs)
    assert len(fast) == len(read_metrics(folder).steps) >= 20
    assert list(fast.epochs["epoch"]) == [1.0, 2.0]


def test_a_resumed_run_rebuilds_its_cache_from_the_whole_file(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    record(folder, 2)
    record(folder, 3, resume=read_checkpoint(folder, "last"))
    fast = read_metric_columns(folder)
    assert fast.cached
    assert same(fast.steps, columns_of(read_metrics(folder)).steps)
    assert list(fast.epochs["epoch"]) == [1.0, 2.0, 3.0]


def test_a_stale_or_corrupt_cache_falls_back_to_metrics_jsonl(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    record(folder, 1)
    last = read_metrics(folder).steps[-1]
    with (folder / METRICS_JSONL).open("a", encoding="utf-8") as f:  # another tool appended
        f.write(json.dumps({**last, "step": last["step"] + 1, "loss": 9.5}) + "\n")
    stale = read_metric_columns(folder)
    assert not stale.cached and stale.steps["loss"][-1] == 9.5 and not stale.problems

    (folder / METRICS_CACHE).write_bytes(b"PK\x03\x04 torn in half")
    torn = read_metric_columns(folder, write_cache=True)
    assert not torn.cached and torn.steps["loss"][-1] == 9.5 and not torn.problems
    again = read_metric_columns(folder)  # write_cache made a good one of the whole file
    assert again.cached and same(again.steps, torn.steps)

    (folder / METRICS_CACHE).unlink()
    assert not read_metric_columns(folder).cached
