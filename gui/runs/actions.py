"""What the Runs panel does to one run: rename it, delete it, load its weights into the model,
export its weights. Each returns the sentence the panel shows (or raises nothing: a refusal is
a sentence too); dialogs are asked here, the files are changed by the engine."""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtWidgets import QInputDialog, QLineEdit, QMessageBox, QWidget

from engine.runs.folder import RunFolderError, RunInfo, list_checkpoints, rename_run
from gui.editor.document import ModelDocument


def rename(parent: QWidget, run: RunInfo, name: str | None = None) -> tuple[bool, str]:
    """Set the run's label (asked for when ``name`` is None); the folder keeps its name."""
    if name is None:
        name, ok = QInputDialog.getText(
            parent, "Rename run", f"A name for the run in '{run.path.name}' (its folder keeps "
            "its name: TensorBoard and other tools point at it):", QLineEdit.EchoMode.Normal,
            run.name,
        )  # fmt: skip
        if not ok:
            return False, ""
    try:
        renamed = rename_run(run.path, name)
    except RunFolderError as err:
        return False, str(err)
    return True, f"Renamed the run in '{run.path.name}' to {renamed.name}."


def delete(parent: QWidget, run: RunInfo, document: ModelDocument) -> tuple[bool, str]:
    """Delete a run folder after asking; a run still being written is refused."""
    if run.status == "running":
        return False, f"The run {run.name} is still training: stop it before deleting it."
    answer = QMessageBox.question(
        parent,
        "Delete run",
        f"Delete the run {run.name} and everything it recorded (weights, curves, "
        f"checkpoints)?\n\n{run.path}\n\nThis cannot be undone.",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
    )
    if answer != QMessageBox.StandardButton.Yes:
        return False, ""
    try:
        shutil.rmtree(run.path)
    except OSError as err:
        return False, f"Cannot delete '{run.path}': {err.strerror or err}. Check its permissions."
    document.forget_run(run.path)
    return True, f"Deleted the run {run.name}."


def checkpoint_weights(run: RunInfo, which: str):
    """The run's ``which`` checkpoint: (its weights as numpy arrays, the checkpoint)."""
    # torch: the checkpoint is safetensors.
    from engine.runs.checkpoint import read_checkpoint

    checkpoint = read_checkpoint(run.path, which)
    weights = {k: v.numpy().copy() for k, v in checkpoint.model_state().items()}
    return weights, checkpoint


def load_weights(run: RunInfo, document: ModelDocument) -> tuple[bool, str]:
    """The run's last checkpoint becomes the model's weights, when it fits the model."""
    from engine.project import ProjectError, checked_weights

    if not document.inference.valid:
        return False, f"Cannot load weights: {document.inference.problem}"
    try:
        weights, checkpoint = checkpoint_weights(run, "last")
        checked_weights(document.spec, weights, checkpoint.path)
    except (RunFolderError, ProjectError) as err:
        return False, str(err)
    document.set_weights(weights)
    return (
        True,
        f"Loaded the weights of {run.name} (step {checkpoint.progress.step}) into the model.",
    )


def choose_checkpoint(parent: QWidget, run: RunInfo, title: str = "Export weights") -> str | None:
    """ "last" or "best": asked when the run has both and they differ; None when cancelled or
    when the run has no checkpoint."""
    found = list_checkpoints(run.path)
    if not found:
        return None
    steps = {which: (info.get("progress") or {}).get("step") for which, info in found.items()}
    if len(found) == 1 or steps.get("last") == steps.get("best"):
        return "last" if "last" in found else "best"
    best = run.get("best") if isinstance(run.get("best"), dict) else {}
    choices = [f"last (step {steps['last']})",
               f"best (epoch {best.get('epoch')}, step {steps['best']})"]  # fmt: skip
    chosen, ok = QInputDialog.getItem(
        parent, title, f"Which checkpoint of {run.name}?", choices, 0, False
    )
    return chosen.split()[0] if ok else None


def export_weights(parent: QWidget, run: RunInfo, which: str | None = None) -> tuple[bool, str]:
    """The export dialog with the run's ``which`` checkpoint (asked when None) and its model."""
    from engine.model.spec import ModelSpec, SpecError
    from gui.export_dialog import export_from_window

    which = which or choose_checkpoint(parent, run)
    if which is None:
        if not list_checkpoints(run.path):
            return False, f"The run {run.name} has no checkpoint to export ('{run.path}')."
        return False, ""
    try:
        spec = ModelSpec.from_dict(run.get("spec"))
        weights, _checkpoint = checkpoint_weights(run, which)
    except SpecError as err:
        return False, f"The model in '{run.path / 'run.json'}' cannot be read: {err}"
    except RunFolderError as err:
        return False, str(err)
    result = export_from_window(parent, spec, weights, start_dir=str(Path(run.path)))
    if result is None:
        return False, ""
    return True, f"Exported the {which} weights of {run.name} to '{result.path}'."


def continue_run(
    parent: QWidget, run: RunInfo, start, more_epochs: int | None, which: str | None
) -> tuple[bool, str]:
    """Ask how many more epochs (when None) and from which checkpoint (when the run has a last
    and a different best), then ``start(folder, more_epochs, which)``: the window's Continue."""
    if more_epochs is None:
        more_epochs, ok = QInputDialog.getInt(
            parent, "Continue the run", f"Train {run.name} for how many more epochs?",
            10, 1, 100000,
        )  # fmt: skip
        if not ok:
            return False, ""
    which = which or choose_checkpoint(parent, run, "Continue the run")
    if which is None:
        if not list_checkpoints(run.path):
            return False, f"The run {run.name} has no checkpoint to continue from ('{run.path}')."
        return False, ""
    try:
        start(run.path, more_epochs, which)
    except RunFolderError as err:
        return False, str(err)
    return True, f"Continuing {run.name} for {more_epochs} more epochs from its {which} checkpoint."
