"""Property: shape inference and the torch modules it predicts agree on random stacks."""

from __future__ import annotations

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.model.catalogue import CATALOGUE
from engine.model.inference import infer
from engine.model.spec import InputSpec, ModelSpec
from engine.nn.build import build_model

SMALL = {  # keep random models tiny so hundreds of them build in seconds
    "out_channels": (1, 4),
    "kernel_size": (1, 4),
    "stride": (1, 3),
    "padding": (0, 2),
    "units": (1, 6),
    "hidden_size": (1, 4),
    "num_layers": (1, 2),
}


@st.composite
def params_for(draw, type_id):
    params = {}
    for p in CATALOGUE[type_id].params:
        if p.name in SMALL:
            params[p.name] = draw(st.integers(*SMALL[p.name]))
        elif p.kind == "bool":
            params[p.name] = draw(st.booleans())
        elif p.kind == "choice":
            params[p.name] = draw(st.sampled_from(p.choices))
        elif p.kind == "float":
            params[p.name] = draw(st.floats(p.minimum, p.maximum))
    return params


@st.composite
def stacks(draw):
    kind = draw(st.sampled_from(["image", "sequence", "vector"]))
    shape = {
        "image": lambda: (
            draw(st.integers(1, 3)),
            draw(st.integers(1, 10)),
            draw(st.integers(1, 10)),
        ),
        "sequence": lambda: (draw(st.integers(1, 6)), draw(st.integers(1, 4))),
        "vector": lambda: (draw(st.integers(1, 8)),),
    }[kind]()
    spec = ModelSpec(InputSpec(kind, shape))
    for type_id in draw(st.lists(st.sampled_from(CATALOGUE.ids()), min_size=1, max_size=6)):
        spec = spec.insert(len(spec.blocks), spec.new_block(type_id, draw(params_for(type_id))))
    return spec


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stacks())
def test_accepted_stacks_build_and_match_inferred_shapes(spec):
    result = infer(spec)
    if not result.valid:
        first = result.first_error
        assert all(b.ok for b in result.blocks[: first.index])
        assert all(b.output_shape is None for b in result.blocks[first.index :])
        assert first.block_id in result.problem and first.error
        return
    model = build_model(spec, seed=0).eval()
    x = torch.randn(2, *spec.input.shape)
    with torch.no_grad():
        for block, info in zip(spec.blocks, result.blocks, strict=True):
            x = getattr(model, block.id)(x)
            assert tuple(x.shape) == (2, *info.output_shape), block.id
    assert result.total_params == sum(p.numel() for p in model.parameters())
