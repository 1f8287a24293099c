"""Every block: its shape rule agrees with the torch module it builds, and its JSON round-trips."""

from __future__ import annotations

import pytest
import torch

from engine.model.catalogue import CATALOGUE, BlockRegistry, BlockType
from engine.model.inference import infer
from engine.model.spec import InputSpec, ModelSpec
from engine.nn.build import build_model
from engine.probes.registry import PROBES

# (block type, params, input kind, input shape, expected output shape)
CASES = [
    ("conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 0}, "image", (2, 9, 7), (4, 7, 5)),
    (
        "conv2d",
        {"out_channels": 3, "kernel_size": 5, "stride": 2, "padding": 2},
        "image",
        (1, 28, 28),
        (3, 14, 14),
    ),
    ("maxpool2d", {}, "image", (3, 9, 8), (3, 4, 4)),
    ("avgpool2d", {"kernel_size": 3, "stride": 1}, "image", (2, 5, 5), (2, 3, 3)),
    ("batchnorm", {}, "image", (4, 6, 6), (4, 6, 6)),
    ("batchnorm", {"momentum": 0.5}, "vector", (7,), (7,)),
    ("dropout", {"p": 0.3}, "image", (1, 4, 4), (1, 4, 4)),
    ("flatten", {}, "image", (2, 3, 4), (24,)),
    ("flatten", {}, "sequence", (5, 3), (15,)),
    ("dense", {"units": 5}, "vector", (12,), (5,)),
    ("dense", {"units": 3, "bias": False}, "sequence", (6, 4), (6, 3)),
    ("relu", {}, "vector", (3,), (3,)),
    ("leaky_relu", {"negative_slope": 0.2}, "image", (1, 2, 2), (1, 2, 2)),
    ("tanh", {}, "sequence", (4, 2), (4, 2)),
    ("sigmoid", {}, "vector", (3,), (3,)),
    ("gelu", {}, "vector", (3,), (3,)),
    ("rnn", {"hidden_size": 5}, "sequence", (7, 3), (5,)),
    (
        "rnn",
        {"hidden_size": 5, "nonlinearity": "relu", "return_sequence": True},
        "sequence",
        (7, 3),
        (7, 5),
    ),
    ("lstm", {"hidden_size": 6, "num_layers": 2, "bidirectional": True}, "sequence", (5, 2), (12,)),
    ("lstm", {"hidden_size": 4, "return_sequence": True}, "sequence", (5, 2), (5, 4)),
    (
        "gru",
        {"hidden_size": 3, "num_layers": 3, "bidirectional": True, "return_sequence": True},
        "sequence",
        (4, 2),
        (4, 6),
    ),
    ("gru", {"hidden_size": 8}, "sequence", (9, 1), (8,)),
]


def test_every_block_has_a_case():
    # Containers hold other blocks; their cases are in test_residual.py.
    plain = {b.id for b in CATALOGUE if b.container is None}
    assert {c[0] for c in CASES} == plain


@pytest.mark.parametrize(("type_id", "params", "kind", "in_shape", "out_shape"), CASES)
def test_shape_rule_matches_torch_and_round_trips(type_id, params, kind, in_shape, out_shape):
    spec = ModelSpec(InputSpec(kind, in_shape))
    spec = spec.insert(0, spec.new_block(type_id, params))
    info = infer(spec).blocks[0]
    assert info.error is None
    assert info.output_shape == out_shape

    model = build_model(spec, seed=0).eval()
    y = model(torch.randn(3, *in_shape))
    assert tuple(y.shape) == (3, *out_shape)
    assert info.param_count == sum(p.numel() for p in model.parameters())

    again = ModelSpec.from_json(spec.to_json())
    assert again == spec
    assert again.blocks[0].params == CATALOGUE[type_id].validate_params(params)


@pytest.mark.parametrize("block", list(CATALOGUE), ids=lambda b: b.id)
def test_block_declares_help_and_valid_defaults(block: BlockType):
    assert len(block.help) > 60
    assert block.validate_params({}) == block.defaults()


@pytest.mark.parametrize("block", list(CATALOGUE), ids=lambda b: b.id)
def test_block_declares_its_code_summary_and_known_probes(block: BlockType):
    # the Python export can write every block; a container's code is its inner blocks'
    assert block.code is not None or block.container is not None
    assert block.summarise(block.defaults())
    assert set(block.probes) <= set(PROBES.kinds())


@pytest.mark.parametrize(
    ("type_id", "params", "summary"),
    [
        ("conv2d", {}, "16 filters · 3×3 · stride 1 · pad 1"),
        ("maxpool2d", {}, "2×2 window · stride 2"),
        ("dense", {"units": 1, "bias": False}, "1 unit · no bias"),
        ("rnn", {"num_layers": 2, "nonlinearity": "relu"}, "64 hidden · 2 layers · relu · last step"),
        ("lstm", {"bidirectional": True, "return_sequence": True},
         "64 hidden · bidirectional · all steps"),
        ("leaky_relu", {}, "negative slope 0.01"),
        ("flatten", {}, "lays an image's feature maps (or a sequence) out as one long vector, so "
         "that a fully-connected (Dense) layer can read every value"),
    ],
)  # fmt: skip
def test_summaries_read_in_words(type_id, params, summary):
    block = CATALOGUE[type_id]
    assert block.summarise(block.validate_params(params)) == summary


def test_the_probes_that_look_inside_a_block_are_its_entry():
    assert CATALOGUE["conv2d"].probes == ("feature_maps", "filters")
    assert all(CATALOGUE[r].probes == ("gates", "time_gradients") for r in ("rnn", "lstm", "gru"))
    assert CATALOGUE["dense"].probes == ()


def test_registry_refuses_duplicate_ids():
    registry = BlockRegistry()
    block = CATALOGUE["relu"]
    registry.register(block)
    with pytest.raises(ValueError, match="already registered"):
        registry.register(block)


def test_help_texts_teach_the_subject():
    assert "forget" in CATALOGUE["lstm"].help and "vanish" in CATALOGUE["lstm"].help
    assert "memory" in CATALOGUE["rnn"].help.lower()
    assert "feature map" in CATALOGUE["conv2d"].help


@pytest.mark.parametrize(
    ("type_id", "kind", "shape", "message", "has_fix"),
    [
        (
            "dense",
            "image",
            (16, 4, 4),
            "Dense needs a flat vector but gets an image 16×4×4 — insert Flatten",
            True,
        ),
        ("lstm", "image", (1, 8, 8), "LSTM needs a sequence T×F but gets an image 1×8×8", False),
        (
            "conv2d",
            "sequence",
            (10, 3),
            "Conv2d needs an image C×H×W but gets a sequence 10×3",
            False,
        ),
        ("maxpool2d", "image", (1, 1, 1), "window but its input is only 1×1", True),
        ("batchnorm", "sequence", (5, 2), "BatchNorm works on images or vectors", False),
    ],
)
def test_shape_errors_name_the_problem(type_id, kind, shape, message, has_fix):
    spec = ModelSpec(InputSpec(kind, shape))
    spec = spec.insert(0, spec.new_block(type_id))
    result = infer(spec)
    assert not result.valid
    assert message in result.blocks[0].error
    assert (result.blocks[0].fix is not None) == has_fix


def test_lstm_forget_bias_sets_the_initial_forget_gate_only():
    spec = ModelSpec(InputSpec("sequence", (4, 3)))
    spec = spec.insert(
        0, spec.new_block("lstm", {"hidden_size": 5, "num_layers": 2, "forget_bias": 2.5})
    )
    lstm = build_model(spec, seed=0).lstm1
    for layer in range(2):
        bias_ih = getattr(lstm, f"bias_ih_l{layer}").detach()
        bias_hh = getattr(lstm, f"bias_hh_l{layer}").detach()
        assert torch.all(bias_ih[5:10] == 2.5) and torch.all(bias_hh[5:10] == 0)
        assert not torch.all(bias_ih[:5] == 2.5)  # the other gates keep torch's initialisation
