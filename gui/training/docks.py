"""Where the dashboard's views live in the window: docks in three tab groups along the bottom,
their default sizes, and which tabs come forward for the model being edited or trained."""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import QDockWidget, QMainWindow, QWidget

from engine.model.catalogue import CATALOGUE
from engine.model.spec import ModelSpec
from engine.probes.registry import PROBES

# The bottom dock area: three columns, each a tab group led by its first view.
TAB_GROUPS = {
    "Loss curves": (),
    "Filters": ("Feature maps", "Gates", "Histograms"),
    "Gradient flow": ("Confusion matrix", "Predictions", "Forecast"),
}

# Wide enough for "Learning rate" beside its field, and for Train, Pause and Stop side by side.
LEFT_COLUMN_WIDTH = 300
# The share of the window's height the views take at first (the model canvas keeps the rest).
VIEWS_SHARE = 0.28
# A tab's width beyond its title's text (the style's margins and frame), with some to spare.
TAB_PADDING = 32


def relevant_views(spec: ModelSpec) -> tuple[str, ...]:
    """The titles of the views that show what ``spec`` is about, in the order to raise them
    (the last raised of a tab group is the one on top): the loss curves, then the views of
    the probes that its blocks' catalogue entries name."""
    present = {block.type for block in spec.blocks}
    titles = ["Loss curves"]
    for block_type in CATALOGUE:  # catalogue order: one order whatever the model's
        if block_type.id in present:
            for kind in block_type.probes:
                titles += [t for t in PROBES[kind].views if t not in titles]
    return tuple(titles)


def _tabs_width(window: QWidget, titles: tuple[str, ...]) -> int:
    """About the width of a tab bar that shows ``titles`` whole (text plus a tab's padding)."""
    metrics = window.fontMetrics()
    return sum(metrics.horizontalAdvance(t) + TAB_PADDING for t in titles)


class DockLayout(QObject):
    """Docks the training panel in the left column and the views along the bottom of a window."""

    def __init__(self, panel: QWidget, views: Mapping[str, QWidget], parent=None):
        super().__init__(parent)
        self.panel = panel
        self.views = views
        self.docks: dict[str, QDockWidget] = {}
        self.window: QMainWindow | None = None
        self._relevant: tuple[str, ...] | None = None

    def add_to(self, window: QMainWindow) -> None:
        self.window = window
        bottom = Qt.DockWidgetArea.BottomDockWidgetArea
        # In the left column, where the assembled window makes it a tab beside Blocks and
        # Dataset: the Inspector keeps the right column's height for a block's fields.
        self.docks["Training"] = window.add_dock(
            "Training", self.panel, Qt.DockWidgetArea.LeftDockWidgetArea
        )
        for anchor in TAB_GROUPS:
            self.docks[anchor] = window.add_dock(anchor, self.views[anchor], bottom)
        for others in TAB_GROUPS.values():
            for title in others:
                self.docks[title] = window.add_dock(title, self.views[title], bottom)
        # The default state kept for Reset Layout is taken at first show, before the sizes
        # below (they need the window's real size): a reset sets them again.
        window.layout_reset.connect(self._sizes_after_reset)
        if window.isVisible():
            self._tabify()
        else:
            window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        # Tabbing docks before the window is first shown leaves a stale tab bar floating over
        # the canvas (Qt 6.11). The filter runs before the window's own showEvent, which then
        # restores a remembered layout over this default one.
        if watched is self.window and event.type() == QEvent.Type.Show:
            watched.removeEventFilter(self)
            self._tabify()
            settings = getattr(watched, "settings", None)
            if settings is None or settings.value("window/state") is None:
                QTimer.singleShot(0, self, self.default_sizes)  # sizes need the window's real size
        return False

    def _tabify(self) -> None:
        for anchor, others in TAB_GROUPS.items():
            for title in others:
                self.window.tabifyDockWidget(self.docks[anchor], self.docks[title])
            self.docks[anchor].raise_()
        # After the tabbing has settled: raising a tab inside the Show event leaves stale tab
        # bars behind (Qt 6.11), like tabbing before the first show does.
        QTimer.singleShot(0, self, self.raise_relevant)

    def default_sizes(self) -> None:
        """Views take the lower VIEWS_SHARE of the window (the model canvas stays the larger
        part), in three columns, each tab group as wide as its tabs' names."""
        window, d = self.window, self.docks
        if window is None:
            return
        window.resizeDocks(
            [d["Loss curves"]], [int(window.height() * VIEWS_SHARE)], Qt.Orientation.Vertical
        )
        # The left column: wide enough for the training form's labels and fields. Its height
        # is the column's (a tab of it), so no vertical size is set here.
        window.resizeDocks([d["Training"]], [LEFT_COLUMN_WIDTH], Qt.Orientation.Horizontal)
        # Each tab group at least as wide as its tabs' names (cut to "Gradient fl…" and
        # "Predicti…" at 1280×800 in equal thirds); the loss curves, which have no tabs, take
        # the rest.
        third = window.width() // 3
        groups = [max(third, _tabs_width(window, (a, *TAB_GROUPS[a])))
                  for a in ("Filters", "Gradient flow")]  # fmt: skip
        curves = max(window.width() - sum(groups), third // 2)
        window.resizeDocks([d["Loss curves"], d["Filters"], d["Gradient flow"]],
                           [curves, *groups], Qt.Orientation.Horizontal)  # fmt: skip

    def _sizes_after_reset(self) -> None:
        QTimer.singleShot(0, self, self.default_sizes)  # after the restored state has settled

    def model_changed(self, spec: ModelSpec) -> None:
        """When the model turns from a CNN into an RNN (an example opened, say), bring forward
        the views that can show it; ordinary edits leave the user's chosen tabs alone."""
        relevant = relevant_views(spec)
        if relevant != self._relevant:
            self._relevant = relevant
            self.raise_relevant()

    def raise_relevant(self) -> None:
        """Bring forward the tabs that show what the model is about (filters or gates)."""
        for title in self._relevant or ():
            dock = self.docks.get(title)
            if dock is not None and dock.isVisible():
                dock.raise_()

    def show_panel(self) -> None:
        """Bring the training controls forward (Train pressed): shown if closed, raised over
        the Blocks and Dataset tabs."""
        dock = self.docks.get("Training")
        if dock is not None:
            dock.show()
            dock.raise_()
