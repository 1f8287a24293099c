"""The diagram linked to the views: a block selected on the canvas is the layer each view shows,
and each card draws its block's output for the probe sample (with the probes really run)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest

from engine.model.examples import example_path
from engine.model.spec import ModelSpec
from engine.probes.registry import PROBE_KINDS
from engine.training.events import ProbeSnapshot, RunStarted, StepMetrics
from gui.training.dashboard import install

pytestmark = pytest.mark.usefixtures("leak_check")

FAST_PROBES = {kind: 0.05 for kind in PROBE_KINDS}


@pytest.fixture
def dashboard(main_window, qtbot):
    board = install(main_window, main_window.document)
    board.settings_overrides = {"probe_intervals": FAST_PROBES, "seed": 0}
    yield board
    board.shutdown()


class ProbedModel:
    """The document's model built with torch, its probes run as the training process runs them."""

    def __init__(self, spec: ModelSpec, task: str):
        import torch

        from engine.nn.build import build_model
        from engine.probes.schedule import ProbeRunner

        self.torch = torch
        self.model = build_model(spec, seed=0)
        generator = torch.Generator().manual_seed(0)
        self.x = torch.randn(16, *spec.input.shape, generator=generator)
        if task == "classification":
            self.y = torch.randint(0, 10, (16,), generator=generator)
            self.loss_fn = torch.nn.CrossEntropyLoss()
        else:
            self.y = torch.randn(16, 1, generator=generator)
            self.loss_fn = torch.nn.MSELoss()
        self.emitted: list[ProbeSnapshot] = []
        self.step = 0
        self.runner = ProbeRunner(
            self.model, task=task, num_classes=10, loss_fn=self.loss_fn, x_val=self.x,
            y_val=self.y, x_train=self.x, y_train=self.y,
            emit=lambda kind, data, error: self.emitted.append(
                ProbeSnapshot(1, self.step, kind, data, error)
            ),
        )  # fmt: skip
        self.optimiser = torch.optim.SGD(self.model.parameters(), lr=0.5)

    def train_step_and_probe(self) -> list[ProbeSnapshot]:
        """One real step (the weights change), then every probe once."""
        self.step += 1
        self.optimiser.zero_grad()
        self.loss_fn(self.model(self.x), self.y).backward()
        self.optimiser.step()
        self.emitted.clear()
        self.runner.run_all()
        assert all(s.error is None for s in self.emitted), [s.error for s in self.emitted]
        return list(self.emitted)


def feed(board, snapshots) -> None:
    for snapshot in snapshots:
        board.on_probe(snapshot)


def select(board, block_id) -> None:
    board.document.set_selection([block_id] if block_id else [])


def test_selecting_a_block_shows_its_layer_in_every_view(dashboard):
    board, doc = dashboard, dashboard.document
    board.on_run_started(RunStarted(1, "CNN", "digits", "cpu", 1, 10, {}))
    probed = ProbedModel(doc.spec, "classification")
    feed(board, probed.train_step_and_probe())
    assert board.filters.shown_layer() == "conv1"  # before any selection: the first

    select(board, "conv2")
    assert board.filters.shown_layer() == "conv2"
    assert board.filters.current.weights.shape[0] == 32
    assert board.histograms.shown_layer() == "conv2"
    assert [m.block_id for m in board.feature_maps.shown_maps()] == ["conv2"]
    assert board.gradients.shown_layer() == "conv2"
    for view in board.views.values():
        view.repaint_now()
    assert board.gradients.is_highlighted("conv2") and not board.gradients.is_highlighted("conv1")
    assert "conv2 only" in board.feature_maps.caption.text()
    assert all(not v.focus_note.isVisibleTo(v.header) for v in board.views.values())

    # A new snapshot (new weights) keeps the focus, and shows the new weights.
    before = np.array(board.filters.current.weights)
    feed(board, probed.train_step_and_probe())
    board.filters.repaint_now()
    assert board.filters.shown_layer() == "conv2"
    assert not np.array_equal(before, board.filters.current.weights)
    assert [m.block_id for m in board.feature_maps.shown_maps()] == ["conv2"]

    # No block selected: the feature maps show every layer again; the pickers stay.
    select(board, None)
    board.feature_maps.repaint_now()
    assert len(board.feature_maps.shown_maps()) == len(board.feature_maps.maps) > 1
    assert board.filters.shown_layer() == "conv2"


