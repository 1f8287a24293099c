"""The residual block: format v2, nesting limits, shapes and skips, problems inside it, fixes
aimed through it, build and per-layer gradients of its inner blocks."""

from __future__ import annotations

import json

import pytest
import torch

from engine.model.catalogue import CATALOGUE
from engine.model.inference import infer, training_memory
from engine.model.spec import (
    FORMAT_NAME,
    MAX_BLOCKS,
    MAX_NESTING,
    BlockSpec,
    InputSpec,
    ModelSpec,
    SpecError,
)
from engine.nn.build import build_model
from engine.probes.layers import layer_gradient_norms


def _b(block_id: str, type_id: str, **params) -> BlockSpec:
    return BlockSpec(block_id, type_id, CATALOGUE[type_id].validate_params(params))


def _res(block_id: str, *inner: BlockSpec) -> BlockSpec:
    return BlockSpec(block_id, "residual", {}, tuple(inner))


def _spec(kind: str, shape: tuple, *blocks: BlockSpec) -> ModelSpec:
    return ModelSpec(InputSpec(kind, shape), tuple(blocks))


# (input kind, input shape, inner blocks, expected output shape, what the skip is)
CASES = [
    ("vector", (8,), [_b("dense1", "dense", units=8), _b("tanh1", "tanh")], (8,), "identity"),
    ("vector", (8,), [_b("dense1", "dense", units=3)], (3,), "Linear 8→3"),
    ("image", (2, 8, 8), [_b("conv1", "conv2d", out_channels=2)], (2, 8, 8), "identity"),
    (
        "image",
        (2, 8, 8),
        [_b("conv1", "conv2d", out_channels=4, stride=2), _b("relu1", "relu")],
        (4, 4, 4),
        "1×1 Conv2d 2→4, stride 2",
    ),
    ("image", (3, 8, 8), [_b("maxpool1", "maxpool2d")], (3, 4, 4), "1×1 Conv2d 3→3, stride 2"),
    (
        "sequence",
        (5, 3),
        [_b("lstm1", "lstm", hidden_size=4, return_sequence=True)],
        (5, 4),
        "Linear 3→4",
    ),
]


@pytest.mark.parametrize(("kind", "shape", "inner", "out", "join"), CASES)
def test_shape_rule_matches_torch_and_round_trips(kind, shape, inner, out, join):
    spec = _spec(kind, shape, _res("residual1", *inner))
    info = infer(spec).blocks[0]
    assert info.error is None, info.error
    assert (info.output_shape, info.join) == (out, join)
    assert [i.block_id for i in info.inner] == [b.id for b in inner]
    model = build_model(spec, seed=0).eval()
    x = torch.randn(3, *shape)
    y = model(x)
    assert tuple(y.shape) == (3, *out)
    assert info.param_count == sum(p.numel() for p in model.parameters())
    # output = inner(x) + skip(x), with the identity where the shapes agree
    block = model.residual1
    skip = x if block.skip is None else block.skip(x)
    torch.testing.assert_close(y, block.inner(x) + skip)
    assert ModelSpec.from_json(spec.to_json()) == spec


def test_a_model_without_residual_blocks_is_still_written_as_version_1():
    plain = _spec("vector", (4,), _b("dense1", "dense", units=2))
    assert plain.to_dict()["version"] == 1
    assert "blocks" not in plain.to_dict()["blocks"][0]
    nested = _spec("vector", (4,), _res("residual1", _b("dense1", "dense", units=4)))
    data = nested.to_dict()
    assert data["version"] == 2
    assert data["blocks"][0]["blocks"][0] == {
        "id": "dense1",
        "type": "dense",
        "params": {"units": 4, "bias": True},
    }


def _file(blocks: list, version: int = 2) -> str:
    return json.dumps({
        "format": FORMAT_NAME, "version": version,
        "input": {"kind": "vector", "shape": [4]}, "blocks": blocks,
    })  # fmt: skip


def _raw_res(block_id: str, inner: list) -> dict:
    return {"id": block_id, "type": "residual", "params": {}, "blocks": inner}


DENSE = {"id": "dense1", "type": "dense", "params": {"units": 4}}


