"""Benchmarks that print ratios against plain PyTorch (`make bench`); not timed tests.

Every bench keeps its runs and autosaves out of the user's own data directory: the windows and
runs a bench starts and ends abruptly would otherwise fill the user's run list, and the next
launch of LayerLab would offer to recover a bench's window. LAYERLAB_DATA_DIR, when set, is
kept (a bench that needs its own sets it itself)."""

import os
import tempfile

os.environ.setdefault("LAYERLAB_DATA_DIR", tempfile.mkdtemp(prefix="layerlab-bench-data-"))
