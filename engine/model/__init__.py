"""The model part of the engine: block catalogue, parameters, shapes, spec, inference, examples. Pure Python and numpy: no torch, no Qt."""
