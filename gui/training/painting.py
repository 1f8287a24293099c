"""The timer that repaints the dashboard's views, paced by what painting costs.

Views only store snapshots; this timer repaints the ones that are dirty and on screen, one
view per tick: the one that has waited longest. A tick that painted four views at once held
the event loop for all four (GUI lateness p99 50-120 ms in the Train workspace); one view a
tick keeps each pause to one view's cost, and the loss curves, dirty after every batch of
steps, still come round several times for each probe view's once. The shared engine Pacer
keeps painting within PAINT_BUDGET of the wall time: a frame's cost is the GUI thread's CPU
time from the tick that updated a view to the next tick (the update, the paint events that
follow, and the scene and layout work pyqtgraph does outside them), so painting cost is
bounded by this timer, not by the training speed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from PySide6.QtCore import QObject, QTimer

from engine.pacing import Pacer
from gui.training.views import LiveView

# Ticks a second, each painting at most one view. Steps arrive UPDATE_HZ (20) times a second;
# ticks as often let the curves follow most batches while the probe views take a tick each.
# (At 8 ticks, painting every dirty view per tick, the curves redrew 6.7-7.7 times a second.)
REPAINT_HZ = 20
# Share of wall time the GUI thread may spend on frames of the views. Training runs in its own
# process, so painting takes nothing from it but a core the window has anyway; the budget
# keeps the window answering the user, and one view a tick keeps each pause short. In the
# Train workspace (bench/dashboard_throughput, 2026-12-01, a loaded 2-core machine) 15 % held
# the curves to 9-10.6 redraws a second, budget-bound; 25 % gave 12-14 with frames using
# 18-20 % of the GUI thread.
PAINT_BUDGET = 0.25
MAX_FRAME_WAIT = 3.0  # seconds: the slowest the views ever update while they are on screen
# One slow frame (the first paint of a new layout) must not freeze the views for long, and one
# cheap frame must not let a run of dear ones through: the newest cost counts half.
_SMOOTHING = 0.5


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
        # When each view was last painted (pacer clock): the longest-waiting dirty one goes next.
        self._painted_at = dict.fromkeys(self.views, float("-inf"))
        self.cpu_clock = cpu_clock
        # Read when made, so the benchmark can try other rates (--repaint-hz).
        self.pacer = Pacer(
            1 / REPAINT_HZ,
            PAINT_BUDGET,
            max_wait=MAX_FRAME_WAIT,
            smoothing=_SMOOTHING,
            clock=clock,
            first_run_waits=False,
        )
        self._open_frame: tuple[float, float] | None = None  # (wall, CPU) when it began
        # A timer tick may come a little early; a frame due within half a tick is painted on
        # that tick rather than a whole tick late.
        self._tick_slack = 0.5 / REPAINT_HZ
        self.timer = QTimer(self)
        self.timer.setInterval(int(1000 / REPAINT_HZ))
        self.timer.timeout.connect(self.repaint_views)
        self.timer.start()

    @property
    def paint_seconds(self) -> float:
        """GUI CPU time the frames have cost (for the benchmark)."""
        return self.pacer.total

    def repaint_views(self) -> int:
        """Timer tick: repaint the dirty view on screen that has waited longest; returns how
        many painted (0 or 1)."""
        now, cpu = self.pacer.clock(), self.cpu_clock()
        if self._open_frame is not None:
            began, began_cpu = self._open_frame
            self._open_frame = None
            self.pacer.record(cpu - began_cpu, at=began)
        if not self.pacer.due(now + self._tick_slack):
            return 0
        # sorted() is stable: among views never painted, the dashboard's order (curves first).
        for view in sorted(self.views, key=self._painted_at.__getitem__):
            if view.repaint_if_needed():
                self._painted_at[view] = now
                self._open_frame = (now, cpu)  # ticks that paint nothing cost nothing
                return 1
        return 0

    def repaint_all(self) -> None:
        """Paint every view with data now, on screen or not (screenshots, exports)."""
        for view in self.views:
            if view.has_data:
                view.repaint_now()

    def stop(self) -> None:
        self.timer.stop()
