"""Strict model-file loading, edits as new values, atomic saves, fixes, bounds."""

from __future__ import annotations

import json
import os

import pytest

from engine.model.examples import list_examples
from engine.model.inference import MAX_PARAMETERS, infer
from engine.model.spec import FORMAT_NAME, InputSpec, ModelSpec, SpecError


def _valid() -> dict:
    return {
        "format": FORMAT_NAME,
        "version": 1,
        "name": "t",
        "input": {"kind": "vector", "shape": [4]},
        "blocks": [{"id": "dense1", "type": "dense", "params": {"units": 3}}],
    }


def _with(path: list, value=None, delete=False) -> str:
    data = _valid()
    target = data
    for key in path[:-1]:
        target = target[key]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return json.dumps(data)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON (line 1"),
        ("[]", "must hold a JSON object"),
        (_with(["format"], "keras"), "not a LayerLab model"),
        (_with(["version"], 99), "format version 99, newer than"),
        (_with(["version"], "1"), "'version' must be a positive whole number"),
        (_with(["format"], delete=True), "missing the field 'format'"),
        (_with(["blocks"], delete=True), "missing the field 'blocks'"),
        (_with(["input", "kind"], "video"), "Input 'kind' must be one of"),
        (_with(["input", "shape"], [1, 2]), "must list 1 numbers"),
        (_with(["input", "shape"], [0]), "features must be between 1 and"),
        (
            _with(["blocks", 0, "type"], "transformer"),
            "Block 0 ('dense1'): unknown block type 'transformer'",
        ),
        (
            _with(["blocks", 0, "params", "units"], 0),
            "Block 0 ('dense1'): 'units' must be at least 1, not 0",
        ),
        (
            _with(["blocks", 0, "params", "units"], "ten"),
            "Block 0 ('dense1'): 'units' must be a number",
        ),
        (_with(["blocks", 0, "params", "units"], 2.5), "'units' must be a whole number"),
        (_with(["blocks", 0, "params", "bias"], 1), "'bias' must be true or false"),
        (_with(["blocks", 0, "params", "colour"], 1), "'colour' is not a parameter of Dense"),
        (_with(["blocks", 0, "id"], "Bad Id"), "Block 0 ('Bad Id'): 'id' must be a short name"),
        (_with(["blocks", 0, "id"], delete=True), "Block 0 is missing the field 'id'"),
        (_with(["blocks", 0], "dense"), "Block 0 must be an object"),
    ],
)
def test_bad_files_give_one_clear_error(text, message):
    with pytest.raises(SpecError) as err:
        ModelSpec.from_json(text)
    assert message in str(err.value)


def test_duplicate_block_ids_refused():
    data = _valid()
    data["blocks"].append(dict(data["blocks"][0]))
    with pytest.raises(SpecError, match=r"Block 1 \('dense1'\): the id 'dense1' is used twice"):
        ModelSpec.from_dict(data)


def test_load_names_the_file(tmp_path):
    missing = tmp_path / "nope.json"
    with pytest.raises(SpecError, match="does not exist"):
        ModelSpec.load(missing)
    bad = tmp_path / "bad.json"
    bad.write_text(_with(["blocks", 0, "params", "units"], -1))
    with pytest.raises(SpecError, match=r"^bad.json: Block 0"):
        ModelSpec.load(bad)
    binary = tmp_path / "weights.json"
    binary.write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(SpecError, match="not a text"):
        ModelSpec.load(binary)


def test_save_is_atomic_and_round_trips(tmp_path):
    spec = ModelSpec.from_json(json.dumps(_valid()))
    path = tmp_path / "m.json"
    path.write_text("old content")
    spec.save(path)
    assert ModelSpec.load(path) == spec
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # not the temporary file's 0600


def test_edits_return_new_specs_and_leave_the_old_untouched():
    spec = ModelSpec(InputSpec("vector", (4,)))
    a = spec.insert(0, spec.new_block("dense"))
    b = a.insert(1, a.new_block("relu"))
    c = b.move(1, 0)
    d = c.with_params(1, {"units": 7})
    assert spec.blocks == ()
    assert [x.id for x in b.blocks] == ["dense1", "relu1"]
    assert [x.id for x in c.blocks] == ["relu1", "dense1"]
    assert d.blocks[1].params["units"] == 7 and c.blocks[1].params["units"] == 64
    assert d.remove(0).blocks == (d.blocks[1],)


def test_fix_makes_model_valid():
    spec = ModelSpec(InputSpec("image", (1, 8, 8)))
    spec = spec.insert(0, spec.new_block("conv2d"))
    spec = spec.insert(1, spec.new_block("dense", {"units": 10}))
    result = infer(spec)
    assert result.problem.startswith(
        "Block 2 ('dense1'): Dense needs a flat vector but gets an image 16×8×8"
    )
    fixed = spec.apply_fix(1, result.blocks[1].fix)
    assert [b.type for b in fixed.blocks] == ["conv2d", "flatten", "dense"]
    assert infer(fixed).valid


def test_fix_on_previous_recurrent_block():
    spec = ModelSpec(InputSpec("sequence", (10, 2)))
    spec = spec.insert(0, spec.new_block("lstm"))
    spec = spec.insert(1, spec.new_block("gru"))
    info = infer(spec).blocks[1]
    assert "the block before it returns a single step" in info.error
    fixed = spec.apply_fix(1, info.fix)
    assert fixed.blocks[0].params["return_sequence"] is True
    assert infer(fixed).valid


def test_model_too_big_is_refused_before_allocation():
    spec = ModelSpec(InputSpec("vector", (100_000,)))
    spec = spec.insert(0, spec.new_block("dense", {"units": 60_000}))
    result = infer(spec)
    assert not result.valid
    assert f"limit of {MAX_PARAMETERS:,}" in result.blocks[0].error


def test_empty_model_is_not_trainable():
    assert infer(ModelSpec()).problem == "The model has no blocks — add some from the palette."


@pytest.mark.parametrize("example", list_examples(), ids=lambda e: e.id)
def test_examples_are_valid(example):
    spec = example.load()
    assert infer(spec).valid
    assert spec.dataset
