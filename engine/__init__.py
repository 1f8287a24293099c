"""LayerLab's engine: blocks, model specs, data, training, probes and export. Never imports Qt."""
