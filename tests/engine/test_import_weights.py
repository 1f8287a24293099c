"""Importing weights: safe .pt reading, all-or-nothing loading, and errors that name the file."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from engine.export.formats import export_model
from engine.export.weights import (
    WeightsError,
    apply_state,
    load_weights,
    load_weights_into_spec,
    read_weights,
)
from engine.model.spec import ModelSpec
from engine.nn.build import build_model

SPEC = ModelSpec.from_dict({
    "format": "layerlab-model", "version": 1, "name": "small",
    "input": {"kind": "sequence", "shape": [5, 3]},
    "blocks": [
        {"id": "lstm1", "type": "lstm", "params": {"hidden_size": 4}},
        {"id": "dense1", "type": "dense", "params": {"units": 2}},
    ],
})  # fmt: skip
OTHER = SPEC.with_params(0, {"hidden_size": 6}).with_params(1, {"bias": False})


class _CreatesMarker:
    """Unpickling this would call open(marker, "w") — code run by merely loading the file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _state(spec: ModelSpec = SPEC, seed: int = 1) -> dict[str, torch.Tensor]:
    return build_model(spec, seed=seed).state_dict()


@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
def test_exported_weights_load_back_into_a_fresh_model(suffix, tmp_path):
    source = build_model(SPEC, seed=1)
    path = tmp_path / f"w{suffix}"
    export_model(source, SPEC, path)
    target = build_model(SPEC, seed=2)
    report = load_weights(target, path)
    assert report.tensors == len(source.state_dict())
    assert report.values == sum(p.numel() for p in source.parameters())
    assert path.name in report.message
    for name, tensor in source.state_dict().items():
        assert torch.equal(target.state_dict()[name], tensor)
    if suffix == ".safetensors":
        assert ModelSpec.from_json(report.metadata["layerlab_spec"]) == SPEC


def test_read_weights_and_load_into_spec_give_numpy(tmp_path):
    path = tmp_path / "w.safetensors"
    export_model(build_model(SPEC, seed=1), SPEC, path)
    arrays = read_weights(path)
    assert all(isinstance(a, np.ndarray) for a in arrays.values())
    checked = load_weights_into_spec(SPEC, path)
    assert checked.keys() == arrays.keys()
    np.testing.assert_array_equal(checked["lstm1.weight_ih_l0"], arrays["lstm1.weight_ih_l0"])
    with pytest.raises(WeightsError, match="w.safetensors"):
        load_weights_into_spec(OTHER, path)


def test_apply_state_takes_numpy_arrays():
    model = build_model(SPEC, seed=2)
    arrays = {k: v.numpy() for k, v in _state().items()}
    apply_state(model, arrays)
    np.testing.assert_array_equal(model.state_dict()["dense1.bias"].numpy(), arrays["dense1.bias"])


@pytest.mark.parametrize("container", ["zip", "legacy"])
def test_malicious_pickle_is_refused_without_running_its_code(container, tmp_path):
    marker = tmp_path / "pwned"
    payload = {"dense1.weight": torch.zeros(2, 4), "evil": _CreatesMarker(marker)}
    path = tmp_path / "evil.pt"
    # torch's zip format (pickle inside) and its pre-1.6 format (a bare pickle stream)
    torch.save(payload, path, _use_new_zipfile_serialization=container == "zip")
    model = build_model(SPEC, seed=2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(WeightsError, match="Refused to load 'evil.pt'.*could run code"):
        load_weights(model, path)
    assert not marker.exists()
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    # Control: the payload is real — an unrestricted load does run it.
    torch.load(path, weights_only=False)["evil"].close()  # the payload returns an open file
    assert marker.exists()


def test_a_raw_pickle_is_refused_with_one_message_and_no_library_warning(tmp_path):
    """A plain pickle.dump (protocol 4/5) makes torch warn about the protocol before it refuses;
    the user sees the refusal, not the library's note (pytest turns a warning into a failure)."""
    import pickle

    marker = tmp_path / "pwned"
    path = tmp_path / "raw.pt"
    path.write_bytes(pickle.dumps({"evil": _CreatesMarker(marker)}, protocol=4))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(WeightsError, match="Refused to load 'raw.pt'"):
            load_weights(build_model(SPEC, seed=2), path)
    assert [str(w.message) for w in caught] == []
    assert not marker.exists()


def test_mismatch_lists_every_tensor_and_loads_nothing(tmp_path):
    state = _state(OTHER)  # hidden 6 instead of 4; dense without bias
    state["extra.weight"] = torch.zeros(1)
    path = tmp_path / "other.pt"
    torch.save(state, path)
    model = build_model(SPEC, seed=2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(WeightsError) as err:
        load_weights(model, path)
    message = str(err.value)
    assert "other.pt" in message
    assert "missing from the file: dense1.bias" in message
    assert "not in the model: extra.weight" in message
    assert "lstm1.weight_ih_l0 (expected 16×3, got 24×3)" in message
    assert "lstm1.weight_hh_l0 (expected 16×4, got 24×6)" in message
    assert "dense1.weight (expected 2×4, got 2×6)" in message
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_checkpoint_with_a_state_dict_inside_is_accepted(tmp_path):
    path = tmp_path / "ckpt.pt"
    torch.save({"epoch": 3, "state_dict": _state()}, path)
    model = build_model(SPEC, seed=2)
    load_weights(model, path)
    assert torch.equal(model.state_dict()["dense1.weight"], _state()["dense1.weight"])


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("missing.pt", None, "does not exist"),
        ("empty.safetensors", b"", "is empty"),
        ("empty.pt", b"", "is empty"),
        (
            "corrupt.safetensors",
            b"\x08\x00\x00\x00\x00\x00\x00\x00not json",
            "not a valid safetensors",
        ),
        ("corrupt.pt", b"PK\x03\x04 truncated zip", "not a readable PyTorch file"),
        ("weights.h5", b"x", "'.h5' is not a weights format"),
    ],
)
def test_unreadable_files_name_the_file(name, content, match, tmp_path):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(WeightsError, match=match) as err:
        load_weights(build_model(SPEC, seed=2), path)
    assert name in str(err.value)


def test_torchscript_archive_is_not_taken_for_weights(tmp_path):
    path = tmp_path / "model.pt"
    export_model(build_model(SPEC, seed=1), SPEC, path, fmt="torchscript")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(WeightsError, match="'model.pt' is a TorchScript model"):
            read_weights(path)


def test_a_pt_file_that_is_not_a_state_dict_is_refused(tmp_path):
    path = tmp_path / "tensor.pt"
    torch.save(torch.zeros(3), path)
    with pytest.raises(WeightsError, match="does not hold a state_dict"):
        read_weights(path)
