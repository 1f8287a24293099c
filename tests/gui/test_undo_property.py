"""Any sequence of edits, undone all the way, gives back exactly the original spec; redone all
the way, it gives back the final one. The canvas scene follows every step."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.model.catalogue import CATALOGUE
from engine.model.examples import list_examples
from engine.model.spec import INPUT_BOUNDS, INPUT_KINDS, ModelSpec, SpecError
from gui.editor.canvas.scene import ModelScene
from gui.editor.document import INPUT_ID, ModelDocument

# Every test here fails if it leaves a window, a thread or a training process behind.
pytestmark = pytest.mark.usefixtures("leak_check")

EXAMPLES = {e.id: e.load() for e in list_examples()}
EDITS = (
    "insert", "remove", "move", "duplicate", "set_params", "set_input", "fix",
    "insert_inner", "move_to", "remove_inner",
)  # fmt: skip


def _paths(blocks, prefix=()) -> list[tuple[int, ...]]:
    """Every block's path, nested ones included."""
    out = []
    for index, block in enumerate(blocks):
        out.append((*prefix, index))
        out += _paths(block.blocks, (*prefix, index))
    return out


def _gaps(blocks, prefix=()) -> list[tuple[int, ...]]:
    """Every place a block can go: before each block, and at the end of every stack."""
    out = [(*prefix, len(blocks))]
    for index, block in enumerate(blocks):
        out.append((*prefix, index))
        if block.is_container:
            out += _gaps(block.blocks, (*prefix, index))
    return out


def _value(data, param):
    if param.kind == "bool":
        return data.draw(st.booleans())
    if param.kind == "choice":
        return data.draw(st.sampled_from(param.choices))
    lo = param.minimum if param.minimum is not None else -10
    hi = param.maximum if param.maximum is not None else 10
    if param.kind == "int":
        return data.draw(st.integers(int(lo), int(min(hi, lo + 64))))
    return data.draw(st.floats(lo, hi, allow_nan=False))


def _edit(document: ModelDocument, data) -> None:
    spec = document.spec
    n = len(spec.blocks)
    kind = data.draw(st.sampled_from(EDITS))
    if kind == "insert" or n == 0:
        document.insert_block(
            data.draw(st.integers(0, n)), data.draw(st.sampled_from(CATALOGUE.ids()))
        )
    elif kind == "remove":
        document.remove_blocks(data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=3)))
    elif kind == "move":
        document.move_block(data.draw(st.integers(0, n - 1)), data.draw(st.integers(0, n - 1)))
    elif kind == "duplicate":
        document.duplicate_blocks(
            data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=3))
        )
    elif kind == "set_params":
        index = data.draw(st.integers(0, n - 1))
        params = CATALOGUE[spec.blocks[index].type].params
        if params:
            param = data.draw(st.sampled_from(params))
            document.set_params(index, {param.name: _value(data, param)})
    elif kind == "set_input":
        input_kind = data.draw(st.sampled_from(list(INPUT_KINDS)))
        shape = tuple(
            data.draw(st.integers(lo, min(hi, 40))) for lo, hi in INPUT_BOUNDS[input_kind]
        )
        document.set_input(input_kind, shape)
    elif kind == "insert_inner":
        # A residual block's inner stack is a stack like the top one: any gap in any of them.
        gap = data.draw(st.sampled_from(_gaps(spec.blocks)))
        with contextlib.suppress(SpecError):  # deeper than MAX_NESTING: refused, nothing changes
            document.insert_block(gap, data.draw(st.sampled_from(CATALOGUE.ids())))
    elif kind == "move_to":
        src = data.draw(st.sampled_from(_paths(spec.blocks)))
        document.move_block_to(src, data.draw(st.sampled_from(_gaps(spec.blocks))))
    elif kind == "remove_inner":
        document.remove_blocks(
            data.draw(st.lists(st.sampled_from(_paths(spec.blocks)), max_size=2))
        )
    else:
        fixable = [b.index for b in document.inference.blocks if b.fix]
        if fixable:
            assert document.apply_fix(fixable[0])


@settings(
    deadline=None, max_examples=50, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(start=st.sampled_from(sorted(EXAMPLES)), data=st.data())
def test_undo_all_returns_the_original_spec(qapp, start, data):
    original: ModelSpec = EXAMPLES[start]
    document = ModelDocument(original)
    scene = ModelScene(document)
    for _ in range(data.draw(st.integers(1, 12))):
        _edit(document, data)
        walked = [b.id for top in document.spec.blocks for b in top.walk()]
        assert scene.ordered_keys() == [INPUT_ID, *walked]
        for block, info in zip(document.spec.blocks, document.inference.blocks, strict=True):
            assert (scene.card(block.id).content.state == "error") == (info.error is not None)
    final = document.spec
    stack = document.undo_stack
    while stack.canUndo():
        stack.undo()
    assert document.spec == original
    assert document.spec.to_json() == original.to_json()
    assert not document.is_modified
    while stack.canRedo():
        stack.redo()
    assert document.spec.to_json() == final.to_json()
    scene.deleteLater()
    document.deleteLater()
