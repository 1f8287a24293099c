"""Where the dashboard's views live in the window's two workspaces (gui/workspaces.py).

Build keeps the views out of the way (hidden; the View menu still shows any of them) so the
canvas and the Inspector have the window. Train hides the canvas and the left column and lays
the views out as a 2×2 grid chosen for the model, the other views that can show the model as
tabs behind the grid's cells (the rest closed, a click away in the View menu), and the model as
a compact strip along the top with the live run beside it (gui/training/run_bar.py). The
training panel, with every setting, is a click away ("Settings" on that bar) and comes
by itself when a run fails, so its message has room; View › Views Only hides the strip's row
(and a column the user opened) for a while."""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtCore import QObject, QSize, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QSizePolicy,
    QStyle,
    QToolBar,
    QToolButton,
    QWidget,
)

from engine.data import BUILTIN
from engine.model.catalogue import CATALOGUE
from engine.model.spec import ModelSpec
from engine.probes.registry import PROBES, ModelTraits
from gui.training.model_strip import ModelStrip
from gui.training.run_bar import RunBar

# Every view, in the order the ones outside the grid are dealt out as tabs behind its cells.
VIEW_ORDER = ("Loss curves", "Decision regions", "Filters", "Feature maps", "Saliency", "Gates",
              "Gradient flow", "Histograms", "Predictions", "Confusion matrix",
              "Forecast")  # fmt: skip
# What fills the grid after the views the model's blocks name (catalogue probes): the gradient
# flow (through layers, and through time for a recurrent model), then what the model predicts
# (see _prediction_view), then the histograms.
GRID_FILL = ("Gradient flow", "prediction", "Histograms", "Confusion matrix")
GRID_CELLS = 4
QWIDGETSIZE_MAX = (1 << 24) - 1  # Qt's "no maximum"
# Wide enough for "Learning rate" and the Device choice beside their fields, and for Train,
# Pause and Stop side by side: the training panel's column when it is shown in Train.
LEFT_COLUMN_WIDTH = 320
# The widest the left column gets in Train. With the canvas hidden, QMainWindow gives a larger
# window's extra width to the left dock area; capped, the grid takes it (each view 744×446 px
# at 1920×1080 rather than 477×446 beside a 954 px column).
LEFT_COLUMN_MAX = 420
# Remembers which grid (and which tabs) the Train workspace's saved arrangement holds (a
# different model kind next time gets its own grid, not the last one's), and which default it
# was laid out from: LAYOUT_VERSION 2 has no left column (an arrangement of version 1, with the
# training panel's column, is laid out afresh once).
GRID_KEY = "window/state/train_grid"
LAYOUT_VERSION = 2
RECURRENT_BLOCKS = ("rnn", "lstm", "gru")


def relevant_views(spec: ModelSpec) -> tuple[str, ...]:
    """The titles of the views that show what ``spec`` is about, in the order to raise them
    (the last raised of a tab group is the one on top): the loss curves, then the views of
    the probes that its blocks' catalogue entries name."""
    present = {inner.type for block in spec.blocks for inner in block.walk()}
    titles = ["Loss curves"]
    for block_type in CATALOGUE:  # catalogue order: one order whatever the model's
        if block_type.id in present:
            for kind in block_type.probes:
                titles += [t for t in PROBES[kind].views if t not in titles]
    return tuple(titles)


def applying_views(spec: ModelSpec) -> tuple[str, ...]:
    """The views that can show something of a run of ``spec``, in VIEW_ORDER: those of the
    probes that apply to it (the registry's own rule, on traits read from the spec) and the
    loss curves. Gates would say "Train a model with an LSTM…" through a CNN's whole run, and
    Filters through an LSTM's. A task the spec cannot tell (a file dataset's) counts as both."""
    blocks = [inner for block in spec.blocks for inner in block.walk()]
    types = {block.type for block in blocks}
    has_conv = spec.input.kind == "image" and "conv2d" in types
    recurrent = tuple(block.id for block in blocks if block.type in RECURRENT_BLOCKS)
    info = BUILTIN.get(spec.dataset or "")
    tasks = (info.task,) if info is not None else ("classification", "regression")
    titles = {"Loss curves"}
    for task in tasks:
        traits = ModelTraits(has_conv, recurrent, task, tuple(spec.input.shape))
        for kind in PROBES.applying_to(traits):
            titles.update(PROBES[kind].views)
    shape = tuple(spec.input.shape)
    if spec.input.kind == "sequence" or (spec.input.kind == "vector" and shape < (2,)):
        titles.discard("Predictions")  # its grid draws images, and points of 2 or more values
    return tuple(t for t in VIEW_ORDER if t in titles)


