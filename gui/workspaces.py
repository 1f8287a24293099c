"""Build and Train workspaces, like an IDE's perspectives: each is an arrangement of the same
docks, remembered on its own (saveState under "window/state/<name>"), switched from the
toolbar's "Build | Train" buttons or the View menu (Ctrl+1, Ctrl+2).

Build shows the canvas with the palette and the Inspector; Train hides the canvas so the
views fill the window. A workspace's default arrangement comes from the parts that own the
docks (``arrangers``), so Reset Layout rebuilds only the one shown."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMainWindow, QTabBar

WORKSPACES = ("build", "train")
TITLES = {"build": "Build", "train": "Train"}
SHORTCUTS = {"build": "Ctrl+1", "train": "Ctrl+2"}
SWITCH_ON_TRAIN_KEY = "workspace/switch_on_train"


def state_key(name: str) -> str:
    return f"window/state/{name}"


class Workspaces(QObject):
    """Which workspace is shown, each one's remembered arrangement, and the actions that switch."""

    changed = Signal(str)  # the workspace now shown
    # The shown workspace's arrangement is about to be kept (a switch, the window closing): a
    # passing arrangement (View › Views Only) is undone first, so it is not what is remembered.
    about_to_keep = Signal()

    def __init__(self, window: QMainWindow, settings: QSettings):
        super().__init__(window)
        self.window = window
        self.settings = settings
        self.current = "build"
        # name -> callables that lay out that workspace's default arrangement, in order.
        self.arrangers: dict[str, list[Callable[[], None]]] = {n: [] for n in WORKSPACES}
        self._states: dict[str, object] = {}  # this session's arrangement of each workspace
        self.group = QActionGroup(self)
        self.group.setExclusive(True)
        self.actions: dict[str, QAction] = {}
        for name in WORKSPACES:
            action = QAction(TITLES[name], self)
            action.setCheckable(True)
            action.setShortcut(QKeySequence(SHORTCUTS[name]))
            action.setToolTip(f"{TITLES[name]} workspace ({SHORTCUTS[name]})")
            action.triggered.connect(lambda _=False, n=name: self.show(n))
            self.group.addAction(action)
            window.addAction(action)  # the shortcut works while the menu bar is hidden, too
            self.actions[name] = action
        self.actions["build"].setChecked(True)
        self.switch_on_train_action = QAction("Switch to Train when training starts", self)
        self.switch_on_train_action.setCheckable(True)
        remembered = settings.value(SWITCH_ON_TRAIN_KEY, True)
        self.switch_on_train_action.setChecked(remembered not in (False, "false", "0", 0))
        self.switch_on_train_action.toggled.connect(
            lambda on: self.settings.setValue(SWITCH_ON_TRAIN_KEY, on)
        )

    @property
    def switch_on_train(self) -> bool:
        return self.switch_on_train_action.isChecked()

    def show(self, name: str) -> None:
        """Keep the shown workspace's arrangement and show ``name``'s: this session's, else the
        remembered one, else its default."""
        if name not in WORKSPACES:
            raise ValueError(f"There is no workspace called {name!r}; choose one of {WORKSPACES}.")
        if name == self.current:
            return
        self.about_to_keep.emit()
        self._states[self.current] = self.window.saveState()
        self.current = name
        self.actions[name].setChecked(True)
        state = self._states.get(name)
        if state is None:
            state = self.settings.value(state_key(name))
        if state is None or not self._restore(state):
            self.arrange_default()
        self._drop_stale_tab_bars()
        self.changed.emit(name)

    def _drop_stale_tab_bars(self) -> None:
        """Rearranging tabbed docks leaves the old arrangement's tab bars on screen (Qt 6.11:
        "Training | Training | Runs", bits of "Forecast" beside the new bars). Hidden all, the
        layout shows again, once its state is restored over itself, only the bars it uses."""
        for bar in self.window.findChildren(QTabBar):
            if bar.parent() is self.window:  # a dock area's bar, not one inside a view
                bar.hide()
        self.window.restoreState(self.window.saveState())

    def restore_remembered(self) -> bool:
        """At first show: the shown workspace's remembered arrangement, if there is one."""
        state = self.settings.value(state_key(self.current))
        return state is not None and self._restore(state)

    def arrange_default(self) -> None:
        """Lay out the shown workspace as it first was (View › Reset Layout)."""
        size = self.window.size()
        self.window.centralWidget().setVisible(self.current == "build")
        for arrange in self.arrangers[self.current]:
            arrange()
        # Docks shown before they reach their place stack up for a moment and push the window
        # taller than the screen; the finished arrangement fits in the size it had.
        if self.window.size() != size:
            self.window.resize(size)

    def forget(self, name: str) -> None:
        """Drop ``name``'s arrangement, so it is laid out afresh when next shown (the model
        changed kind and its grid of views with it)."""
        self._states.pop(name, None)
        self.settings.remove(state_key(name))

    def save(self) -> None:
        """Remember the shown workspace's arrangement (the window closes)."""
        self.about_to_keep.emit()
        self.settings.setValue(state_key(self.current), self.window.saveState())
        for name, state in self._states.items():
            if name != self.current:
                self.settings.setValue(state_key(name), state)

    def _restore(self, state) -> bool:
        size = self.window.size()
        self.window.centralWidget().setVisible(self.current == "build")
        restored = bool(self.window.restoreState(state))
        if self.window.size() != size:
            self.window.resize(size)
        return restored