def _nested(depth: int) -> dict:
    raw = DENSE
    for level in range(depth):
        raw = _raw_res(f"residual{level + 1}", [raw])
    return raw


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (_file([_raw_res("residual1", [DENSE])], version=1), "needs format version 2"),
        (_file([{"id": "residual1", "type": "residual", "params": {}}]), "missing the field 'blocks'"),
        (_file([_raw_res("residual1", {"a": 1})]), "'blocks' must be a list"),
        (_file([{**DENSE, "blocks": []}]), "a Dense block holds no 'blocks'"),
        (_file([_raw_res("residual1", [DENSE, DENSE])]), "Block 0 ('residual1') › Block 1 ('dense1'): the id 'dense1' is used twice"),
        (_file([_raw_res("residual1", [{"id": "dense2", "type": "dense", "params": {"units": 0}}])]), "› Block 0 ('dense2'): 'units' must be at least 1"),
        (_file([_nested(MAX_NESTING)]), f"nested more than {MAX_NESTING} deep"),
        (_file([_raw_res("residual1", [{"id": f"d{i}", "type": "relu"} for i in range(MAX_BLOCKS)])]), "more than 1,000 blocks counting those inside"),
    ],
)  # fmt: skip
def test_hostile_nesting_gives_one_sentence(text, words):
    with pytest.raises(SpecError) as caught:
        ModelSpec.from_json(text)
    assert words in str(caught.value)
    assert len(str(caught.value)) < 300


def test_nesting_just_below_the_limit_loads():
    spec = ModelSpec.from_json(_file([_nested(MAX_NESTING - 1)]))
    assert infer(spec).valid
    assert spec.all_ids() == {"dense1", *(f"residual{i + 1}" for i in range(MAX_NESTING - 1))}


def test_ids_are_unique_across_the_nesting_and_new_ids_avoid_inner_ones():
    spec = _spec("vector", (4,), _res("residual1", _b("dense1", "dense", units=4)))
    assert spec.new_block("dense").id == "dense2"
    with pytest.raises(SpecError, match="'dense1' is already in the model"):
        spec.insert(1, _b("dense1", "dense"))
    inner = spec.inner_spec(0)
    assert inner.new_block("residual").id == "residual2"
    with pytest.raises(SpecError, match="'dense1' is already"):
        spec.insert(0, _res("residual2", _b("dense1", "dense")))


def test_shapes_that_cannot_be_added_are_a_sentence_naming_the_block():
    spec = _spec(
        "sequence", (6, 3), _res("residual1", _b("lstm1", "lstm", hidden_size=4)),
        _b("dense1", "dense", units=2),
    )  # fmt: skip
    inference = infer(spec)
    assert not inference.valid
    assert inference.problem.startswith(
        "Block 1 ('residual1'): The blocks inside turn a sequence 6×3 into a vector 4"
    )
    assert inference.blocks[1].output_shape is None  # the blocks after it wait for the fix
    odd = infer(_spec("image", (3, 9, 9), _res("residual1", _b("maxpool1", "maxpool2d"))))
    assert "no 1×1 convolution with one stride maps the input to that size" in odd.problem
    empty = infer(_spec("vector", (4,), _res("residual1")))
    assert "The Residual block is empty" in empty.problem


def test_a_problem_inside_names_the_path_and_its_fix_goes_through_the_container():
    # A 9×9 kernel on a 4×4 image inside the block: the fix shrinks it, inside.
    spec = _spec(
        "image", (2, 4, 4),
        _res("residual1", _res("residual2", _b("conv1", "conv2d", out_channels=2, kernel_size=9, padding=0))),
    )  # fmt: skip
    inference = infer(spec)
    first = inference.first_error
    assert first.error.startswith("residual1 › residual2 › conv1: ")
    assert first.fix is not None and first.fix.path == (0, 0)
    fixed = spec.apply_fix(0, first.fix)
    assert infer(fixed).valid
    assert fixed.blocks[0].blocks[0].blocks[0].params["kernel_size"] <= 4
    assert inference.find("conv1").error is not None


def test_an_inner_fix_that_breaks_the_join_is_not_offered():
    spec = _spec("image", (1, 8, 8), _res("residual1", _b("dense1", "dense", units=4)))
    first = infer(spec).first_error
    assert first.error.startswith("residual1 › dense1: Dense needs a flat vector")
    assert first.fix is None and "No one-click fix" in first.error


def test_inner_activations_count_in_the_memory_estimate():
    flat = _spec("vector", (8,), _b("dense1", "dense", units=8), _b("tanh1", "tanh"))
    nested = _spec(
        "vector", (8,), _res("residual1", _b("dense1", "dense", units=8), _b("tanh1", "tanh"))
    )
    # The same layers, plus the residual block's own output of 8 values per sample.
    difference = training_memory(infer(nested), 32, 32) - training_memory(infer(flat), 32, 32)
    assert difference == 4 * 8 * 2 * 32


