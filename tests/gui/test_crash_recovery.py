"""The issue's crash-recovery test: the real window trains in a subprocess, is SIGKILLed mid-run
(with its training process), and the next launch recovers the edited model with the weights of
the run's last checkpoint, the run listed as unsaved work."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np

from engine.model.spec import ModelSpec
from engine.recovery import RECOVERY_FILE
from engine.runs.folder import read_run
from gui.recovery import RECOVER, offer_recovery

REPO = Path(__file__).resolve().parents[2]
WAIT_MS = 120_000


def autosaved_live_run(data: Path) -> Path | None:
    """The run an autosave names as training, once that run has finished two epochs."""
    for meta in (data / "recovery").glob(f"*/{RECOVERY_FILE}"):
        try:
            live = json.loads(meta.read_text()).get("live_run")
            done = json.loads((Path(live) / "checkpoints" / "last.json").read_text())
        except (OSError, ValueError, TypeError):  # not written yet
            continue
        if done["progress"]["epochs_done"] >= 2:
            return Path(live)
    return None


def test_after_a_crash_mid_run_the_edited_model_and_its_last_weights_come_back(
    make_app_window, answers, qtbot, tmp_path, monkeypatch
):
    from engine.runs.checkpoint import read_checkpoint

    data, spec_file = tmp_path / "data", tmp_path / "edited.json"
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "LAYERLAB_DATA_DIR": str(data),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "LAYERLAB_AUTOSAVE_SECONDS": "0.2",
    }
    log = (tmp_path / "app.log").open("w")
    # Its own session: the kill takes the window, its fork server and the training process.
    app = subprocess.Popen(
        [sys.executable, "-m", "tests.gui.crash_driver", str(spec_file)],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        qtbot.waitUntil(
            lambda: app.poll() is None and autosaved_live_run(data) is not None, timeout=WAIT_MS
        )
        run = autosaved_live_run(data)
    finally:
        os.killpg(app.pid, signal.SIGKILL)
        app.wait()
        log.close()
    qtbot.waitUntil(lambda: read_run(run).status == "interrupted", timeout=WAIT_MS)
    last = read_checkpoint(run, "last")
    assert last.progress.epochs_done >= 2

    monkeypatch.setenv("LAYERLAB_DATA_DIR", str(data))  # the next launch, same data directory
    w = make_app_window("moons_mlp")
    asked = []
    assert offer_recovery(w, lambda _w, entry: asked.append(entry) or RECOVER) == [RECOVER]
    assert len(asked) == 1 and asked[0].live_run == run
    doc = w.document
    assert doc.spec == ModelSpec.load(spec_file) and doc.spec.blocks[0].params["units"] == 12
    state = last.model_state()
    assert set(doc.weights) == set(state)
    for name, tensor in state.items():
        assert np.array_equal(doc.weights[name], tensor.numpy()), name
    assert doc.unsaved_runs == (run,) and w.isWindowModified() and doc.path is None
    assert not answers.infos  # nothing was left out
