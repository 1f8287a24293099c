"""load_file / load_dataset dispatch, worker-thread loading, and the engine's import rules."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from engine.data import DatasetError, load_dataset, load_file

ROOT = Path(__file__).resolve().parents[2]


def test_unknown_suffix(tmp_path):
    path = tmp_path / "data.parquet"
    path.write_bytes(b"PAR1")
    with pytest.raises(DatasetError, match="cannot read 'data.parquet'") as info:
        load_file(path)
    assert ".npz" in str(info.value) and info.value.path == str(path)


def test_load_dataset_with_a_path(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.ones((10, 2)), y=np.arange(10) % 2)
    ds = load_dataset(str(path), seed=2, val_fraction=0.3)
    assert ds.source == str(path) and ds.num_val == 4  # 5 per class, 30 % of each rounds to 2


def test_missing_path_through_load_dataset(tmp_path):
    with pytest.raises(DatasetError, match="neither a built-in dataset nor an existing file"):
        load_dataset(str(tmp_path / "gone.csv"))


def test_bad_val_fraction_for_files(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.ones((10, 2)), y=np.arange(10) % 2)
    with pytest.raises(DatasetError, match="validation fraction"):
        load_file(path, val_fraction=2)


def test_load_in_a_worker_thread_reports_progress(tmp_path):
    path = tmp_path / "series.csv"
    path.write_text("v\n" + "\n".join(str(i % 17) for i in range(20_000)))
    result, seen = {}, []

    def work():
        result["dataset"] = load_file(path, window=8, progress=seen.append)

    worker = threading.Thread(target=work)
    worker.start()
    worker.join(timeout=20)
    assert not worker.is_alive()
    assert result["dataset"].num_train > 0
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen)
    assert len(seen) <= 103  # rate-limited to ~1 % steps


def test_raising_from_progress_aborts_the_load(tmp_path):
    path = tmp_path / "series.csv"
    path.write_text("v\n" + "\n".join(str(i) for i in range(5000)))

    class Cancelled(Exception):
        pass

    def progress(fraction):
        if fraction > 0.3:
            raise Cancelled

    with pytest.raises(Cancelled):
        load_file(path, window=4, progress=progress)


def test_engine_data_does_not_import_qt_or_torch():
    code = (
        "import sys, engine.data as d; d.load_builtin('moons'); "
        "bad = [m for m in sys.modules if m.startswith(('PySide6', 'pyqtgraph', 'torch'))]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
