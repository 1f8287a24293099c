"""The problems list: why the model cannot be trained, with a one-click fix where one is known.

Shape inference stops at the first block that cannot take its input, so there is at most one
real problem at a time; the blocks after it are listed as not checked yet. A valid model that
does not fit its loaded dataset is a problem too, with the Fix that keeps the model valid.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from gui.editor.document import ModelDocument
from gui.editor.readiness import TrainReadiness


class ProblemRow(QFrame):
    def __init__(self, text: str, fix_label: str | None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("problemRow")
        self.label = QLabel(text)
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.addWidget(self.label, 1)
        self.fix_button: QPushButton | None = None
        if fix_label:
            self.fix_button = QPushButton("Fix")
            self.fix_button.setToolTip(fix_label)
            layout.addWidget(self.fix_button, 0, Qt.AlignmentFlag.AlignTop)


class ProblemsPanel(QWidget):
    block_requested = Signal(str)  # the user clicked a block's name in a problem

    def __init__(
        self,
        document: ModelDocument,
        readiness: TrainReadiness | None = None,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.document = document
        self.readiness = readiness
        self.rows: list[ProblemRow] = []
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(4, 4, 4, 4)
        self._layout.addStretch(1)
        # The readiness object re-checks the model (and its data) on every change first.
        if readiness is not None:
            readiness.changed.connect(self.refresh)
        else:
            document.spec_changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        for row in self.rows:
            self._layout.removeWidget(row)
            row.hide()
            row.deleteLater()  # its Fix button may be the sender that led here
        self.rows = []
        inference = self.document.inference
        spec = self.document.spec
        if not spec.blocks:
            self._add(ProblemRow("The model has no blocks — drag some from the palette.", None))
            return
        first = inference.first_error
        fit = self.readiness.data_fit if self.readiness is not None else None
        if first is None and fit is not None and not fit.fits:
            self._add_data_problem(fit)
            return
        if first is None:
            self._add(
                ProblemRow(
                    "<span style='color:#15803d'>✓ No problems: every block fits its input.</span>",
                    None,
                )
            )
            return
        block = spec.blocks[first.index]
        link = f"<a href='{block.id}'>Block {first.index + 1} · {html.escape(block.title)} ({block.id})</a>"
        fix = f"<br><i>Fix: {html.escape(first.fix.label)}</i>" if first.fix else ""
        row = ProblemRow(
            f"<b>⚠</b> {link}<br>{html.escape(first.error)}{fix}",
            first.fix.label if first.fix else None,
        )
        row.label.linkActivated.connect(self.block_requested.emit)
        if row.fix_button is not None:
            index = first.index
            row.fix_button.clicked.connect(lambda: self.document.apply_fix(index))
        self._add(row)
        unchecked = len(spec.blocks) - first.index - 1
        if unchecked:
            noun = "block after it is" if unchecked == 1 else f"{unchecked} blocks after it are"
            self._add(
                ProblemRow(
                    f"<span style='color:#6b7280'>The {noun} not checked until this is fixed.</span>",
                    None,
                )
            )

    def _add_data_problem(self, fit) -> None:
        """The model is valid but does not fit the dataset loaded for it."""
        text = "<br>".join(html.escape(m) for m in fit.messages)
        fix = f"<br><i>Fix: {html.escape(fit.fix_label)}</i>" if fit.fix_label else ""
        row = ProblemRow(f"<b>⚠</b> Model and data{'<br>'}{text}{fix}", fit.fix_label)
        if row.fix_button is not None:
            row.fix_button.clicked.connect(lambda: self.readiness.apply_data_fix())
        self._add(row)

    def _add(self, row: ProblemRow) -> None:
        self._layout.insertWidget(len(self.rows), row)
        self.rows.append(row)
