"""Property: any model file — any JSON value, any nesting, ids, numbers and text — loads as a
valid spec or is refused with one SpecError sentence, never another exception; every accepted
spec infers its shapes in bounded time, stays within the limits, round-trips, and builds (or is
refused before allocating)."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from engine.model.catalogue import CATALOGUE
from engine.model.ids import RESERVED_IDS
from engine.model.inference import MAX_ACTIVATION_VALUES, MAX_PARAMETERS, infer
from engine.model.shapes import numel
from engine.model.spec import FORMAT_NAME, MAX_BLOCKS, ModelSpec, SpecError

BUILD_AT_MOST = 300_000  # parameters: bigger accepted models are checked against the limits only

numbers = (
    st.integers()
    | st.integers(-(10**4000), 10**4000)  # within Python's 4,300-digit limit for json
    | st.floats()  # NaN and ±Infinity too: json reads them
    | st.sampled_from([0, 1, -1, 2**31, 2**63, 1e308, 5e-324, 0.5])
)
any_json = st.recursive(
    st.none() | st.booleans() | numbers | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


def mostly(good, bad):
    """``good`` nine times in ten: a file with one thing wrong gets past the first checks."""
    return st.integers(0, 9).flatmap(lambda i: good if i else bad)


ids = mostly(
    st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True),
    st.sampled_from(sorted(RESERVED_IDS)) | st.text(max_size=45) | any_json,
)


def _near(p):
    """Values around a parameter's range, and of the wrong kind now and then."""
    if p.kind == "bool":
        return st.booleans()
    if p.kind == "choice":
        return st.sampled_from(p.choices)
    lo, hi = p.minimum, p.maximum
    if p.kind == "int":
        return st.integers(int(lo) - 2, int(hi) + 2) | st.sampled_from([int(lo), int(hi)])
    return st.floats(lo - 1, hi + 1, allow_nan=False)


@st.composite
def blocks(draw):
    type_id = draw(mostly(st.sampled_from(CATALOGUE.ids()), st.text(max_size=10) | any_json))
    params = {}
    if isinstance(type_id, str) and type_id in CATALOGUE:
        for p in CATALOGUE[type_id].params:
            if draw(st.booleans()):
                params[p.name] = draw(mostly(_near(p), any_json))
    block = {"id": draw(ids), "type": type_id, "params": params}
    if draw(st.integers(0, 9)) == 0:  # now and then a field missing
        block.pop(draw(st.sampled_from(sorted(block))))
    return block


@st.composite
def model_dicts(draw):
    kind = draw(mostly(st.sampled_from(["image", "sequence", "vector"]), any_json))
    dims = {"image": 3, "sequence": 2, "vector": 1}.get(kind, 2) if isinstance(kind, str) else 2
    dim = mostly(st.integers(1, 12), numbers)
    shape = draw(mostly(st.lists(dim, min_size=dims, max_size=dims), any_json))
    data = {
        "format": draw(mostly(st.just(FORMAT_NAME), any_json)),
        "version": draw(mostly(st.just(1), numbers)),
        "name": draw(mostly(st.text(max_size=30), any_json)),
        "input": {"kind": kind, "shape": shape},
        "blocks": draw(st.lists(blocks(), max_size=6)),
    }
    if draw(st.booleans()):
        data["dataset"] = draw(st.fixed_dictionaries({"name": st.text(max_size=10)}) | any_json)
    return data


def _nested(depth: int, inner: str) -> str:
    return "[" * depth + inner + "]" * depth


files = mostly(
    model_dicts().map(json.dumps),
    any_json.map(json.dumps)
    | st.text(max_size=60)
    | st.builds(_nested, st.integers(0, 200_000), st.sampled_from(["", "1", '{"a": 1}'])),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files)
@example('{"a":' * 50_000 + "1" + "}" * 50_000)
@example('{"format": "layerlab-model", "version": ' + "9" * 5000 + "}")
@example(json.dumps({"format": FORMAT_NAME, "version": 1, "input": {"kind": "vector", "shape": [4]},
                     "blocks": [{"id": "forward", "type": "relu"}]}))  # fmt: skip
def test_any_model_file_gives_a_spec_or_one_sentence(text):
    try:
        spec = ModelSpec.from_json(text)
    except SpecError as err:
        message = str(err)
        assert message and "\n" not in message and len(message) < 600, message
        event("refused")
        return
    _check_accepted(spec)


def _check_accepted(spec: ModelSpec) -> None:
    assert len(spec.blocks) <= MAX_BLOCKS
    assert not {b.id for b in spec.blocks} & RESERVED_IDS
    started = time.perf_counter()
    result = infer(spec)
    assert time.perf_counter() - started < 1.0
    assert ModelSpec.from_json(spec.to_json()) == spec
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.json"
        spec.save(path)
        assert ModelSpec.load(path) == spec
    if not result.valid:
        assert result.problem
        event("accepted, shape inference refuses it")
        return
    event("accepted and valid")
    assert result.total_params <= MAX_PARAMETERS
    assert all(numel(b.output_shape) <= MAX_ACTIVATION_VALUES for b in result.blocks)
    if result.total_params <= BUILD_AT_MOST:
        from engine.nn.build import build_model

        model = build_model(spec, seed=0)
        assert sum(p.numel() for p in model.parameters()) == result.total_params
