"""The model canvas: the block palette, the scene that draws the stack, and the view around it."""

from gui.editor.canvas.palette import BLOCK_MIME_TYPE, BlockPalette
from gui.editor.canvas.scene import ModelScene
from gui.editor.canvas.view import ModelView

__all__ = ["BLOCK_MIME_TYPE", "BlockPalette", "ModelScene", "ModelView"]
