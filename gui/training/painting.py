"""The timer that repaints the dashboard's views, paced by what painting costs.

Views only store snapshots; this timer repaints the ones that are dirty and on screen. The
shared engine Pacer keeps painting within PAINT_BUDGET of the wall time: a frame's cost is the
GUI thread's CPU time from the tick that updated the views to the next tick (the updates, the
paint events that follow, and the scene and layout work pyqtgraph does outside them), so
painting cost is bounded by this timer, not by the training speed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from PySide6.QtCore import QObject, QTimer

from engine.pacing import Pacer
from gui.training.views import LiveView

REPAINT_HZ = 8
# Share of wall time the GUI thread may spend on frames of the views. Training runs in its own
# process, so painting takes nothing from it (bench/dashboard_throughput --paint-budget: the
# same ratio at 3 % and 15 %); the budget keeps the window answering the user. With all nine
# views on screen, 15 % let the loss curves redraw ~7 times as often as 3 % did, with event-loop
# lateness p99 12-17 ms (25 % reached 22 ms in a shorter run, against the 30 ms target).
PAINT_BUDGET = 0.15
MAX_FRAME_WAIT = 3.0  # seconds: the slowest the views ever update while they are on screen
# One slow frame (the first paint of a new layout) must not freeze the views for long, and one
# cheap frame must not let a run of dear ones through: the newest cost counts half.
_SMOOTHING = 0.5
# A timer tick may come a little early; a frame due within half a tick is painted on that tick
# rather than a whole tick late.
_TICK_SLACK = 0.5 / REPAINT_HZ


class ViewPainter(QObject):
    """Repaints ``views`` on a timer, each frame paced by the one before it."""

    def __init__(
        self,
        views: Iterable[LiveView],
        parent: QObject | None = None,
        *,
        cpu_clock: Callable[[], float] = time.thread_time,  # the GUI thread's CPU clock
        clock: Callable[[], float] = time.perf_counter,
    ):
        super().__init__(parent)
        self.views = tuple(views)
        self.cpu_clock = cpu_clock
        self.pacer = Pacer(
            1 / REPAINT_HZ,
            PAINT_BUDGET,
            max_wait=MAX_FRAME_WAIT,
            smoothing=_SMOOTHING,
            clock=clock,
            first_run_waits=False,
        )
        self._open_frame: tuple[float, float] | None = None  # (wall, CPU) when it began
        self.timer = QTimer(self)
        self.timer.setInterval(1000 // REPAINT_HZ)
        self.timer.timeout.connect(self.repaint_views)
        self.timer.start()

    @property
    def paint_seconds(self) -> float:
        """GUI CPU time the frames have cost (for the benchmark)."""
        return self.pacer.total

    def repaint_views(self) -> int:
        """Timer tick: repaint the dirty views that can be seen; returns how many painted."""
        now, cpu = self.pacer.clock(), self.cpu_clock()
        if self._open_frame is not None:
            began, began_cpu = self._open_frame
            self._open_frame = None
            self.pacer.record(cpu - began_cpu, at=began)
        if not self.pacer.due(now + _TICK_SLACK):
            return 0
        painted = sum(view.repaint_if_needed() for view in self.views)
        if painted:  # ticks that paint nothing are no frame and cost nothing
            self._open_frame = (now, cpu)
        return painted

    def repaint_all(self) -> None:
        """Paint every view with data now, on screen or not (screenshots, exports)."""
        for view in self.views:
            if view.has_data:
                view.repaint_now()

    def stop(self) -> None:
        self.timer.stop()
