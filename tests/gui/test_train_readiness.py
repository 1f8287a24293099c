"""One rule enables Train everywhere, mismatches are problems with a Fix that keeps the model
valid, the training panel's message has its own space and clears, its buttons stay put, status
messages keep clear of the permanent labels, and the window fits its screen."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.usefixtures("leak_check")

TIMEOUT_MS = 10_000


def _train_controls(window):
    return window.train_action, window.dashboard.panel.train_button


def test_one_rule_enables_every_train_control_with_the_reason(make_app_window):
    window = make_app_window()
    action, button = _train_controls(window)
    assert action.isEnabled() and button.isEnabled()
    window.document.set_params(0, {"kernel_size": 13})  # 8×8 input: Conv2d cannot take it
    reason = window.readiness.reason()
    assert reason and "13×13" in reason
    assert not action.isEnabled() and not button.isEnabled()
    assert reason in action.toolTip() and reason in button.toolTip()
    window.document.undo_stack.undo()
    assert action.isEnabled() and button.isEnabled()


def test_a_dataset_mismatch_is_a_problem_in_problems_status_and_train(qtbot, make_app_window):
    window = make_app_window()
    qtbot.waitUntil(lambda: window.readiness.dataset is not None, timeout=TIMEOUT_MS)
    window.document.set_dataset("moons")
    qtbot.waitUntil(
        lambda: window.readiness.dataset is not None and window.readiness.dataset.name == "moons",
        timeout=TIMEOUT_MS,
    )
    texts = " ".join(row.label.text() for row in window.problems.rows)
    assert "Model and data" in texts and "No problems" not in texts
    # A CNN cannot take moons' points: no Fix that would hand Conv2d a vector.
    assert all(row.fix_button is None for row in window.problems.rows)
    assert window.validity_label.text().startswith("✗")
    action, button = _train_controls(window)
    assert not action.isEnabled() and not button.isEnabled()
    assert "moons" in button.toolTip()


def test_the_panel_error_has_its_own_space_and_clears_when_the_model_changes(make_app_window):
    window = make_app_window()
    panel = window.dashboard.panel
    form_height, status_height = panel.form_area.height(), panel.status_area.height()
    places = [b.mapTo(window, b.rect().topLeft()) for b in (panel.train_button, panel.stop_button)]
    panel.run_failed("The run failed: " + "a long explanation of what went wrong " * 20)
    assert panel.shows_error
    assert (panel.form_area.height(), panel.status_area.height()) == (form_height, status_height)
    assert [
        b.mapTo(window, b.rect().topLeft()) for b in (panel.train_button, panel.stop_button)
    ] == places
    window.document.set_params(0, {"out_channels": 8})  # an edit: the error was about the old model
    assert not panel.shows_error
    panel.run_failed("Another failure.")
    window.files.new_action.trigger()  # New (the answers fixture discards changes)
    assert not panel.shows_error


def test_train_pause_and_stop_keep_their_places_in_every_state(make_app_window):
    window = make_app_window()
    panel = window.dashboard.panel
    buttons = (panel.train_button, panel.pause_button, panel.stop_button)

    def places():
        return [b.geometry() for b in buttons] + [panel.mapTo(window, panel.rect().topLeft())]

    idle = places()
    panel.run_requested()
    assert places() == idle
    panel.paused_changed(True)
    assert panel.pause_button.text() == "Resume" and places() == idle
    panel.run_failed("Stopped by a test.")
    assert places() == idle


def test_status_messages_never_run_into_the_permanent_labels(make_app_window):
    window = make_app_window()
    bar = window.statusBar()
    text = "Training finished after 10 epochs " * 20
    bar.showMessage(text, 10000)
    assert bar.currentMessage() == text
    label = bar.message_label
    right = label.mapTo(window, label.rect().topRight()).x()
    assert right < window.validity_label.mapTo(window, window.validity_label.rect().topLeft()).x()
    assert label.fontMetrics().horizontalAdvance(label.text()) <= label.contentsRect().width()
    assert label.toolTip() == text


def test_a_size_larger_than_the_screen_is_clamped(make_app_window):
    window = make_app_window()
    window.resize(6000, 4000)
    window.fit_to_screen()
    area = window.screen().availableGeometry()
    assert area.contains(window.frameGeometry())


def test_the_idle_message_says_what_train_would_do_or_what_stops_it(qtbot, make_app_window):
    from dataclasses import replace

    from engine.model.examples import example_path
    from engine.model.spec import ModelSpec

    window = make_app_window()
    panel, document = window.dashboard.panel, window.document
    assert panel.status_label.text() == "Press Train to train this model on Handwritten digits 8×8."
    document.set_params(0, {"kernel_size": 13})  # 8×8 input: Conv2d cannot take it
    assert panel.status_label.text() == f"Cannot train yet: {window.readiness.reason()}"
    document.undo_stack.undo()
    assert "on Handwritten digits 8×8" in panel.status_label.text()
    moons = ModelSpec.load(example_path("moons_mlp"))
    document.new(replace(moons, dataset=None, dataset_options={}))
    assert panel.status_label.text() == "Choose a dataset in the Dataset panel, then press Train."
    document.set_dataset("moons")
    assert panel.status_label.text() == "Press Train to train this model on Two moons."
    assert not panel.shows_error


def test_a_message_about_a_run_is_not_replaced_by_the_idle_one(make_app_window):
    window = make_app_window()
    panel = window.dashboard.panel
    panel.show_status("Finished: 10 epochs in 0:03, 5,000 samples/s.")
    panel.set_train_blocker(None)  # readiness refreshed (a dataset loaded): no new fact
    assert panel.status_label.text().startswith("Finished")
    panel.run_failed("The loss became infinite.")
    window.document.set_params(0, {"out_channels": 8})  # the failure was about the old model
    assert panel.status_label.text().startswith("Press Train to train this model on")