def _prediction_view(spec: ModelSpec) -> str:
    """The view that shows what the model predicts on its dataset: Forecast for a forecast or
    regression set; for classes, the Decision regions for 2-D points, the Predictions grid for
    images and the Confusion matrix for sequences (the grid cannot draw those)."""
    info = BUILTIN.get(spec.dataset or "")
    if info is not None and info.task != "classification":
        return "Forecast"
    if spec.input.kind == "vector" and tuple(spec.input.shape) == (2,):
        return "Decision regions"
    return "Confusion matrix" if spec.input.kind == "sequence" else "Predictions"


def grid_views(spec: ModelSpec) -> tuple[str, ...]:
    """The four views of the Train workspace's grid for ``spec``: a CNN gets its curves,
    filters, feature maps and gradient flow; a recurrent model its curves, gates, gradient
    through time and what it predicts (forecast or confusion matrix)."""
    titles = list(relevant_views(spec))
    fill = [_prediction_view(spec) if t == "prediction" else t for t in GRID_FILL]
    titles += [t for t in fill if t not in titles]
    ordered = [t for t in VIEW_ORDER if t in titles[:GRID_CELLS]]
    return tuple(ordered)


class DockLayout(QObject):
    """Docks the training panel, the views and the model strip in a window's workspaces."""

    def __init__(self, panel: QWidget, views: Mapping[str, QWidget], parent=None):
        super().__init__(parent)
        self.panel = panel
        self.views = views
        self.docks: dict[str, QDockWidget] = {}
        self.window: QMainWindow | None = None
        self.strip: ModelStrip | None = None
        self.grid: tuple[str, ...] = ()
        self.applying: tuple[str, ...] = VIEW_ORDER  # the views Train shows (applying_views)
        # Other panels' docks that Train deals out as tabs behind the grid's cells after the
        # views (the Runs panel: beside the Loss curves it draws on, not in the left column,
        # whose width it would set).
        self.extra_tabs: list[QDockWidget] = []
        self._relevant: tuple[str, ...] | None = None
        # View › Views Only: whether it is on, and the docks it hid.
        self._views_only = False
        self._hidden_for_views: list[QDockWidget] = []

    def add_to(self, window: QMainWindow) -> None:
        self.window = window
        # In the left column, where the assembled window makes it a tab beside Blocks and
        # Dataset: the Inspector keeps the right column's height for a block's fields.
        self.docks["Training"] = window.add_dock(
            "Training", self.panel, Qt.DockWidgetArea.LeftDockWidgetArea
        )
        for title in VIEW_ORDER:
            view = self.views[title]
            dock = window.add_dock(title, view, Qt.DockWidgetArea.RightDockWidgetArea)
            header = getattr(view, "header", None)
            if header is not None:
                dock.setTitleBarWidget(ViewTitleBar(dock, header))
            self.docks[title] = dock
            # triggered, not toggled: the user's click in the View menu, not a layout's show().
            dock.toggleViewAction().triggered.connect(
                lambda checked, t=title: checked and self._opened(t)
            )
        # The model strip is a toolbar row under the main one, not a dock: a dock area beside a
        # hidden canvas takes a share of a larger window's height and leaves it empty.
        self.strip = ModelStrip(window.document)
        self.strip_bar = QToolBar("Model strip", window)
        self.strip_bar.setObjectName("model_strip_toolbar")  # saveState keys on this
        self.strip_bar.setMovable(False)
        self.panel_action = self._panel_action(window)
        self.run_bar = RunBar(self.panel, self.panel_action)
        # One row of the toolbar: the strip as wide as its chips (narrower, scrolled, where the
        # row is short), the run bar the rest (QToolBar's own layout shrank the strip first).
        row = QWidget()
        row.setObjectName("strip_row")
        row_layout = QHBoxLayout(row)
        row_layout.setContentsMargins(0, 0, 0, 0)
        row_layout.setSpacing(0)
        row_layout.addWidget(self.strip)
        row_layout.addWidget(self.run_bar, 1)
        row.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.strip_bar.addWidget(row)
        window.addToolBarBreak(Qt.ToolBarArea.TopToolBarArea)
        window.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.strip_bar)
        # Build shows none of these; Train lays them out (after the window's own part).
        window.hidden_in_build.update(d for t, d in self.docks.items() if t != "Training")
        window.workspaces.arrangers["train"].append(self.arrange_train)
        window.layout_reset.connect(self._sizes_after_reset)
        window.workspaces.changed.connect(self._cap_left_column)
        window.workspaces.changed.connect(self._workspace_changed)
        # After the workspace's own arrangement (restored or laid out) has settled.
        window.workspaces.changed.connect(lambda: QTimer.singleShot(0, self, self.reveal_filled))
        window.workspaces.about_to_keep.connect(lambda: self.set_views_only(False))
        self._add_views_only_action(window)
        if self.grid:
            self._check_remembered_grid()
        # Hidden at once, not at first show: shown at first, the nine views would stack up in
        # one column and make the window taller than the screen before they could be hidden.
        self._hide_for_build()

    def _panel_action(self, window: QMainWindow) -> QAction:
        """The run bar's "Settings": shows the training panel (every setting, Train, Pause,
        Stop, the whole message) in the left column, or hides it; checked while it is open."""
        dock = self.docks["Training"]
        action = QAction("Settings", window)
        action.setCheckable(True)
        action.setToolTip(
            "Show the training panel in a column on the left: every setting of the run (the "
            "optimiser, batch size, epochs, device) and its whole message; click again to hide "
            "it. View › Training does the same"
        )
        action.setChecked(not dock.isHidden())
        dock.toggleViewAction().toggled.connect(action.setChecked)
        action.triggered.connect(lambda on: self.show_panel() if on else dock.hide())
        return action

    def _add_views_only_action(self, window: QMainWindow) -> None:
        """View › Views Only (and the toolbar's "Views only"): in Train, the model strip's row
        (the strip and the run bar) and any column the user opened step aside so the grid has
        the whole window; Train, Pause and Stop stay in the toolbar. Checked again, or on
        leaving Train, they come back."""
        action = QAction("Views &Only", window)
        action.setCheckable(True)
        action.setShortcut(QKeySequence("Ctrl+Shift+F"))
        action.setToolTip(
            "Give the views the whole window: hide the model strip with the run's progress, "
            "and any column on the left (Ctrl+Shift+F; Train, Pause and Stop stay in the "
            "toolbar)"
        )
        action.setEnabled(window.workspaces.current == "train")
        action.toggled.connect(self.set_views_only)
        window.addAction(action)  # the shortcut works while the menu bar is hidden, too
        window.view_menu.insertAction(window.reset_layout_action, action)
        window.toolbar.addAction(action)
        self.views_only_action = action

    def set_views_only(self, on: bool) -> None:
        """Hide (``on``, in Train) or bring back the model strip's row and the left column."""
        window = self.window
        if on and not self._views_only and window.workspaces.current == "train":
            left = Qt.DockWidgetArea.LeftDockWidgetArea
            self._hidden_for_views = [
                d for d in window.findChildren(QDockWidget)
                if d.isVisible() and not d.isFloating() and window.dockWidgetArea(d) == left
            ]  # fmt: skip
            for dock in self._hidden_for_views:
                dock.hide()
            self.strip_bar.hide()
            self._views_only = True
            QTimer.singleShot(0, self, self.default_sizes)
        elif not on and self._views_only:
            for dock in self._hidden_for_views:
                dock.show()
            self._hidden_for_views, self._views_only = [], False
            if window.workspaces.current == "train":
                self.strip_bar.show()
                QTimer.singleShot(0, self, self.default_sizes)
        action = self.views_only_action
        if action.isChecked() != self._views_only:
            action.blockSignals(True)
            action.setChecked(self._views_only)
            action.blockSignals(False)

    def _workspace_changed(self, workspace: str) -> None:
        self.views_only_action.setEnabled(workspace == "train")

    def _cap_left_column(self, workspace: str) -> None:
        cap = LEFT_COLUMN_MAX if workspace == "train" else QWIDGETSIZE_MAX
        self.docks["Training"].setMaximumWidth(cap)

    def _hide_for_build(self) -> None:
        for title, dock in self.docks.items():
            if title != "Training":
                dock.hide()
        self.strip_bar.hide()

    def arrange_train(self) -> None:
        """The Train workspace's default: the grid's four views in two rows and two columns
        (the canvas and the left column are hidden, so they share the whole window), every
        other view that applies to the model a tab behind one of them (the rest closed), the
        model strip on top with the run bar beside it."""
        window, d = self.window, self.docks
        self.set_views_only(False)  # the default shows the strip's row
        shown = [t for t in VIEW_ORDER if t in self.grid or t in self.applying]
        for title in VIEW_ORDER:
            d[title].setFloating(False)
            d[title].setVisible(title in shown)
        a, b, c, e = (d[t] for t in self.grid)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, a)
        window.splitDockWidget(a, b, Qt.Orientation.Horizontal)
        window.splitDockWidget(a, c, Qt.Orientation.Vertical)
        window.splitDockWidget(b, e, Qt.Orientation.Vertical)
        others = [d[t] for t in shown if t not in self.grid] + self.extra_tabs
        cells = (a, b, c, e)
        for index, dock in enumerate(others):
            dock.setFloating(False)
            dock.show()
            window.tabifyDockWidget(cells[index % GRID_CELLS], dock)
        for cell in cells:  # a new tab comes to the front: the grid's views go back on top
            cell.raise_()
        # The left column (the training panel, the Dataset panel) steps aside: the run bar
        # shows the run and its live fields; its "Settings" brings the column back.
        left = Qt.DockWidgetArea.LeftDockWidgetArea
        for dock in window.findChildren(QDockWidget):
            if not dock.isFloating() and window.dockWidgetArea(dock) == left:
                dock.hide()
        self.strip_bar.show()
        self._cap_left_column("train")
        self.default_sizes()
        # Tabs raised and sizes set again once the new layout has settled (Qt applies dock
        # sizes and tab order lazily; raised inside the rearrangement, stale tab bars remain).
        QTimer.singleShot(0, self, self._settle_train)

    def _settle_train(self) -> None:
        if self.window is None or self.window.workspaces.current != "train":
            return
        for title in self.grid:
            self.docks[title].raise_()
        self.default_sizes()

    def default_sizes(self) -> None:
        """The grid's cells share the window (beside the left column, if one is open) equally;
        the left column is as wide as the training form needs."""
        window, d = self.window, self.docks
        if window is None or window.workspaces.current != "train":
            return
        a, b, c, e = (d[t] for t in self.grid)
        left = 0
        if d["Training"].isVisible():
            window.resizeDocks([d["Training"]], [LEFT_COLUMN_WIDTH], Qt.Orientation.Horizontal)
            left = LEFT_COLUMN_WIDTH
        half_w = max(1, (window.width() - left) // 2)
        half_h = max(1, window.height() // 2)
        window.resizeDocks([a, b], [half_w, half_w], Qt.Orientation.Horizontal)
        window.resizeDocks([a, c], [half_h, half_h], Qt.Orientation.Vertical)
        window.resizeDocks([b, e], [half_h, half_h], Qt.Orientation.Vertical)

    def _sizes_after_reset(self) -> None:
        QTimer.singleShot(0, self, self.default_sizes)  # after the restored state has settled

    def model_changed(self, spec: ModelSpec) -> None:
        """When the model turns from a CNN into an RNN (an example opened, say), the Train
        grid follows it and the views that can show it come forward; ordinary edits leave the
        user's arrangement alone."""
        relevant, applying = relevant_views(spec), applying_views(spec)
        if relevant == self._relevant and applying == self.applying:
            return
        self._relevant = relevant
        grid = grid_views(spec)
        if (grid, applying) != (self.grid, self.applying):
            self.grid, self.applying = grid, applying
            if self.window is not None:
                self._check_remembered_grid()
                if self.window.workspaces.current == "train":
                    self.window.workspaces.arrange_default()
        self.raise_relevant()

    def _opened(self, title: str) -> None:
        """A closed view opened from the View menu in Train comes in front of a grid cell, as
        a tab: Qt would put it back where it last was, a strip across the top of the grid."""
        window, dock = self.window, self.docks[title]
        if window is None or window.workspaces.current != "train" or title in self.grid:
            return
        if not dock.isFloating() and not window.tabifiedDockWidgets(dock):
            self._tab_behind_grid(dock, VIEW_ORDER.index(title))

    def _tab_behind_grid(self, dock: QDockWidget, index: int, front: bool = True) -> None:
        """``dock`` as a tab of a grid cell (the ``index``-th, counting round the cells still
        docked in the window); the front tab when ``front``."""
        window = self.window
        cells = [self.docks[t] for t in self.grid]
        cells = [c for c in cells if c.isVisible() and not c.isFloating()] or cells
        window.tabifyDockWidget(cells[index % len(cells)], dock)
        dock.show()
        if front:
            dock.raise_()
        else:  # a new tab comes to the front: the cell's own view goes back on top
            cells[index % len(cells)].raise_()

    def reveal_filled(self) -> None:
        """Open, as tabs behind the grid, the closed views that hold data of a probe no open
        view shows: a recorded run of another model (File › Open Run of an LSTM's run beside
        a CNN) brings its gates, which must not wait behind the View menu. A probe an open
        view shows already (the classification report, in the Confusion matrix) opens
        nothing: the run is of this kind of model, and the view was closed for a reason."""
        window = self.window
        if window is None or window.workspaces.current != "train" or not self.grid:
            return
        shown = {kind for title in self.applying for kind in PROBES.for_view(title)}
        closed = [t for t in VIEW_ORDER if t not in self.applying and t not in self.grid]
        for index, title in enumerate(closed):
            dock = self.docks[title]
            if (
                dock.isHidden()
                and getattr(self.views[title], "has_data", False)
                and not set(PROBES.for_view(title)) <= shown
            ):
                self._tab_behind_grid(dock, index, front=False)

    def _check_remembered_grid(self) -> None:
        """A Train arrangement kept for another grid, or other views, is dropped: it is laid
        out afresh."""
        settings = self.window.workspaces.settings
        key = f"{LAYOUT_VERSION}:" + "|".join(self.grid) + "/" + "|".join(self.applying)
        if settings.value(GRID_KEY) != key:
            self.window.workspaces.forget("train")
            settings.setValue(GRID_KEY, key)

    def raise_relevant(self) -> None:
        """Bring forward the tabs that show what the model is about (filters or gates)."""
        for title in self._relevant or ():
            dock = self.docks.get(title)
            if dock is not None and dock.isVisible():
                dock.raise_()

    def training_started(self) -> None:
        """Train pressed: the Train workspace, where the run bar shows the run (unless the
        user turned that off: then the training panel comes in front in Build)."""
        if self.window is None:
            return
        if self.window.workspaces.switch_on_train:
            self.window.workspaces.show("train")
        self.show_controls()

    def show_controls(self) -> None:
        """The run's controls in sight: in Train the run bar (or, with the strip's row hidden
        by Views Only, the toolbar's), elsewhere the training panel in front."""
        if self.window is not None and self.window.workspaces.current == "train":
            return
        self.show_panel()

    def run_failed(self) -> None:
        """A run failed (or could not start): its message needs the panel's room, and the fix
        is often one of its settings; shown in Train too (Views Only ends)."""
        if self.window is None:
            return
        self.set_views_only(False)
        self.show_panel()
        if self.window.workspaces.current == "train":
            QTimer.singleShot(0, self, self.default_sizes)

    def show_panel(self) -> None:
        """Bring the training panel forward (Train pressed in Build, "Settings", a failed
        run): shown if closed, raised over the Blocks and Dataset tabs."""
        dock = self.docks.get("Training")
        if dock is not None:
            dock.show()
            dock.raise_()


class ViewTitleBar(QWidget):
    """A view dock's title bar that carries the view's header: the title, the view's caption,
    Export and "?", then the float and close buttons, in one row. The header's own row took
    ~28 px of each cell of the Train grid, about a tenth of a cell at 1280×800.

    Dragging the bar moves the dock and a double-click floats it, as with Qt's own bar: the
    labels leave those mouse events to the dock."""

    def __init__(self, dock: QDockWidget, header: QWidget):
        super().__init__(dock)
        self.setObjectName("view_title_bar")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 1, 2, 1)
        layout.setSpacing(6)
        self.title = QLabel(dock.windowTitle())
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        dock.windowTitleChanged.connect(self.title.setText)
        layout.addWidget(self.title)
        header.layout().setContentsMargins(0, 0, 0, 0)
        layout.addWidget(header, 1)  # taken out of the view's own layout
        style = self.style()
        self.float_button = self._button(
            style.standardIcon(QStyle.StandardPixmap.SP_TitleBarNormalButton),
            "Float this view in a window of its own, or dock it again (or double-click the title)",
            lambda: dock.setFloating(not dock.isFloating()),
        )
        self.close_button = self._button(
            style.standardIcon(QStyle.StandardPixmap.SP_TitleBarCloseButton),
            "Close this view (the View menu shows it again)",
            dock.close,
        )
        layout.addWidget(self.float_button)
        layout.addWidget(self.close_button)
        dock.featuresChanged.connect(self._features_changed)
        self._features_changed(dock.features())

    def _button(self, icon, tip: str, slot) -> QToolButton:
        button = QToolButton(self)
        button.setIcon(icon)
        # The size of Qt's own title bar buttons (the Training dock's beside it).
        side = self.style().pixelMetric(QStyle.PixelMetric.PM_SmallIconSize) - 4
        button.setIconSize(QSize(side, side))
        button.setAutoRaise(True)
        button.setToolTip(tip)
        button.setAccessibleName(tip.split(" (")[0])
        button.clicked.connect(slot)
        return button

    def _features_changed(self, features) -> None:
        feature = QDockWidget.DockWidgetFeature
        self.float_button.setVisible(bool(features & feature.DockWidgetFloatable))
        self.close_button.setVisible(bool(features & feature.DockWidgetClosable))
