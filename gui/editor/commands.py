"""One QUndoCommand per kind of edit. Each changes only the document's spec.

Specs are immutable values, so a command keeps the spec before and after the edit; undo and redo
swap them. The subclasses exist for their names and texts (Edit > Undo shows what will change)
and for merging consecutive edits of one parameter into one undo step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtGui import QUndoCommand

from engine.model.spec import ModelSpec

if TYPE_CHECKING:
    from gui.editor.document import ModelDocument


class SpecCommand(QUndoCommand):
    def __init__(self, document: ModelDocument, after: ModelSpec, text: str):
        super().__init__(text)
        self.document = document
        self.before = document.spec
        self.after = after

    def redo(self) -> None:
        self.document.replace_spec(self.after)

    def undo(self) -> None:
        self.document.replace_spec(self.before)


class InsertBlocksCommand(SpecCommand):
    pass


class RemoveBlocksCommand(SpecCommand):
    pass


class MoveBlocksCommand(SpecCommand):
    pass


class DuplicateBlocksCommand(SpecCommand):
    pass


class ApplyFixCommand(SpecCommand):
    pass


class SetInputCommand(SpecCommand):
    pass


class SetDatasetCommand(SpecCommand):
    pass


class SetParamCommand(SpecCommand):
    """A parameter edit; typing 1, 2, 8 into one spin box becomes one undo step, not three."""

    ID = 1001

    def __init__(self, document: ModelDocument, after: ModelSpec, text: str, key: tuple[str, str]):
        super().__init__(document, after, text)
        self.key = key

    def id(self) -> int:  # noqa: A003 - Qt's name
        return self.ID

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 - Qt's name
        if not isinstance(other, SetParamCommand) or other.key != self.key:
            return False
        self.after = other.after
        return True


def describe_params(params: dict[str, Any]) -> str:
    return ", ".join(f"{k} = {v}" for k, v in params.items())
