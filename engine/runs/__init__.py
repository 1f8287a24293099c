"""Runs on disk: one folder per training run (the format and its reader in folder.py, the
recorder that writes it as the run goes in recorder.py, checkpoints in checkpoint.py)."""
