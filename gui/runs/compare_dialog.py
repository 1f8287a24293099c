"""Two runs' settings side by side: a table of the model, dataset and every training setting,
the rows whose values differ marked with "≠" and bold (not by colour alone) and listed first
on request."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.runs.folder import RunInfo
from gui.runs.compare import comparison_rows

DIFFERS = "≠"


class RunComparisonDialog(QDialog):
    """``first`` and ``second`` in two columns; a first column says which rows differ."""

    def __init__(self, first: RunInfo, second: RunInfo, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(f"Compare runs: {first.name} and {second.name}")
        self.comparison = comparison_rows(first, second)
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["", "", first.name, second.name])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        for column in (2, 3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Stretch)
        self.only_differences = QCheckBox("Only what differs")
        self.only_differences.toggled.connect(self._fill)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.only_differences)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
        self.resize(760, 520)
        self._fill()

    def rows(self) -> list[list[str]]:
        """The table as shown: [mark, what, first, second] per row."""
        return [
            [self.table.item(r, c).text() for c in range(4)] for r in range(self.table.rowCount())
        ]

    def _fill(self) -> None:
        shown = [r for r in self.comparison if r[3] or not self.only_differences.isChecked()]
        self.table.setRowCount(len(shown))
        for row, (what, a, b, differs) in enumerate(shown):
            for column, text in enumerate((DIFFERS if differs else "", what, a, b)):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                if differs:
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                self.table.setItem(row, column, item)
