"""`python main.py --screenshot` renders every bundled example to a real, non-blank PNG."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtGui import QImage

from engine.model.examples import list_examples

ROOT = Path(__file__).resolve().parents[2]


def _distinct_colours(image: QImage, step: int = 23) -> int:
    colours = set()
    for y in range(0, image.height(), step):
        for x in range(0, image.width(), step):
            colours.add(image.pixel(x, y))
    return len(colours)


def test_every_example_screenshot(tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    examples = list_examples()
    # All at once: each run is mostly process start-up, so they overlap well even on 2 cores.
    runs = {
        e.id: subprocess.Popen(
            [
                sys.executable,
                "main.py",
                "--screenshot",
                str(tmp_path / f"{e.id}.png"),
                "--example",
                e.id,
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for e in examples
    }
    try:
        for example_id, proc in runs.items():
            try:
                _out, err = proc.communicate(timeout=120)
            except subprocess.TimeoutExpired:
                raise AssertionError(f"{example_id}: no screenshot within 120 s (a hang)") from None
            assert proc.returncode == 0, f"{example_id}: {err}"
            png = tmp_path / f"{example_id}.png"
            assert png.stat().st_size > 10_000
            image = QImage(str(png))
            assert (image.width(), image.height()) == (1440, 900)
            assert _distinct_colours(image) > 20, (
                f"{example_id}: the screenshot is (nearly) one flat colour"
            )
    finally:  # a hung one must not outlive the test, burning a core (one ran for 40 min)
        for proc in runs.values():
            if proc.poll() is None:
                proc.kill()
                proc.communicate()


def test_screenshot_of_a_model_file(tmp_path):
    model = ROOT / "resources" / "examples" / "moons_mlp.json"
    out = tmp_path / "nested" / "moons.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [sys.executable, "main.py", "--screenshot", str(out), "--size", "1200x800", str(model)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert QImage(str(out)).size().toTuple() == (1200, 800)


def test_screenshot_of_the_train_workspace(tmp_path):
    out = tmp_path / "train.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [sys.executable, "main.py", "--screenshot", str(out), "--size", "1280x800",
         "--workspace", "train", "--example", "memory_lstm"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    image = QImage(str(out))
    assert image.size().toTuple() == (1280, 800)
    assert _distinct_colours(image) > 20
    bad = subprocess.run(
        [sys.executable, "main.py", "--screenshot", str(out), "--workspace", "debug"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert bad.returncode == 2 and "--workspace" in bad.stderr