def test_a_block_a_view_cannot_show_leaves_it_as_it_was_and_says_why(dashboard):
    board, doc = dashboard, dashboard.document
    probed = ProbedModel(doc.spec, "classification")
    feed(board, probed.train_step_and_probe())
    select(board, "conv2")
    select(board, "dropout1")  # no filters, no feature maps, no parameters
    for view, what in (
        (board.filters, "no filters"),
        (board.feature_maps, "no feature maps"),
        (board.gradients, "no gradient norm"),
    ):
        assert view.shown_layer() == "conv2", view.title
        assert view.focus_note.isVisibleTo(view.header)
        assert "dropout1" in view.focus_note.text() and what in view.focus_note.text()
        assert "Still showing conv2" in view.focus_note.text()
    assert board.histograms.shown_layer() == "dropout1"  # its activations have a histogram
    assert not board.histograms.focus_note.isVisibleTo(board.histograms.header)
    # The views of the whole model ignore the selection.
    assert not board.curves.focus_note.isVisibleTo(board.curves.header)
    # Back to a block they can show: the note goes.
    select(board, "conv1")
    assert board.filters.shown_layer() == "conv1" and not board.filters.focus_note.text()


def test_a_block_selected_before_the_run_is_shown_when_its_data_comes(dashboard):
    board, doc = dashboard, dashboard.document
    select(board, "conv2")  # idle, nothing probed yet: nothing to say
    assert not board.filters.focus_note.text()
    board.on_run_started(RunStarted(1, "CNN", "digits", "cpu", 1, 10, {}))
    feed(board, ProbedModel(doc.spec, "classification").train_step_and_probe())
    assert board.filters.shown_layer() == "conv2"
    assert [m.block_id for m in board.feature_maps.shown_maps()] == ["conv2"]


def test_a_recurrent_block_shows_its_gates_and_its_gradient_through_time(dashboard):
    board, doc = dashboard, dashboard.document
    doc.new(ModelSpec.load(example_path("sine_lstm")))
    probed = ProbedModel(doc.spec, "regression")
    feed(board, probed.train_step_and_probe())
    select(board, "dense1")
    assert "no gates" in board.gates.focus_note.text()
    assert board.gates.shown_layer() == "lstm1"
    select(board, "lstm1")
    assert board.gates.shown_layer() == "lstm1" and not board.gates.focus_note.text()
    board.gradients.repaint_now()
    assert board.gradients.is_highlighted("lstm1")
    assert not board.gradients.is_highlighted("dense1")


def test_cards_draw_the_block_outputs_of_the_probe_sample(dashboard, main_window):
    board, doc, scene = dashboard, dashboard.document, main_window.scene
    assert all(scene.card(b.id).thumbnail is None for b in doc.spec.blocks)
    probed = ProbedModel(doc.spec, "classification")
    feed(board, probed.train_step_and_probe())
    outputs = {s.kind: s.data for s in probed.emitted}["block_outputs"]
    for out in outputs:
        thumb = scene.card(out.block_id).thumbnail
        assert thumb is not None and thumb.image.width() > 0, out.block_id
        # Sharp cells in [-1, 1] at ±the block's level, zero white.
        assert np.nanmax(np.abs(thumb.cells)) == pytest.approx(1.0, abs=1e-6)
    conv1 = scene.card("conv1").thumbnail  # 16 channels: their mean, 8×8
    assert conv1.cells.shape == (8, 8) and "mean of its 16 channels" in conv1.text
    dense2 = scene.card("dense2").thumbnail  # the 10 class scores: one heat row
    assert dense2.cells.shape == (1, 10)
    # The thumbnail keeps clear of the card's name and shape.
    card = scene.card("conv1")
    assert not card.thumbnail_rect().intersects(card.text_rect())
    # An edit that changes a block's output shape takes its (stale) picture away.
    index = doc.spec.index_of("dense1")
    doc.set_params(index, {**doc.spec.blocks[index].params, "units": 20})
    assert scene.card("dense1").thumbnail is None
    assert scene.card("conv1").thumbnail is conv1
    # A new run starts without the last run's pictures.
    board.on_run_started(RunStarted(2, "CNN", "digits", "cpu", 1, 10, {}))
    assert scene.card("conv1").thumbnail is None


