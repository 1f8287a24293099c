"""How long `python main.py` takes to show its window, and until Train would start at once.

Launches the app as a user would and reports, median of N launches (range in brackets):

- window shown: from launching the process to the window's first paint (the app writes the
  moment to the file named by LAYERLAB_STARTUP_TRACE, gui/app.py); under Xvfb also the moment
  the window is mapped on the X server (xdotool), which needs no help from the app and so
  also measures older commits;
- torch ready: until the training process's fork server has imported torch and the Trainer,
  so that Train starts a run in ~0.1 s.

    python -m bench.startup [--runs 5] [--against REV] [--offscreen]

``--against REV`` also launches the app as it was at git revision REV (a temporary worktree),
alternating the two launch by launch, and prints both side by side. Under Xvfb (Debian's
`xvfb` and `xdotool`) the window is a real X11 window; without them, or with --offscreen, Qt's
offscreen platform is used and only the app's own trace is read.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRACE = "LAYERLAB_STARTUP_TRACE"  # gui/app.py: STARTUP_TRACE
DISPLAY = ":97"
TIMEOUT = 60.0


@contextlib.contextmanager
def x_server(offscreen: bool) -> Iterator[dict[str, str]]:
    """Environment for launching the app: a private Xvfb display, or the offscreen platform."""
    env = dict(os.environ)
    env.pop(TRACE, None)
    if offscreen or not (shutil.which("Xvfb") and shutil.which("xdotool")):
        env["QT_QPA_PLATFORM"] = "offscreen"
        yield env
        return
    server = subprocess.Popen(
        ["Xvfb", DISPLAY, "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    env.update(DISPLAY=DISPLAY, QT_QPA_PLATFORM="xcb")
    try:
        deadline = time.monotonic() + 10
        while subprocess.run(
            ["xdotool", "getmouselocation"], env=env, capture_output=True
        ).returncode:
            if time.monotonic() > deadline:
                raise RuntimeError("Xvfb did not start; try --offscreen")
            time.sleep(0.05)
        yield env
    finally:
        server.terminate()
        server.wait(10)


def _mapped(env: dict[str, str], pid: int) -> bool:
    if env.get("QT_QPA_PLATFORM") != "xcb":
        return False
    found = subprocess.run(
        ["xdotool", "search", "--onlyvisible", "--pid", str(pid), "--name", "LayerLab"],
        env=env,
        capture_output=True,
    )
    return found.returncode == 0 and bool(found.stdout.strip())


def launch(tree: Path, env: dict[str, str]) -> dict[str, float]:
    """Start `python main.py` in ``tree``; seconds from the launch to each event seen."""
    fd, trace = tempfile.mkstemp(prefix="layerlab-startup-", suffix=".txt")
    os.close(fd)
    env = dict(env, **{TRACE: trace})
    seen: dict[str, float] = {}
    start = time.time()
    app = subprocess.Popen(
        [sys.executable, "main.py"],
        cwd=tree,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # so that the fork server goes with it
    )
    try:
        while time.time() - start < TIMEOUT and app.poll() is None:
            if "window mapped" not in seen and _mapped(env, app.pid):
                seen["window mapped"] = time.time() - start
            for line in Path(trace).read_text().splitlines():
                event, _, when = line.partition(" ")
                seen.setdefault(event.replace("_", " "), float(when) - start)
            if "torch ready" in seen and (
                "window mapped" in seen or env["QT_QPA_PLATFORM"] != "xcb"
            ):
                break
            # The old app writes no trace: a mapped window and a few seconds for torch are all.
            if "window mapped" in seen and "window shown" not in seen and time.time() - start > 15:
                break
            time.sleep(0.01)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(app.pid, signal.SIGTERM)
        app.wait(10)
        Path(trace).unlink(missing_ok=True)
    return seen


@contextlib.contextmanager
def checkout(revision: str) -> Iterator[Path]:
    """A temporary worktree of ``revision`` (removed afterwards)."""
    folder = Path(tempfile.mkdtemp(prefix="layerlab-rev-"))
    subprocess.run(
        ["git", "worktree", "add", "--detach", str(folder), revision],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    try:
        yield folder
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(folder)], cwd=ROOT)


def summary(values: list[float]) -> str:
    if not values:
        return "–"
    return f"{statistics.median(values):.2f} ({min(values):.2f}–{max(values):.2f})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="launches of each tree (5)")
    parser.add_argument("--against", metavar="REV", help="also launch git revision REV")
    parser.add_argument("--offscreen", action="store_true", help="use Qt's offscreen platform")
    args = parser.parse_args(argv)
    events = ("window mapped", "window shown", "torch ready")
    with contextlib.ExitStack() as stack:
        env = stack.enter_context(x_server(args.offscreen))
        trees = {"this tree": ROOT}
        if args.against:
            trees[args.against] = stack.enter_context(checkout(args.against))
        results: dict[str, dict[str, list[float]]] = {n: {e: [] for e in events} for n in trees}
        launch(ROOT, env)  # warm the disk cache, so the first timed launch is not an outlier
        for _ in range(args.runs):
            for name, tree in trees.items():  # alternate, so both see the same machine
                for event, seconds in launch(tree, env).items():
                    results[name][event].append(seconds)
    platform = "Xvfb (xcb)" if env["QT_QPA_PLATFORM"] == "xcb" else "offscreen"
    print(f"\nStartup of `python main.py` ({platform}), seconds from launch, median (range) "
          f"of {args.runs}\n")  # fmt: skip
    print("| event | " + " | ".join(trees) + " |")
    print("|---|" + "---:|" * len(trees))
    for event in events:
        if any(results[n][event] for n in trees):
            print(f"| {event} | " + " | ".join(summary(results[n][event]) for n in trees) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
