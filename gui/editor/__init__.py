"""The model editor: canvas, document, undo commands, inspector and problems list."""
