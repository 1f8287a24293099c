"""Hostile model files: deep nesting, huge numbers and strings, reserved ids, too many blocks —
each one SpecError sentence, short, before anything is built."""

from __future__ import annotations

import json
import time

import pytest

from engine.model.ids import RESERVED_IDS, id_problem
from engine.model.spec import FORMAT_NAME, MAX_BLOCKS, InputSpec, ModelSpec, SpecError


def _model(**fields) -> dict:
    data = {
        "format": FORMAT_NAME,
        "version": 1,
        "input": {"kind": "vector", "shape": [4]},
        "blocks": [{"id": "dense1", "type": "dense", "params": {"units": 3}}],
    }
    data.update(fields)
    return data


HUGE = int("9" * 4000)  # within Python's 4,300-digit limit: json reads it


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[" * 100_000 + "]" * 100_000, "nests lists or objects too deeply"),
        ('{"a":' * 50_000 + "1" + "}" * 50_000, "nests lists or objects too deeply"),
        ('{"format": "layerlab-model", "version": ' + "9" * 100_000 + "}", "4,300 digits"),
        (json.dumps(_model(version=HUGE)), "newer than this LayerLab reads"),
        (json.dumps(_model(version=-HUGE)), "positive whole number"),
        (json.dumps(_model(input={"kind": "vector", "shape": [HUGE]})), "between 1 and"),
        (json.dumps(_model(name=[[[[[[[[1]]]]]]]])), "'name' must be text"),
        (json.dumps(_model(format="x" * 1_000_000)), "not a LayerLab model"),
        (
            json.dumps(_model(blocks=[{"id": "d", "type": "dense", "params": {"units": HUGE}}])),
            "'units' must be at most 65536",
        ),
        (
            json.dumps(_model(blocks=[{"id": "b", "type": "dropout", "params": {"p": HUGE}}])),
            "'p' must be a finite number",
        ),
        (
            json.dumps(_model(blocks=[{"id": "d", "type": "dense", "params": {"u" * 10**6: 1}}])),
            "is not a parameter of Dense",
        ),
        (json.dumps(_model(blocks=[{"id": "d" * 10**6, "type": "dense"}])), "at most 40"),
        (json.dumps(_model(blocks=[{"id": "d", "type": ["dense"]}])), "unknown block type"),
        (json.dumps(_model(blocks=[{"id": "_modules", "type": "relu"}])), "starts with a letter"),
    ],
)
def test_hostile_files_give_one_short_sentence(text, words):
    with pytest.raises(SpecError) as caught:
        ModelSpec.from_json(text)
    message = str(caught.value)
    assert words in message, message
    assert len(message) < 400 and "\n" not in message, message  # an excerpt, not the value


def test_a_deep_file_opened_from_disk_names_the_file(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(SpecError, match=r"^deep\.json: The file nests"):
        ModelSpec.load(path)


def test_a_folder_is_called_a_folder(tmp_path):
    with pytest.raises(SpecError, match="it is a folder, not a model file"):
        ModelSpec.load(tmp_path)


def test_reserved_ids_are_every_torch_module_attribute_an_id_could_name():
    """The static list must match what nn.Sequential really refuses (add_module's check)."""
    import re

    from torch import nn

    id_syntax = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
    taken = {name for name in dir(nn.Sequential()) if id_syntax.match(name)}
    assert taken == set(RESERVED_IDS), (
        f"missing: {sorted(taken - RESERVED_IDS)}, no longer needed: {sorted(RESERVED_IDS - taken)}"
    )


@pytest.mark.parametrize("block_id", ["forward", "training", "state_dict", "to", "append"])
def test_a_reserved_id_is_refused_at_load_with_a_sentence(block_id):
    text = json.dumps(_model(blocks=[{"id": block_id, "type": "dense", "params": {"units": 2}}]))
    with pytest.raises(SpecError) as caught:
        ModelSpec.from_json(text)
    assert f"Block 0 ('{block_id}'): 'id' cannot be '{block_id}'" in str(caught.value)
    assert "choose another" in str(caught.value)
    assert id_problem(block_id) and id_problem(f"{block_id}1") is None


def test_a_reserved_id_cannot_be_inserted_either():
    spec = ModelSpec(InputSpec("vector", (4,)))
    block = spec.new_block("dense")
    with pytest.raises(SpecError, match="'id' cannot be 'forward'"):
        spec.insert(0, type(block)("forward", block.type, block.params))


def test_every_id_the_editor_proposes_is_allowed():
    spec = ModelSpec(InputSpec("vector", (4,)))
    from engine.model.catalogue import CATALOGUE

    for type_id in CATALOGUE.ids():
        assert id_problem(spec.free_id(type_id)) is None, type_id


def test_more_blocks_than_the_limit_are_refused_before_parsing_them():
    relu = {"id": "r", "type": "relu"}  # the same id each time: parsing would stop at block 1
    text = json.dumps(_model(blocks=[relu] * 200_000))
    started = time.perf_counter()
    with pytest.raises(
        SpecError, match=f"200,000 blocks, more than LayerLab's limit of {MAX_BLOCKS:,}"
    ):
        ModelSpec.from_json(text)
    assert time.perf_counter() - started < 10  # the JSON parse, nothing after it


def test_the_limit_itself_is_accepted_and_one_more_insert_is_refused():
    blocks = [{"id": f"r{i}", "type": "relu"} for i in range(MAX_BLOCKS)]
    spec = ModelSpec.from_json(json.dumps(_model(blocks=blocks)))
    assert len(spec.blocks) == MAX_BLOCKS
    with pytest.raises(SpecError, match="more than LayerLab's limit"):
        spec.insert(0, spec.new_block("relu"))
