"""The one Param -> widget factory that the inspector and the Dataset panel share."""

from __future__ import annotations

import pytest

from engine.model.params import Param
from gui.editor.param_widgets import editor_for, editor_value, on_edited, set_editor_value

# Every test here fails if it leaves a window, a thread or a training process behind.
pytestmark = pytest.mark.usefixtures("leak_check")


def test_each_kind_holds_only_what_its_param_accepts(qtbot):
    units = editor_for(Param("units", "int", 8, minimum=1, maximum=64, help="how many"))
    qtbot.addWidget(units)
    assert editor_value(units) == 8 and units.toolTip() == "how many"
    set_editor_value(units, 500)
    assert editor_value(units) == 64  # clamped to the range
    rate = editor_for(Param("p", "float", 0.5, minimum=0.0, maximum=1.0))
    flag = editor_for(Param("bias", "bool", True))
    mode = editor_for(Param("mode", "choice", "max", choices=("max", "avg")))
    for widget in (rate, flag, mode):
        qtbot.addWidget(widget)
    assert (editor_value(rate), editor_value(flag), editor_value(mode)) == (0.5, True, "max")
    set_editor_value(mode, "avg")
    assert editor_value(mode) == "avg"


def test_a_param_that_may_be_not_given_offers_none(qtbot):
    window = editor_for(Param("window", "int", None, minimum=1, maximum=100, none_label="none"))
    kind = editor_for(Param("kind", "choice", None, choices=("image",), none_label="auto"))
    target = editor_for(Param("target", "text", None, none_label="last column"))
    for widget in (window, kind, target):
        qtbot.addWidget(widget)
    assert [editor_value(w) for w in (window, kind, target)] == [None, None, None]
    assert window.specialValueText() == "none" and target.placeholderText() == "last column"
    set_editor_value(window, 12)
    set_editor_value(kind, "image")
    set_editor_value(target, "price")
    assert [editor_value(w) for w in (window, kind, target)] == [12, "image", "price"]
    set_editor_value(window, None)
    assert editor_value(window) is None


def test_edits_report_the_new_value_and_shown_values_do_not(qtbot):
    spin = editor_for(Param("units", "int", 8, minimum=1, maximum=64))
    combo = editor_for(Param("mode", "choice", "max", choices=("max", "avg")))
    seen = []
    for widget in (spin, combo):
        qtbot.addWidget(widget)
        on_edited(widget, seen.append)
    set_editor_value(spin, 9)  # showing the spec's value is not an edit
    assert seen == []
    spin.setValue(10)
    combo.setCurrentIndex(1)
    assert seen == [10, "avg"]
