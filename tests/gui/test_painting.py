"""ViewPainter paints one view a tick, the dirty one on screen that has waited longest, so a
view dirty after every batch (the loss curves) cannot starve the others."""

from __future__ import annotations

import itertools

from gui.training.painting import ViewPainter


class FakeView:
    """What the painter asks of a view: whether it repainted (dirty and on screen)."""

    def __init__(self, name: str, log: list, on_screen: bool = True):
        self.name, self.log, self.on_screen, self.dirty = name, log, on_screen, False

    def repaint_if_needed(self) -> bool:
        if not (self.dirty and self.on_screen):
            return False
        self.dirty = False
        self.log.append(self.name)
        return True


def test_one_view_a_tick_the_longest_waiting_first(qtbot):
    log = []
    curves, filters = FakeView("curves", log), FakeView("filters", log)
    hidden = FakeView("hidden", log, on_screen=False)  # tabbed behind another view
    ticks = itertools.count(0.0, 100.0)  # every tick is due
    painter = ViewPainter([curves, filters, hidden], cpu_clock=lambda: 0.0,
                          clock=ticks.__next__)  # fmt: skip
    painter.stop()  # the test ticks it
    for tick in range(5):
        curves.dirty = hidden.dirty = True  # new steps after every batch
        if tick == 1:
            filters.dirty = True  # a probe snapshot: it waited longer than the curves
        assert painter.repaint_views() == 1
    assert log == ["curves", "filters", "curves", "curves", "curves"]
    assert painter.repaint_views() == 0  # nothing dirty on screen
