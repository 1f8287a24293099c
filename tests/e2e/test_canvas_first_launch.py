"""On first launch, the canvas shows the model from its Input card at a zoom where a card's
text can be read, on a 1280×800 laptop and a 1920×1080 desktop (a fresh interpreter with Qt's
offscreen platform configured with that screen, and no remembered layout)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _inside(inner, outer) -> bool:
    x, y, w, h = inner
    ox, oy, ow, oh = outer
    return ox <= x and oy <= y and x + w <= ox + ow and y + h <= oy + oh


@pytest.mark.parametrize(
    ("width", "height", "example"),
    [(1280, 800, "digits_cnn"), (1280, 800, "memory_lstm"), (1920, 1080, "digits_cnn")],
)
def test_the_input_card_is_in_view_at_a_readable_zoom(tmp_path, width, height, example):
    screens = {"screens": [{"name": "screen", "x": 0, "y": 0, "width": width, "height": height,
                            "logicalDpi": 96, "logicalBaseDpi": 96, "dpr": 1}]}  # fmt: skip
    config = tmp_path / "screen.json"
    config.write_text(json.dumps(screens), encoding="utf-8")
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": f"offscreen:configfile={config}",
        "XDG_CONFIG_HOME": str(tmp_path),  # first launch: nothing remembered
    }
    done = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "e2e" / "canvas_fit_probe.py"), example],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert _inside(report["input_card"], report["viewport"]), report
    # The zoom is read back from the view's transform, so the readable zoom it was clamped to
    # can come back a rounding error below itself (0.8823529411764705 against ...706).
    assert report["readable_zoom"] - 1e-9 <= report["zoom"] <= 1.0, report