def test_a_real_run_puts_thumbnails_on_the_cards_and_the_view_menu_turns_them_off(
    make_app_window, qtbot, window_settings
):
    from gui.training.linking import THUMBNAILS_KEY

    window = make_app_window()
    board, scene = window.dashboard, window.scene
    board.settings_overrides = {"probe_intervals": FAST_PROBES, "seed": 0}
    board.panel.epochs_spin.setValue(1)
    action = board.link.thumbnails_action
    assert action in window.view_menu.actions() and action.isChecked()
    with qtbot.waitSignal(board.controller.run_finished, timeout=60_000):
        board.train()
    blocks = [b.id for b in window.document.spec.blocks]
    qtbot.waitUntil(
        lambda: all(scene.card(b).thumbnail is not None for b in blocks), timeout=10_000
    )
    action.trigger()  # off
    assert not action.isChecked() and not scene.thumbnails_shown
    assert all(scene.card(b).thumbnail is None for b in blocks)
    assert window_settings.value(THUMBNAILS_KEY, True, type=bool) is False
    action.trigger()  # on again: the last run's outputs come back
    assert all(scene.card(b).thumbnail is not None for b in blocks)
    assert window_settings.value(THUMBNAILS_KEY, False, type=bool) is True


@pytest.mark.parametrize(
    ("shape", "cells", "what"),
    [
        ((3, 5, 4), (5, 3 * 5 - 1), "3 channels"),  # a mosaic, one-pixel gaps between tiles
        ((8, 2, 2), (5, 4 * 3 - 1), "8 channels"),  # two rows of four
        ((9, 6, 6), (6, 6), "the mean of its 9 channels"),
        ((40, 3), (3, 40), "40 steps × 3"),  # time runs left to right, as in Gates
        ((10,), (1, 10), "10 values"),
        ((70,), (3, 32), "70 values, 32 a row"),  # wraps; the rest of the last row is a gap
    ],
)
def test_thumbnail_layout_of_each_kind_of_output(qapp, shape, cells, what):
    from engine.probes.snapshots import BlockOutput
    from gui.editor.canvas.thumbnails import make_thumbnail

    values = np.linspace(-2.0, 1.0, int(np.prod(shape)), dtype=np.float32).reshape(shape)
    thumb = make_thumbnail(BlockOutput("b", values, 2.0))
    assert thumb.cells.shape == cells and what in thumb.text
    assert (thumb.image.width(), thumb.image.height()) == (cells[1], cells[0])
    finite = thumb.cells[np.isfinite(thumb.cells)]
    assert finite.min() >= -1.0 and finite.max() <= 1.0
    if shape == (70,):
        assert np.isnan(thumb.cells[2, 6:]).all() and np.isfinite(thumb.cells[2, :6]).all()
    if len(shape) != 3 or shape[0] <= 8:  # at ±level: the smallest value is full blue
        assert finite.min() == pytest.approx(-1.0)
        assert thumb.image.pixelColor(0, 0).blue() > thumb.image.pixelColor(0, 0).red()


def test_the_train_grids_views_are_on_screen_with_their_data_and_tabs_behind_are_not(
    dashboard, qtbot
):
    """The painter repaints only views on screen. A view that is all plot canvas has an empty
    visibleRegion() (Qt leaves out opaque children): with its header in the dock's title bar,
    Feature maps and Gradient flow painted once a run and never again."""
    board = dashboard
    window = board.window
    window.resize(1280, 800)
    window.workspaces.show("train")
    board.on_run_started(RunStarted(1, "CNN", "digits", "cpu", 1, 10, {}))
    board.on_steps([StepMetrics(1, s, 1, 1.0 / s, 1e-3, 100.0, 1.0) for s in range(1, 6)])
    feed(board, ProbedModel(board.document.spec, "classification").train_step_and_probe())
    board.repaint_all()
    grid = board.dock_layout.grid
    assert {"Feature maps", "Gradient flow"} <= set(grid)
    qtbot.waitUntil(lambda: all(board.views[t].is_on_screen() for t in grid), timeout=5000)
    for title in grid:  # the canvas is what shows
        view = board.views[title]
        assert view.has_data and view.stack.currentWidget() is view.content
    behind = [t for t in board.views if t not in grid and board.docks[t].isVisible()]
    assert behind and not any(board.views[t].is_on_screen() for t in behind)
