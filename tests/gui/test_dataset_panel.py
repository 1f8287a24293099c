"""The dataset panel: background loading, what it shows, errors, and its link to the model."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt

from engine.data import DataSource, load_builtin
from engine.model.examples import example_path
from engine.model.spec import ModelSpec
from gui.dataset.options import OptionsForm
from gui.dataset.panel import DatasetPanel
from gui.dataset.preview import make_preview
from gui.editor.document import ModelDocument

# Every test here fails if it leaves a window, a thread or a training process behind.
pytestmark = pytest.mark.usefixtures("leak_check")

TIMEOUT_MS = 10_000
SMALL_SHAPES = {"n_samples": 60, "size": 16}


@pytest.fixture
def document():
    return ModelDocument(ModelSpec.load(example_path("digits_cnn")))


@pytest.fixture
def make_panel(qtbot):
    panels = []

    def make(document):
        panel = DatasetPanel(document)
        qtbot.addWidget(panel)
        panel.resize(420, 900)
        panel.show()
        panels.append(panel)
        return panel

    yield make
    for panel in panels:
        # A load must not outlive the test: it would deliver into the next one's event loop.
        assert panel.session.wait(10)


@pytest.fixture
def panel(make_panel):
    # A model with no dataset of its own, so nothing loads until a test asks.
    return make_panel(ModelDocument())


def load(qtbot, panel, name, options=None):
    with qtbot.waitSignal(panel.dataset_loaded, timeout=TIMEOUT_MS) as blocker:
        panel.load_builtin(name, options)
    return blocker.args[0]


def failing_load(qtbot, panel, path, options=None):
    with qtbot.waitSignal(panel.load_failed, timeout=TIMEOUT_MS) as blocker:
        panel.load_path(path, options)
    return blocker.args[0]


def image_folder(root, per_class=3, corrupt=1):
    rng = np.random.default_rng(0)
    for name in ("cat", "dog"):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(rng.integers(0, 256, (10, 10), dtype=np.uint8)).save(
                root / name / f"{i}.png"
            )
    for i in range(corrupt):
        (root / "dog" / f"broken{i}.png").write_bytes(b"\x89PNG not really an image")
    return root


# ------------------------------------------------------------------ loading and showing


def test_builtin_loads_in_background_and_shows_counts_balance_and_preview(qtbot, panel):
    chosen = []
    panel.session.dataset_chosen.connect(lambda name, options: chosen.append((name, options)))
    with qtbot.waitSignal(panel.dataset_loaded, timeout=TIMEOUT_MS) as blocker:
        panel.load_builtin("shapes", SMALL_SHAPES)
        # The request returns at once; the work happens on a pool thread.
        assert panel.is_loading and panel.progress.isVisible()
    ds = blocker.args[0]
    assert panel.current_dataset is ds and not panel.is_loading
    assert not panel.progress.isVisible()
    assert ds.input_shape == (1, 16, 16) and ds.num_train + ds.num_val == 60
    source = panel.session.source
    assert source.name == "shapes" and source.options["n_samples"] == 60
    assert chosen == [(source.name, source.options)]
    assert f"{ds.num_train:,} training and {ds.num_val:,} validation" in panel.summary.text()

    balance = panel.class_balance
    assert balance.isVisible()
    np.testing.assert_array_equal(balance.train_bars.opts["height"], ds.class_counts("train"))
    np.testing.assert_array_equal(balance.val_bars.opts["height"], ds.class_counts("val"))

    preview = panel.preview
    assert preview.kind == "mosaic" and preview.split == "val"
    assert len(preview.indices) == ds.num_val  # fewer than MAX_TILES validation samples
    assert preview.labels[0] == ds.class_names[ds.y_val[0]]
    col, row = preview.tile_origin(0)
    np.testing.assert_allclose(preview.mosaic[row : row + 16, col : col + 16], ds.x_val[0, 0])


@pytest.mark.parametrize(
    ("name", "options", "kind"),
    [
        ("sine", {"n_samples": 50}, "curves"),
        ("first_symbol", {"n_samples": 50, "seq_len": 6}, "mosaic"),  # 4 one-hot features
        ("spirals", {"n_samples": 60, "n_classes": 3}, "scatter"),
    ],
)
def test_sequences_and_points_get_small_plots(qtbot, panel, name, options, kind):
    ds = load(qtbot, panel, name, options)
    assert panel.preview.kind == kind
    if kind == "curves":
        curves = panel.preview.curves
        assert curves.shape == (8, ds.input_shape[0], 1)
        assert curves.min() >= 0 and curves.max() <= 1
        assert not panel.class_balance.isVisible()  # forecasting has no classes
    elif kind == "scatter":
        np.testing.assert_array_equal(panel.preview.points, ds.x_val[:, :2])
        np.testing.assert_array_equal(panel.preview.groups, ds.y_val)
    else:
        assert panel.preview.tile_shape == (4, 6)  # (features, steps) strips


def test_a_newer_choice_wins_over_a_load_still_running(qtbot, panel):
    seen = []
    panel.dataset_loaded.connect(seen.append)
    panel.load_builtin("shapes", {"n_samples": 400})
    with qtbot.waitSignal(panel.dataset_loaded, timeout=TIMEOUT_MS):
        panel.load_builtin("moons", {"n_samples": 40})
    assert panel.session.wait(10)
    # Any stale result must be dropped. A load started after it is delivered after it, so
    # once that one has arrived the stale one has had its turn.
    with qtbot.waitSignal(panel.dataset_loaded, timeout=TIMEOUT_MS):
        panel.load_builtin("moons", {"n_samples": 40})
    assert [d.name for d in seen] == ["moons", "moons"]
    assert panel.source_combo.currentData() == "moons"


def test_clicking_a_preview_tile_selects_that_sample(qtbot, panel):
    load(qtbot, panel, "shapes", SMALL_SHAPES)
    view = panel.sample_view
    assert not view.highlight_shown
    widget_point = view.viewport_point_of(3)
    with qtbot.waitSignal(panel.sample_selected, timeout=2000) as blocker:
        qtbot.mouseClick(view.graphics.viewport(), Qt.MouseButton.LeftButton, pos=widget_point)
    assert blocker.args == [3]
    assert panel.selected_sample_index == 3 and view.selected_position == 3
    assert view.highlight_shown


# ------------------------------------------------------------------ bad input


def test_bad_files_show_a_message_and_keep_the_previous_dataset(qtbot, panel, tmp_path):
    before = load(qtbot, panel, "moons", {"n_samples": 40})
    source = panel.session.source

    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    message = failing_load(qtbot, panel, empty)
    assert "empty.npz" in message and "empty" in message
    assert panel.message.isVisible() and panel.message.text() == message
    assert panel.current_dataset is before and panel.session.source == source
    assert panel.source_combo.currentData() == "moons"  # the previous dataset stays selected
    assert not panel.skip_button.isVisible()

    idx = tmp_path / "mnist"
    idx.mkdir()
    (idx / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x07" + bytes(16))
    (idx / "train-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01" + bytes(8))
    message = failing_load(qtbot, panel, idx)
    assert "train-images-idx3-ubyte" in message
    assert panel.current_dataset is before


def test_corrupt_images_offer_to_skip_them_and_load_the_rest(qtbot, panel, tmp_path):
    folder = image_folder(tmp_path / "pets")
    message = failing_load(qtbot, panel, folder, {"size": 8})
    assert "broken0.png" in message and panel.current_dataset is None
    assert panel.skip_button.isVisible()
    assert panel.skip_button.text() == "Skip 1 unreadable image and load the rest"
    with qtbot.waitSignal(panel.dataset_loaded, timeout=TIMEOUT_MS) as blocker:
        qtbot.mouseClick(panel.skip_button, Qt.MouseButton.LeftButton)
    ds = blocker.args[0]
    assert ds.num_train + ds.num_val == 6 and len(ds.skipped) == 1
    assert ds.input_shape == (1, 8, 8) and ds.class_names == ("cat", "dog")
    assert panel.session.source == DataSource(
        str(folder),
        {"size": 8, "colour": False, "val_fraction": 0.2, "seed": 0, "skip_corrupt": True},
    )
    assert "1 unreadable image skipped" in panel.message.text()
    assert not panel.skip_button.isVisible()


# ------------------------------------------------------------------ the model/dataset link


def test_no_fix_is_offered_that_would_make_the_model_invalid(qtbot, make_panel, document):
    panel = make_panel(document)
    qtbot.waitUntil(lambda: panel.current_dataset is not None, timeout=TIMEOUT_MS)
    assert panel.compat_label.text() == "The model fits this dataset."  # digits on its CNN
    assert not panel.fix_input_button.isVisible()

    # Setting a CNN's input to moons' 2 values would hand Conv2d a vector: no Fix, and a
    # sentence that says what to do instead.
    load(qtbot, panel, "moons", {"n_samples": 40})
    assert "No one-click fix makes this model fit" in panel.compat_label.text()
    assert not panel.fix_input_button.isVisible()


def test_the_fix_sets_input_and_units_in_one_undoable_edit(qtbot, make_panel):
    spec = ModelSpec.load(example_path("moons_mlp"))
    spec = spec.with_input("vector", (7,)).with_params(len(spec.blocks) - 1, {"units": 5})
    document = ModelDocument(spec)
    panel = make_panel(document)
    qtbot.waitUntil(lambda: panel.current_dataset is not None, timeout=TIMEOUT_MS)
    assert "set the Input block to 2" in panel.compat_label.text()
    assert "set its units to 2" in panel.compat_label.text()
    button = panel.fix_input_button
    assert button.isVisible() and button.text() == "Fix: Set the Input to 2 and dense3's units to 2"
    original = document.spec
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert (document.spec.input.kind, document.spec.input.shape) == ("vector", (2,))
    assert document.spec.blocks[-1].params["units"] == 2 and document.inference.valid
    assert not button.isVisible()
    assert panel.compat_label.text() == "The model fits this dataset."
    assert document.undo_stack.count() == 1
    document.undo_stack.undo()
    assert document.spec == original
    assert button.isVisible() and "set the Input block to 2" in panel.compat_label.text()


def test_an_empty_model_says_so_instead_of_a_units_mismatch(qtbot, make_panel, document):
    panel = make_panel(document)
    qtbot.waitUntil(lambda: panel.current_dataset is not None, timeout=TIMEOUT_MS)
    document.new(ModelSpec(input=document.spec.input, blocks=(), dataset="digits"))
    assert "The model has no blocks yet" in panel.compat_label.text()
    assert "units" not in panel.compat_label.text()
    assert not panel.fix_input_button.isVisible()


def test_the_specs_dataset_is_loaded_when_an_example_opens(qtbot, panel):
    chosen = []
    panel.session.dataset_chosen.connect(lambda *args: chosen.append(args))
    document = panel.document
    with qtbot.waitSignal(panel.dataset_loaded, timeout=TIMEOUT_MS) as blocker:
        document.new(ModelSpec.load(example_path("moons_mlp")))
    assert blocker.args[0].name == "moons"
    assert panel.session.source == DataSource("moons", {})
    assert panel.source_combo.currentData() == "moons"
    assert panel.compat_label.text() == "The model fits this dataset."
    assert chosen == []  # following the document is not a user's choice

    # Ordinary edits change the spec but not its dataset: nothing reloads.
    document.set_input("vector", (3,))
    assert not panel.is_loading
    assert "set the Input block to 2" in panel.compat_label.text()


def test_a_relative_dataset_path_is_read_next_to_the_model_file(qtbot, panel, tmp_path):
    rng = np.random.default_rng(1)
    np.savez(tmp_path / "points.npz", x=rng.normal(size=(30, 3)), y=rng.integers(0, 2, 30))
    spec = ModelSpec.load(example_path("moons_mlp"))
    spec = type(spec)(spec.input, spec.blocks, spec.name, "points.npz", {"seed": 3})
    with qtbot.waitSignal(panel.dataset_loaded, timeout=TIMEOUT_MS) as blocker:
        panel.document.new(spec, tmp_path / "model.json")
    assert blocker.args[0].input_shape == (3,)
    source = panel.session.source
    assert source.location == str(tmp_path / "points.npz") and source.options == {"seed": 3}
    assert panel.preview.axis_names == ("feature 0", "feature 1")

    # Loaded again from the form, the model keeps the path as written: relative to its file.
    with qtbot.waitSignal(panel.session.dataset_chosen, timeout=TIMEOUT_MS) as chosen:
        qtbot.mouseClick(panel.load_button, Qt.MouseButton.LeftButton)
    assert chosen.args == ["points.npz", {"seed": 3, "val_fraction": 0.2}]


def test_panel_docks_into_the_main_window(qtbot, main_window):
    panel = DatasetPanel(main_window.document)
    dock = main_window.add_dock("Dataset", panel)
    qtbot.waitUntil(lambda: panel.current_dataset is not None, timeout=TIMEOUT_MS)
    assert dock.widget() is panel and panel.session.source == DataSource("digits", {})
    assert panel.session.wait(10)


# ------------------------------------------------------------------ pieces


def test_make_preview_lays_out_what_the_views_draw():
    ds = load_builtin("adding", n_samples=20, seq_len=5)
    preview = make_preview(ds)
    assert preview.kind == "curves" and preview.class_names is None
    assert preview.labels[0] == f"{float(ds.denormalise_y(ds.y_val[:1])[0, 0]):.3g}"
    ds = load_builtin("shapes", n_samples=80, size=12)
    preview = make_preview(ds)
    for position in (0, 7, 8, len(preview.indices) - 1):
        col, row = preview.tile_origin(position)
        assert preview.tile_at(col + 5, row + 5) == position
    assert preview.tile_at(-1, 0) is None


def test_options_form_maps_widgets_to_loader_options(qtbot, tmp_path):
    form = OptionsForm()
    qtbot.addWidget(form)
    (tmp_path / "a.csv").write_text("")
    form.show_file(tmp_path / "a.csv")  # the format is known from the name
    assert form.values() == {"val_fraction": 0.2, "seed": 0}  # "not given" stays out
    form.set_values({"target": "3", "window": 12, "seed": 5})
    assert form.values() == {"target": "3", "window": 12, "val_fraction": 0.2, "seed": 5}
    form.set_values({"target": "price"})
    assert form.values()["target"] == "price" and "window" not in form.values()

    (tmp_path / "pets" / "cat").mkdir(parents=True)
    form.show_file(tmp_path / "pets")
    assert form.values() == {"size": 28, "colour": False, "val_fraction": 0.2, "seed": 0}
    form.show_file(tmp_path / "a.bin")  # unknown: the load will say why; only the split
    assert set(form.values()) == {"val_fraction", "seed"}


def test_closing_the_panel_while_loading_is_harmless(qtbot):
    panel = DatasetPanel(ModelDocument())
    panel.load_builtin("shapes", {"n_samples": 300})
    session = panel.session
    with qtbot.waitSignal(panel.destroyed, timeout=TIMEOUT_MS):
        panel.deleteLater()
    assert session.wait(10)
    # The result was queued to a receiver that is gone: dropped, no crash. A load finishing
    # on a live panel afterwards shows the event loop went on past it.
    other = DatasetPanel(ModelDocument())
    qtbot.addWidget(other)
    with qtbot.waitSignal(other.dataset_loaded, timeout=TIMEOUT_MS):
        other.load_builtin("moons", {"n_samples": 40})
    assert other.session.wait(10)


def test_the_panel_does_not_wait_for_torch():
    # The window shows before torch has loaded (DESIGN.md); the dataset panel is in it.
    code = "import sys, gui.dataset.panel; sys.exit('torch' in sys.modules)"
    root = Path(__file__).resolve().parents[2]
    assert subprocess.run([sys.executable, "-c", code], cwd=root, check=False).returncode == 0
