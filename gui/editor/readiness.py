"""Whether the model can be trained, in one place: the model is valid and fits the dataset
loaded for it. Every Train button, menu item and toolbar action, the Problems list, the
status bar and the Dataset panel's fit message read this one object.

The dataset part joins when the window's dataset session does (``follow_dataset``); the
editor alone checks the model only.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from engine.data import DataFit, fit_to_dataset
from gui.editor.commands import ApplyFixCommand
from gui.editor.document import ModelDocument


class TrainReadiness(QObject):
    changed = Signal()  # the model, or the dataset it is checked against, changed

    def __init__(self, document: ModelDocument, parent: QObject | None = None):
        super().__init__(parent)
        self.document = document
        self._session = None
        self._fit = DataFit(())
        document.spec_changed.connect(self.refresh)

    def follow_dataset(self, session) -> None:
        """Check the model against what ``session`` (a WindowDatasetSession) has loaded."""
        self._session = session
        session.dataset_loaded.connect(self._dataset_loaded)
        self.refresh()

    def _dataset_loaded(self, _source, _dataset, _preview) -> None:
        self.refresh()

    @property
    def dataset(self):
        return self._session.dataset if self._session is not None else None

    @property
    def data_fit(self) -> DataFit:
        """How the model stands against the loaded dataset (fits when none is loaded yet)."""
        return self._fit

    def reason(self) -> str | None:
        """Why Train is off, as one sentence; None when the model may be trained."""
        problem = self.document.inference.problem
        if problem:
            return problem
        if not self._fit.fits:
            return self._fit.messages[0]
        return None

    def apply_data_fix(self) -> bool:
        """Make the model fit the dataset with the one Fix that keeps it valid (one undo step);
        False when there is none."""
        fixed = self._fit.fixed_spec
        if fixed is None:
            return False
        # One command for the whole repair: undo puts back the model as it was, in one step.
        self.document.undo_stack.push(
            ApplyFixCommand(self.document, fixed, f"Fix: {self._fit.fix_label}")
        )
        return True

    def refresh(self) -> None:
        dataset = self.dataset
        self._fit = fit_to_dataset(self.document.spec, dataset) if dataset else DataFit(())
        self.changed.emit()
