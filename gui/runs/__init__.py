"""The Runs panel: the recorded runs of the open project, to compare, overlay and reuse."""
