"""What a view does with the block selected on the canvas (or the model strip): the diagram
linked to the views. A view of one layer at a time shows the selected block's layer; one of the
whole model (Loss curves, Confusion matrix) ignores it.
"""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QSizePolicy


class BlockFocus:
    """Mixed into LiveView: the selected block, and the note said when a view cannot show it.

    Subclasses that show one layer at a time set ``focus_missing`` and override
    :meth:`show_layer` and :meth:`shown_layer`.
    """

    #: Why a block may have nothing here, for the note when it has not ("no filters: only
    #: Conv2d blocks have them"); empty for views of the whole model, which ignore the focus.
    focus_missing = ""

    focused_block: str | None = None  # the block selected on the canvas or the strip
    _focus_pending = False  # chosen but not shown yet: the next snapshot may have it

    def make_focus_note(self) -> QLabel:
        """The small note beside the caption (which the views rewrite on every paint)."""
        self.focus_note = QLabel("")
        self.focus_note.setObjectName("focus_note")
        self.focus_note.setStyleSheet("color: #6b7280; font-style: italic;")
        # Clipped rather than widening the dock (and the window), as the caption is.
        self.focus_note.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.focus_note.hide()
        return self.focus_note

    def focus_block(self, block_id: str | None) -> None:
        """Show block ``block_id``'s layer, the block selected on the canvas (None: none is).

        What "show" means is each view's :meth:`show_layer`. A block the view cannot show
        leaves it as it was, with a note that says why; the focus holds, so a later snapshot
        that has the layer shows it. None takes the note away and lets the view go back to
        its overview where it has one. Views of the whole model ignore it.
        """
        if not self.focus_missing:
            return
        self.focused_block = block_id
        self._focus_pending = block_id is not None
        if block_id is None:
            self.show_layer(None)
            self._set_focus_note("")
            self.mark_dirty()
            return
        self._apply_focus()

    def _apply_focus(self) -> None:
        block_id = self.focused_block
        if block_id is None:
            return
        if self.show_layer(block_id):
            self._focus_pending = False
            self._set_focus_note("")
            self.mark_dirty()
        elif self._has_data:  # with no data yet, nothing is known about the block
            shown = self.shown_layer()
            still = f" Still showing {shown}." if shown else ""
            self._set_focus_note(f"{block_id}: {self.focus_missing}.{still}")

    def _set_focus_note(self, text: str) -> None:
        self.focus_note.setText(text)
        self.focus_note.setToolTip(text)
        self.focus_note.setVisible(bool(text))

    def show_layer(self, block_id: str | None) -> bool:
        """Show ``block_id``'s layer if the stored data has it; True if it does. None: the
        selection was cleared. Views with a focus_missing override it."""
        return False

    def shown_layer(self) -> str:
        """The block whose layer the view shows now ("" for all of them or none)."""
        return ""

    def forget_focus_state(self) -> None:
        """The data was cleared (a new run): the chosen block waits for the new data."""
        self._focus_pending = self.focused_block is not None
        self._set_focus_note("")

    def refocus(self) -> None:
        """New data came: show the chosen block if it was waiting for its layer."""
        if self._focus_pending:
            self._apply_focus()
