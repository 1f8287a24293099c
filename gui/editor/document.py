"""The open model as one QObject: the single source of truth every view redraws from.

Views never keep their own copy of the model. They call the edit methods here, which push one
undo command each, and they listen to ``spec_changed``. Selection lives here too (as block ids)
so that the canvas, the inspector and the problems list agree on it.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from engine.model.inference import Inference, infer
from engine.model.shapes import Shape
from engine.model.spec import ModelSpec, SpecError
from gui.editor import commands

# Selection key of the Input block. Block ids match [a-z_][a-z0-9_]*, so this can never clash.
INPUT_ID = "<input>"


class ModelDocument(QObject):
    spec_changed = Signal()  # the spec was replaced (edit, undo, redo, open, new)
    selection_changed = Signal()  # selected block ids changed
    path_changed = Signal()  # the file the document is saved to changed
    modified_changed = Signal(bool)  # unsaved changes appeared or were saved/undone away

    def __init__(self, spec: ModelSpec | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self._spec = spec or ModelSpec()
        self._inference = infer(self._spec)
        self._selection: tuple[str, ...] = ()
        self._path: Path | None = None
        # Trained or imported weights as CPU numpy arrays, and the architecture they belong to.
        # Kept outside the undo history: an edit that changes the architecture makes them stale
        # (weights_fit_model() says so) but undoing that edit makes them fit again.
        self._weights: dict[str, np.ndarray] | None = None
        self._weights_key: tuple | None = None
        self.undo_stack = QUndoStack(self)
        # A bound method, not a lambda: Qt drops the connection when the document is destroyed.
        self.undo_stack.cleanChanged.connect(self._clean_changed)

    def _clean_changed(self, clean: bool) -> None:
        self.modified_changed.emit(not clean)

    # ------------------------------------------------------------ state

    @property
    def spec(self) -> ModelSpec:
        return self._spec

    @property
    def inference(self) -> Inference:
        return self._inference

    @property
    def path(self) -> Path | None:
        return self._path

    @property
    def is_modified(self) -> bool:
        return not self.undo_stack.isClean()

    @property
    def display_name(self) -> str:
        return self._path.name if self._path else "Untitled"

    def replace_spec(self, spec: ModelSpec) -> None:
        """Make ``spec`` the document's model and tell every view, without an undo step.

        Only the undo commands in gui/editor/commands.py (their redo and undo) and ``new`` call
        this: every edit goes through an edit method above, which pushes a command, so that the
        undo history always holds each change to the spec.
        """
        self._spec = spec
        self._inference = infer(spec)
        ids = {b.id for b in spec.blocks} | {INPUT_ID}
        if any(i not in ids for i in self._selection):
            self._selection = tuple(i for i in self._selection if i in ids)
            self.selection_changed.emit()
        self.spec_changed.emit()

    # ------------------------------------------------------------ selection

    @property
    def selection(self) -> tuple[str, ...]:
        return self._selection

    def selected_indices(self) -> list[int]:
        """Indices of the selected blocks, top to bottom (the Input block is not one of them)."""
        return sorted(self._spec.index_of(i) for i in self._selection if i != INPUT_ID)

    def set_selection(self, block_ids: list[str] | tuple[str, ...]) -> None:
        ids = tuple(dict.fromkeys(block_ids))
        if ids != self._selection:
            self._selection = ids
            self.selection_changed.emit()

    # ------------------------------------------------------------ edits (one undo step each)

    def insert_block(self, index: int, type_id: str, params: dict[str, Any] | None = None) -> str:
        block = self._spec.new_block(type_id, params)
        after = self._spec.insert(index, block)
        self._push(commands.InsertBlocksCommand(self, after, f"Insert {block.title}"))
        return block.id

    def remove_blocks(self, indices: list[int]) -> None:
        if not indices:
            return
        after = self._spec
        for index in sorted(set(indices), reverse=True):
            after = after.remove(index)
        names = self._names(indices)
        self._push(commands.RemoveBlocksCommand(self, after, f"Delete {names}"))

    def move_block(self, src: int, dst: int) -> None:
        if src == dst:
            return
        block = self._spec.blocks[src]
        self._push(commands.MoveBlocksCommand(self, self._spec.move(src, dst), f"Move {block.id}"))

    def duplicate_blocks(self, indices: list[int]) -> list[str]:
        """Copy each block (same parameters, new id) right after the last selected one."""
        if not indices:
            return []
        after, new_ids = self._spec, []
        at = max(indices) + 1
        for index in sorted(indices):
            source = self._spec.blocks[index]
            copy = after.new_block(source.type, dict(source.params))
            after = after.insert(at, copy)
            new_ids.append(copy.id)
            at += 1
        self._push(
            commands.DuplicateBlocksCommand(self, after, f"Duplicate {self._names(indices)}")
        )
        return new_ids

    def set_params(self, index: int, params: dict[str, Any]) -> None:
        """Change parameters of one block; raises ParamError (nothing changes) on a bad value."""
        block = self._spec.blocks[index]
        after = self._spec.with_params(index, params)
        if after == self._spec:
            return
        text = f"Set {block.id} {commands.describe_params(params)}"
        key = (block.id, ",".join(sorted(params)))
        self._push(commands.SetParamCommand(self, after, text, key))

    def set_input(self, kind: str, shape: Shape) -> None:
        after = self._spec.with_input(kind, shape)
        if after != self._spec:
            self._push(
                commands.SetInputCommand(
                    self, after, f"Set input to {kind} {'×'.join(map(str, shape))}"
                )
            )

    def set_dataset(self, source: str | None, options: dict[str, Any] | None = None) -> None:
        """Choose the dataset the model trains on (a built-in id or a path); one undo step."""
        after = replace(self._spec, dataset=source, dataset_options=dict(options or {}))
        if after != self._spec:
            name = Path(source).name if source else "none"
            self._push(commands.SetDatasetCommand(self, after, f"Use dataset {name}"))

    def apply_fix(self, index: int) -> bool:
        """Apply the repair shape inference proposed for block ``index``; False when there is none."""
        fix = self._inference.blocks[index].fix if index < len(self._inference.blocks) else None
        if fix is None:
            return False
        self._push(
            commands.ApplyFixCommand(self, self._spec.apply_fix(index, fix), f"Fix: {fix.label}")
        )
        return True

    def _push(self, command: commands.SpecCommand) -> None:
        self.undo_stack.push(command)

    def _names(self, indices: list[int]) -> str:
        ids = [self._spec.blocks[i].id for i in sorted(set(indices))]
        return ", ".join(ids) if len(ids) <= 3 else f"{len(ids)} blocks"

    # ------------------------------------------------------------ weights

    @staticmethod
    def _architecture(spec: ModelSpec) -> tuple:
        return (
            spec.input,
            tuple((b.id, b.type, tuple(sorted(b.params.items()))) for b in spec.blocks),
        )

    def set_weights(self, weights: dict[str, np.ndarray] | None) -> None:
        """Keep ``weights`` (CPU numpy, by state_dict name) as the model's current weights."""
        self._weights = dict(weights) if weights else None
        self._weights_key = self._architecture(self._spec) if weights else None

    @property
    def weights(self) -> dict[str, np.ndarray] | None:
        """The trained or imported weights if they still fit the model as it is now, else None."""
        return self._weights if self.weights_fit_model() else None

    def weights_fit_model(self) -> bool:
        return self._weights is not None and self._weights_key == self._architecture(self._spec)

    # ------------------------------------------------------------ files

    def new(self, spec: ModelSpec, path: Path | None = None) -> None:
        """Replace the whole document (New, Open, New from example); clears undo history."""
        self.undo_stack.clear()
        self.set_weights(None)
        self._selection = ()
        self.replace_spec(spec)
        self._path = path
        self.undo_stack.setClean()
        self.path_changed.emit()
        self.modified_changed.emit(False)

    def open(self, path: str | Path) -> None:
        """Load a model file; raises SpecError and leaves the document as it was on failure."""
        path = Path(path)
        spec = ModelSpec.load(path)
        self.new(spec, path.resolve())

    def save(self, path: str | Path | None = None) -> Path:
        target = Path(path) if path is not None else self._path
        if target is None:
            raise SpecError("The model has no file yet — use Save As.")
        try:
            self._spec.save(target)
        except OSError as err:
            raise SpecError(f"Cannot save to '{target}': {err.strerror or err}.") from None
        self._path = target.resolve()
        self.undo_stack.setClean()
        self.path_changed.emit()
        return self._path