def test_gradient_norms_report_inner_blocks_and_the_skip_projection():
    spec = _spec(
        "vector", (2,), _b("dense1", "dense", units=4),
        _res("residual1", _b("dense2", "dense", units=4), _b("tanh1", "tanh")),
        _res("residual2", _b("dense3", "dense", units=3)),
    )  # fmt: skip
    model = build_model(spec, seed=0)
    model(torch.randn(5, 2)).sum().backward()
    norms = layer_gradient_norms(model)
    assert list(norms) == ["dense1", "dense2", "residual2", "dense3"]
    skip = model.residual2.skip
    expected = torch.linalg.vector_norm(torch.cat([skip.weight.grad.flatten(), skip.bias.grad]))
    assert norms["residual2"] == pytest.approx(float(expected))
    assert all(v > 0 for v in norms.values())


def _layout(spec: ModelSpec) -> list:
    return [(b.id, [c.id for c in b.blocks]) if b.is_container else b.id for b in spec.blocks]


MOVABLE = _spec(
    "vector", (4,), _b("dense1", "dense", units=4),
    _res("residual1", _b("dense2", "dense", units=4), _b("tanh1", "tanh")),
    _b("dense3", "dense", units=2),
)  # fmt: skip


@pytest.mark.parametrize(
    ("src", "dst", "after"),
    [
        ((0,), (1, 1), [("residual1", ["dense2", "dense1", "tanh1"]), "dense3"]),  # in
        ((1, 1), (3,), ["dense1", ("residual1", ["dense2"]), "dense3", "tanh1"]),  # out, below
        ((1, 0), (0,), ["dense2", "dense1", ("residual1", ["tanh1"]), "dense3"]),  # out, above
        ((2,), (1, 0), ["dense1", ("residual1", ["dense3", "dense2", "tanh1"])]),  # in from below
        ((1, 0), (1, 2), ["dense1", ("residual1", ["tanh1", "dense2"]), "dense3"]),  # inside
        ((1,), (3,), ["dense1", "dense3", ("residual1", ["dense2", "tanh1"])]),  # the whole block
    ],
)
def test_moves_into_out_of_and_within_a_residual_block(src, dst, after):
    moved = MOVABLE.move_to(src, dst)
    assert _layout(moved) == after
    assert moved.all_ids() == MOVABLE.all_ids()


def test_edits_at_a_path_and_their_limits():
    assert MOVABLE.path_of("tanh1") == (1, 1) and MOVABLE.block_at((1, 1)).id == "tanh1"
    with pytest.raises(SpecError, match="cannot be put inside itself"):
        MOVABLE.move_to((1,), (1, 1))
    with pytest.raises(SpecError, match="holds no blocks"):
        MOVABLE.insert_at((0, 0), MOVABLE.new_block("relu"))
    added = MOVABLE.insert_at((1, 2), MOVABLE.new_block("relu"))
    assert _layout(added)[1] == ("residual1", ["dense2", "tanh1", "relu1"])
    assert _layout(MOVABLE.remove_at((1, 0)))[1] == ("residual1", ["tanh1"])
    changed = MOVABLE.with_params_at((1, 0), {"units": 8})
    assert changed.block_at((1, 0)).params["units"] == 8
    assert infer(changed).find("residual1").join == "Linear 4→8"  # the skip now projects
    deep = _res("residual9", _nested_spec_block(MAX_NESTING - 1))
    with pytest.raises(SpecError, match=f"more than {MAX_NESTING} deep"):
        MOVABLE.insert_at((1, 0), deep)


def _nested_spec_block(depth: int) -> BlockSpec:
    block = _b("relu9", "relu")
    for level in range(depth):
        block = _res(f"inner{level}", block)
    return block


def test_a_copy_of_a_residual_block_copies_its_inner_blocks_under_new_ids():
    copy = MOVABLE.copy_of(MOVABLE.blocks[1])
    assert (copy.id, [b.id for b in copy.blocks]) == ("residual2", ["dense4", "tanh2"])
    assert [b.params for b in copy.blocks] == [b.params for b in MOVABLE.blocks[1].blocks]
    assert infer(MOVABLE.insert(2, copy)).valid
