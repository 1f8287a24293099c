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
from engine.model.spec import BlockPath, ModelSpec, SpecError
from gui.editor import commands

# Selection key of the Input block. Block ids match [a-z_][a-z0-9_]*, so this can never clash.
INPUT_ID = "<input>"


class ModelDocument(QObject):
    spec_changed = Signal()  # the spec was replaced (edit, undo, redo, open, new)
    selection_changed = Signal()  # selected block ids changed
    path_changed = Signal()  # the file the document is saved to changed
    # Unsaved work appeared or went: model edits, weights or runs not yet saved in a project.
    modified_changed = Signal(bool)

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
        # Trained or imported weights count as unsaved until a project holds them; runs recorded
        # outside a project (an untitled model's) until Save brings them into one.
        self._weights_saved = True
        self._unsaved_runs: list[Path] = []
        self._was_modified = False
        self.undo_stack = QUndoStack(self)
        # A bound method, not a lambda: Qt drops the connection when the document is destroyed.
        self.undo_stack.cleanChanged.connect(self._clean_changed)

    def _clean_changed(self, _clean: bool) -> None:
        self._modified_may_have_changed()

    def _modified_may_have_changed(self) -> None:
        modified = self.is_modified
        if modified != self._was_modified:
            self._was_modified = modified
            self.modified_changed.emit(modified)

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
        """Whether closing now would lose work: model edits, or weights or runs that no project
        holds yet."""
        return self.model_modified or bool(self.unsaved_work())

    @property
    def model_modified(self) -> bool:
        return not self.undo_stack.isClean()

    def unsaved_work(self) -> list[str]:
        """What a project would keep that nothing holds yet, as phrases for a question."""
        parts = []
        if self.model_modified:
            parts.append("changes to the model")
        if self.weights is not None and not self._weights_saved:
            parts.append("trained weights")
        if self._unsaved_runs:
            n = len(self._unsaved_runs)
            parts.append(f"{n} run{'s' if n > 1 else ''} not in a project")
        return parts

    @property
    def display_name(self) -> str:
        if self._path is None:
            return "Untitled"
        return self._path.parent.name if self.project_folder else self._path.name

    @property
    def project_folder(self) -> Path | None:
        """The project folder when the document is a project (its path is the project.json)."""
        from engine.project import PROJECT_FILE

        return self._path.parent if self._path and self._path.name == PROJECT_FILE else None

    @property
    def runs_folder(self) -> Path | None:
        """Where this document's runs are recorded: the project's runs/ (None: no project yet,
        the user's data directory)."""
        from engine.project import RUNS_FOLDER

        folder = self.project_folder
        return folder / RUNS_FOLDER if folder else None

    @property
    def unsaved_runs(self) -> tuple[Path, ...]:
        return tuple(self._unsaved_runs)

    def add_run(self, folder: str | Path) -> None:
        """A run was recorded in ``folder``; outside the project it is unsaved work."""
        folder = Path(folder)
        runs = self.runs_folder
        if runs is not None and folder.parent.resolve() == runs.resolve():
            return
        if folder not in self._unsaved_runs:
            self._unsaved_runs.append(folder)
            self._modified_may_have_changed()

    def runs_brought_in(self, folders: list[Path]) -> None:
        """The runs in ``folders`` were moved into the project: they are no unsaved work."""
        kept = [r for r in self._unsaved_runs if r not in folders]
        if kept != self._unsaved_runs:
            self._unsaved_runs = kept
            self._modified_may_have_changed()

    def forget_run(self, folder: str | Path) -> None:
        """The run in ``folder`` is gone (deleted from the Runs panel): it is no unsaved work."""
        folder = Path(folder)
        if folder in self._unsaved_runs:
            self._unsaved_runs.remove(folder)
            self._modified_may_have_changed()

    def replace_spec(self, spec: ModelSpec) -> None:
        """Make ``spec`` the document's model and tell every view, without an undo step.

        Only the undo commands in gui/editor/commands.py (their redo and undo) and ``new`` call
        this: every edit goes through an edit method above, which pushes a command, so that the
        undo history always holds each change to the spec.
        """
        self._spec = spec
        self._inference = infer(spec)
        ids = spec.all_ids() | {INPUT_ID}
        if any(i not in ids for i in self._selection):
            self._selection = tuple(i for i in self._selection if i in ids)
            self.selection_changed.emit()
        self.spec_changed.emit()

    # ------------------------------------------------------------ selection

    @property
    def selection(self) -> tuple[str, ...]:
        return self._selection

    def selected_indices(self) -> list[int]:
        """Indices of the selected blocks of the top-level stack, top to bottom (the Input block
        and blocks inside a residual block are not among them: see ``selected_paths``)."""
        top = {b.id for b in self._spec.blocks}
        return sorted(self._spec.index_of(i) for i in self._selection if i in top)

    def selected_paths(self) -> list[BlockPath]:
        """Paths of every selected block, nested ones included, top to bottom."""
        return sorted(self._spec.path_of(i) for i in self._selection if i != INPUT_ID)

    def set_selection(self, block_ids: list[str] | tuple[str, ...]) -> None:
        ids = tuple(dict.fromkeys(block_ids))
        if ids != self._selection:
            self._selection = ids
            self.selection_changed.emit()

    # ------------------------------------------------------------ edits (one undo step each)

    def insert_block(
        self, index: int | BlockPath, type_id: str, params: dict[str, Any] | None = None
    ) -> str:
        """Insert a new block at ``index`` of the stack, or at a path into a residual block."""
        block = self._spec.new_block(type_id, params)
        after = self._spec.insert_at(_path(index), block)
        self._push(commands.InsertBlocksCommand(self, after, f"Insert {block.title}"))
        return block.id

    def remove_blocks(self, indices: list[int] | list[BlockPath]) -> None:
        """Delete blocks by index or path; a residual block goes with the blocks inside it."""
        if not indices:
            return
        after = self._spec
        # Last first, and inner before outer, so each path still names its block when reached.
        for path in sorted({_path(i) for i in indices}, reverse=True):
            after = after.remove_at(path)
        names = self._names(indices)
        self._push(commands.RemoveBlocksCommand(self, after, f"Delete {names}"))

    def move_block(self, src: int, dst: int) -> None:
        if src == dst:
            return
        block = self._spec.blocks[src]
        self._push(commands.MoveBlocksCommand(self, self._spec.move(src, dst), f"Move {block.id}"))

    def move_block_to(self, src: BlockPath, dst: BlockPath) -> bool:
        """Move the block at ``src`` to the gap at ``dst`` (into or out of a residual block);
        one undo step. False, and nothing changes, where the move is impossible (a residual
        block into itself) or a no-op."""
        try:
            after = self._spec.move_to(src, dst)
        except SpecError:
            return False
        if after == self._spec:
            return False
        block = self._spec.block_at(src)
        self._push(commands.MoveBlocksCommand(self, after, f"Move {block.id}"))
        return True

    def duplicate_blocks(self, indices: list[int]) -> list[str]:
        """Copy each block (same parameters, new id) right after the last selected one."""
        if not indices:
            return []
        after, new_ids = self._spec, []
        at = max(indices) + 1
        for index in sorted(indices):
            source = self._spec.blocks[index]
            copy = after.copy_of(source)  # a residual block with copies of its inner blocks
            after = after.insert(at, copy)
            new_ids.append(copy.id)
            at += 1
        self._push(
            commands.DuplicateBlocksCommand(self, after, f"Duplicate {self._names(indices)}")
        )
        return new_ids

    def set_params(self, index: int | BlockPath, params: dict[str, Any]) -> None:
        """Change parameters of one block; raises ParamError (nothing changes) on a bad value."""
        block = self._spec.block_at(_path(index))
        after = self._spec.with_params_at(_path(index), params)
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

    def _names(self, indices: list[int] | list[BlockPath]) -> str:
        ids = [self._spec.block_at(p).id for p in sorted({_path(i) for i in indices})]
        return ", ".join(ids) if len(ids) <= 3 else f"{len(ids)} blocks"

    # ------------------------------------------------------------ weights

    @staticmethod
    def _architecture(spec: ModelSpec) -> tuple:
        return (
            spec.input,
            tuple(
                (b.id, b.type, tuple(sorted(b.params.items())), len(b.blocks))
                for top in spec.blocks
                for b in top.walk()
            ),
        )

    def set_weights(self, weights: dict[str, np.ndarray] | None, saved: bool = False) -> None:
        """Keep ``weights`` (CPU numpy, by state_dict name) as the model's current weights;
        ``saved``: a file already holds them (a project, an export just opened)."""
        self._weights = dict(weights) if weights else None
        self._weights_key = self._architecture(self._spec) if weights else None
        self._weights_saved = saved or not weights
        self._modified_may_have_changed()

    @property
    def weights(self) -> dict[str, np.ndarray] | None:
        """The trained or imported weights if they still fit the model as it is now, else None."""
        return self._weights if self.weights_fit_model() else None

    def weights_fit_model(self) -> bool:
        return self._weights is not None and self._weights_key == self._architecture(self._spec)

    # ------------------------------------------------------------ files

    def new(
        self,
        spec: ModelSpec,
        path: Path | None = None,
        weights: dict[str, np.ndarray] | None = None,
    ) -> None:
        """Replace the whole document (New, Open, New from example); clears undo history.
        ``weights`` come from the file opened, so they count as saved."""
        self.undo_stack.clear()
        self._unsaved_runs = []
        self._selection = ()
        # The path first: views that follow the spec read relative dataset paths from it.
        self._path = path
        self.replace_spec(spec)
        self.set_weights(weights, saved=True)
        self.undo_stack.setClean()
        self.path_changed.emit()
        self._was_modified = True  # so that the signal below is always sent
        self._modified_may_have_changed()

    def recovered(
        self,
        spec: ModelSpec,
        path: Path | None,
        weights: dict[str, np.ndarray] | None,
        runs: tuple[Path, ...] | list[Path] = (),
    ) -> None:
        """Replace the document with work recovered after a crash: ``path`` is the file it was
        opened from (or None), and nothing of it counts as saved, so it shows as modified until
        Save writes it."""
        self.new(spec, path)
        for run in runs:
            self.add_run(run)
        self.set_weights(weights)
        # No undo step made the model differ from its file: the clean state is simply gone.
        self.undo_stack.resetClean()
        self._modified_may_have_changed()

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

    def saved_as_project(self, project_file: Path, spec: ModelSpec, brought_in: list[Path]) -> None:
        """The project at ``project_file`` now holds the model (as ``spec``: its dataset path
        may have been rebased), its weights and the runs in ``brought_in``."""
        if spec != self._spec:
            self.replace_spec(spec)  # the same model; only where its dataset path is read from
            self._weights_key = self._architecture(spec) if self._weights else None
        self._path = project_file.resolve()
        self._weights_saved = True
        self._unsaved_runs = [r for r in self._unsaved_runs if r not in brought_in]
        self.undo_stack.setClean()
        self.path_changed.emit()
        self._modified_may_have_changed()


def _path(index: int | BlockPath) -> BlockPath:
    return (index,) if isinstance(index, int) else tuple(index)
