"""The block catalogue: one registry keyed by a stable id (the id is what model files store).

Each entry holds everything about its block (see registry.BlockType); no other module switches
on a block id. Adding a block is one ``register`` call in the module of its group (cnn, core,
recurrent) plus its row in the parametrised block test; nothing else to touch. Nothing here
imports torch: the window draws and checks models before torch has loaded.
"""

# Registered in this order, which is the palette's and the catalogue's order.
from engine.model.catalogue import cnn, core, recurrent, residual  # noqa: F401
from engine.model.catalogue.registry import CATALOGUE, GROUPS, BlockRegistry, BlockType
from engine.model.params import ParamError
from engine.model.shapes import Fix, ShapeError, format_shape

INPUT_HELP = (
    "Input: the shape of one sample, without the batch. An image is C×H×W (channels, height, "
    "width; 1 channel for grey), a sequence is T×F (time steps × features per step), a vector "
    "is F numbers (a point, a row of a table). Choosing a dataset sets it for you."
)

__all__ = [
    "CATALOGUE",
    "GROUPS",
    "INPUT_HELP",
    "BlockRegistry",
    "BlockType",
    "Fix",
    "ParamError",
    "ShapeError",
    "format_shape",
]
