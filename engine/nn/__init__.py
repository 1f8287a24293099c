"""The torch side of a model: building an nn.Module from a spec and LayerLab's own modules."""
