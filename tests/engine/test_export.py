"""Every export format, for a CNN, an LSTM, a GRU and an RNN model, read back by its own reader.

Each model is trained for a few steps first (so the weights are not the initial ones), exported,
read back with the format's own reader — torch.load, safetensors, torch.jit.load, onnxruntime,
the generated module in a fresh interpreter — and run on the same input as the original.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.export.formats import ExportError, export_formats, export_model, format_for_path
from engine.model.catalogue import CATALOGUE
from engine.model.spec import ModelSpec
from engine.nn.build import build_model


def _spec(kind: str, shape: list[int], blocks: list[tuple[str, str, dict]]) -> ModelSpec:
    return ModelSpec.from_dict({
        "format": "layerlab-model", "version": 1, "name": f"test {kind}",
        "input": {"kind": kind, "shape": shape},
        "blocks": [{"id": i, "type": t, "params": p} for i, t, p in blocks],
    })  # fmt: skip


# Between them the four models use every block type in the catalogue (checked below), BatchNorm
# on an image and on a vector, and the recurrent blocks in every combination that changes the
# code path: one and two layers, one and two directions, returning the sequence or the last step.
SPECS = {
    "cnn": _spec("image", [2, 8, 8], [
        ("conv1", "conv2d", {"out_channels": 4}), ("batchnorm1", "batchnorm", {}), ("relu1", "relu", {}),
        ("maxpool1", "maxpool2d", {}), ("conv2", "conv2d", {"out_channels": 6}),
        ("leaky_relu1", "leaky_relu", {}), ("avgpool1", "avgpool2d", {}), ("flatten1", "flatten", {}),
        ("dropout1", "dropout", {"p": 0.3}), ("dense1", "dense", {"units": 8}), ("gelu1", "gelu", {}),
        ("dense2", "dense", {"units": 3}),
    ]),
    "lstm": _spec("sequence", [6, 3], [
        ("lstm1", "lstm", {"hidden_size": 5, "num_layers": 2, "bidirectional": True, "return_sequence": True}),
        ("lstm2", "lstm", {"hidden_size": 4}), ("tanh1", "tanh", {}), ("dense1", "dense", {"units": 2}),
    ]),
    "gru": _spec("sequence", [6, 3], [
        ("gru1", "gru", {"hidden_size": 5, "num_layers": 2, "bidirectional": True}),
        ("dense1", "dense", {"units": 3}), ("batchnorm1", "batchnorm", {}), ("sigmoid1", "sigmoid", {}),
    ]),
    "rnn": _spec("sequence", [6, 3], [
        ("rnn1", "rnn", {"hidden_size": 4, "num_layers": 2, "bidirectional": True, "return_sequence": True, "nonlinearity": "relu"}),
        ("dense1", "dense", {"units": 4}),
        ("rnn2", "rnn", {"hidden_size": 3, "return_sequence": True}), ("dense2", "dense", {"units": 2}),
    ]),
}  # fmt: skip


def _residual(block_id: str, inner: list[tuple[str, str, dict]]) -> dict:
    blocks = [{"id": i, "type": t, "params": p} for i, t, p in inner]
    return {"id": block_id, "type": "residual", "params": {}, "blocks": blocks}


# Residual blocks with every kind of skip: the identity, a Linear projection, a strided 1×1
# convolution, one residual block inside another, and a recurrent block inside one.
SPECS["residual_cnn"] = ModelSpec.from_dict(
    {
        "format": "layerlab-model",
        "version": 2,
        "name": "test residual cnn",
        "input": {"kind": "image", "shape": [2, 8, 8]},
        "blocks": [
            _residual(
                "residual1", [("conv1", "conv2d", {"out_channels": 2}), ("relu1", "relu", {})]
            ),
            _residual(
                "residual2",
                [("conv2", "conv2d", {"out_channels": 4, "stride": 2}), ("tanh2", "tanh", {})],
            ),
            {"id": "maxpool1", "type": "maxpool2d", "params": {}},
            {"id": "flatten1", "type": "flatten", "params": {}},
            {
                "id": "residual3",
                "type": "residual",
                "params": {},
                "blocks": [
                    _residual(
                        "residual4", [("dense1", "dense", {"units": 16}), ("tanh3", "tanh", {})]
                    ),
                    {"id": "tanh1", "type": "tanh", "params": {}},
                ],
            },
            _residual("residual5", [("dense2", "dense", {"units": 3})]),
        ],
    }
)
SPECS["residual_rnn"] = ModelSpec.from_dict({
    "format": "layerlab-model", "version": 2, "name": "test residual rnn",
    "input": {"kind": "sequence", "shape": [6, 3]},
    "blocks": [
        _residual("residual1", [("gru1", "gru", {"hidden_size": 4, "return_sequence": True})]),
        {"id": "lstm1", "type": "lstm", "params": {"hidden_size": 4}},
        _residual("residual2", [("dense1", "dense", {"units": 4}), ("sigmoid1", "sigmoid", {})]),
        {"id": "dense2", "type": "dense", "params": {"units": 2}},
    ],
})  # fmt: skip
KINDS = list(SPECS)
ONNX_RECURRENT_OPS = {"lstm": {"LSTM"}, "gru": {"GRU"}, "rnn": {"RNN"}, "residual_rnn": {"GRU"}}


def _train(spec: ModelSpec) -> torch.nn.Module:
    gen = torch.Generator().manual_seed(1)
    model = build_model(spec, seed=0)
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(8, *spec.input.shape, generator=gen)
    target = torch.randn(model(x).shape, generator=gen)
    for _ in range(4):
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), target).backward()
        opt.step()
    changed = [k for k, v in model.state_dict().items() if not torch.equal(v, initial[k])]
    assert changed, "training must move the weights away from the initial ones"
    return model.eval()


@pytest.fixture(scope="module")
def trained() -> dict[str, torch.nn.Module]:
    return {kind: _train(spec) for kind, spec in SPECS.items()}


def _input(kind: str, batch: int) -> torch.Tensor:
    return torch.randn(batch, *SPECS[kind].input.shape, generator=torch.Generator().manual_seed(7))


def _reference(model: torch.nn.Module, x: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return model(x).numpy()


def test_the_test_models_use_every_block_type():
    used = {b.type for spec in SPECS.values() for top in spec.blocks for b in top.walk()}
    assert used == set(CATALOGUE.ids())


# ---------------------------------------------------------------- each format, read back


@pytest.mark.parametrize("kind", KINDS)
def test_state_dict_reads_back_with_torch_load(kind, trained, tmp_path):
    path = tmp_path / "model.pt"
    result = export_model(trained[kind], SPECS[kind], path)
    assert (result.path, result.fmt) == (path, "state_dict")
    assert "trained weights" in result.message and "model.pt" in result.message
    state = torch.load(path, weights_only=True)
    assert list(state) == list(trained[kind].state_dict())  # block-id names, in block order
    fresh = build_model(SPECS[kind], seed=123)
    fresh.load_state_dict(state)
    x = _input(kind, 3)
    np.testing.assert_allclose(_reference(fresh.eval(), x), _reference(trained[kind], x), atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_safetensors_reads_back_and_carries_the_spec(kind, trained, tmp_path):
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = tmp_path / "model.safetensors"
    export_model(trained[kind], SPECS[kind], path)
    fresh = build_model(SPECS[kind], seed=123)
    fresh.load_state_dict(load_file(path))
    x = _input(kind, 3)
    np.testing.assert_allclose(_reference(fresh.eval(), x), _reference(trained[kind], x), atol=1e-5)
    with safe_open(path, framework="pt") as fh:
        meta = fh.metadata()
    assert meta["layerlab_format"] == "1" and meta["format"] == "pt"
    assert ModelSpec.from_json(meta["layerlab_spec"]) == SPECS[kind]


@pytest.mark.parametrize("kind", KINDS)
def test_torchscript_reads_back_with_jit_load_at_another_batch_size(kind, trained, tmp_path):
    path = tmp_path / "model.torchscript"
    export_model(trained[kind], SPECS[kind], path)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "`torch.jit.load` is deprecated", DeprecationWarning)
        loaded = torch.jit.load(path)
    x = _input(kind, 5)  # the trace used a batch of 2
    np.testing.assert_allclose(_reference(loaded, x), _reference(trained[kind], x), atol=1e-5)


def test_torchscript_with_a_pt_name_when_asked(trained, tmp_path):
    path = tmp_path / "scripted.pt"
    result = export_model(trained["lstm"], SPECS["lstm"], path, fmt="torchscript")
    assert result.fmt == "torchscript"
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "`torch.jit.load` is deprecated", DeprecationWarning)
        loaded = torch.jit.load(path)
    x = _input("lstm", 4)
    np.testing.assert_allclose(_reference(loaded, x), _reference(trained["lstm"], x), atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_onnx_runs_in_onnxruntime_with_a_dynamic_batch(kind, trained, tmp_path):
    import onnx
    import onnxruntime as ort

    path = tmp_path / "model.onnx"
    export_model(trained[kind], SPECS[kind], path)
    graph = onnx.load(path)
    assert graph.opset_import[0].version >= 17
    assert [i.name for i in graph.graph.input] == ["input"]
    assert [o.name for o in graph.graph.output] == ["output"]
    assert graph.graph.input[0].type.tensor_type.shape.dim[0].dim_param  # symbolic, not a number
    # Recurrent blocks stay ONNX's own recurrent operators rather than an unrolled loop.
    assert ONNX_RECURRENT_OPS.get(kind, set()) <= {n.op_type for n in graph.graph.node}
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = _input(kind, 5)  # exported with a batch of 2
    (out,) = session.run(None, {"input": x.numpy()})
    np.testing.assert_allclose(out, _reference(trained[kind], x), atol=1e-4)


def test_spec_json_reads_back(trained, tmp_path):
    path = tmp_path / "model.json"
    result = export_model(trained["gru"], SPECS["gru"], path)
    assert result.fmt == "spec" and "no weights" in result.message
    assert ModelSpec.load(path) == SPECS["gru"]


# ---------------------------------------------------------------- the generated Python module

_RUN_GENERATED = """
import importlib.util, sys
import torch
inputs = torch.load("inputs.pt", weights_only=True)
outputs = {}
for kind, x in inputs.items():
    spec = importlib.util.spec_from_file_location(kind, kind + ".py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.INPUT_SHAPE == tuple(x.shape[1:])
    with torch.no_grad():
        for weights in (".safetensors", ".pt"):
            outputs[kind + weights] = module.load(kind + weights)(x)
torch.save(outputs, "outputs.pt")
print(sorted(m for m in sys.modules if m.split(".")[0] in ("engine", "gui", "layerlab")))
"""


@pytest.fixture(scope="module")
def generated(trained, tmp_path_factory) -> tuple[Path, dict[str, torch.Tensor]]:
    """Export every model as .py + weights and run them all in one fresh interpreter."""
    folder = tmp_path_factory.mktemp("generated")
    for kind, model in trained.items():
        result = export_model(model, SPECS[kind], folder / f"{kind}.py")
        assert "architecture only" in result.message
        export_model(model, SPECS[kind], folder / f"{kind}.safetensors")
        export_model(model, SPECS[kind], folder / f"{kind}.pt")
    torch.save({kind: _input(kind, 3) for kind in KINDS}, folder / "inputs.pt")
    # -I: isolated mode, so neither the repository nor PYTHONPATH is on sys.path.
    run = subprocess.run(
        [sys.executable, "-I", "-c", _RUN_GENERATED],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]", "the generated module must not import LayerLab"
    return folder, torch.load(folder / "outputs.pt", weights_only=True)


@pytest.mark.parametrize("kind", KINDS)
def test_generated_module_reproduces_the_model_in_a_fresh_interpreter(kind, trained, generated):
    _, outputs = generated
    expected = _reference(trained[kind], _input(kind, 3))
    for weights in (".safetensors", ".pt"):
        np.testing.assert_allclose(outputs[kind + weights].numpy(), expected, atol=1e-5)


def test_generated_module_is_plain_readable_torch(generated):
    folder, _ = generated
    source = (folder / "lstm.py").read_text()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module.split(".")[0])
    assert imported <= {"torch", "safetensors", "sys"}
    assert "class Model(nn.Module):" in source and "def load(path" in source
    assert "INPUT_SHAPE = (6, 3)" in source
    # one attribute per block id, recurrent last step written out
    for block in SPECS["lstm"].blocks:
        assert f"self.{block.id} = " in source
    assert "x = h_n[-1]" in source


def test_generated_residual_module_adds_the_skip_in_forward(generated):
    folder, _ = generated
    source = (folder / "residual_cnn.py").read_text()
    assert "self.residual2.skip = nn.Conv2d(2, 4, kernel_size=1, stride=2)" in source
    assert "self.residual3.inner.residual4.inner.dense1 = nn.Linear(16, 16)" in source
    assert "skip_residual1 = x" in source and "x = x + skip_residual1" in source
    assert "skip_residual2 = self.residual2.skip(x)" in source


def test_residual_weights_have_readable_names(trained):
    names = list(trained["residual_cnn"].state_dict())
    assert "residual1.inner.conv1.weight" in names
    assert {"residual2.skip.weight", "residual2.skip.bias"} <= set(names)
    assert "residual3.inner.residual4.inner.dense1.weight" in names
    assert not any(n.startswith("residual1.skip") for n in names)  # identity: no weights


# ---------------------------------------------------------------- messages and failures


@pytest.mark.parametrize("suffix", [".onnx", ".safetensors"])
def test_untrained_export_works_and_says_so(suffix, tmp_path):
    model = build_model(SPECS["cnn"], seed=0)
    result = export_model(model, SPECS["cnn"], tmp_path / f"model{suffix}", trained=False)
    assert result.message.startswith(f"Exported initial (untrained) weights to model{suffix}")
    assert result.path.stat().st_size > 0


@pytest.mark.parametrize("name", ["model.h5", "model"])
def test_unknown_extension_is_refused_with_the_supported_list(name, trained, tmp_path):
    with pytest.raises(ExportError) as err:
        export_model(trained["cnn"], SPECS["cnn"], tmp_path / name)
    message = str(err.value)
    assert name in message
    for fmt in export_formats():
        assert fmt.extension in message
    assert list(tmp_path.iterdir()) == []


def test_export_formats_cover_each_extension_once():
    formats = export_formats()
    assert len({f.id for f in formats}) == len({f.extension for f in formats}) == len(formats)
    assert {f.id for f in formats} == {
        "state_dict",
        "safetensors",
        "onnx",
        "torchscript",
        "python",
        "spec",
    }
    assert format_for_path("A.SAFETENSORS").id == "safetensors"


def test_failed_export_keeps_the_old_file_and_leaves_no_temporary(trained, tmp_path, monkeypatch):
    import engine.export.formats

    path = tmp_path / "model.onnx"
    path.write_bytes(b"previous export")

    def broken(model, spec, tmp):
        tmp.write_bytes(b"half")
        raise RuntimeError("exporter crashed")

    monkeypatch.setitem(engine.export.formats._WRITERS, "onnx", broken)
    with pytest.raises(ExportError, match="model.onnx.*exporter crashed"):
        export_model(trained["cnn"], SPECS["cnn"], path)
    assert path.read_bytes() == b"previous export"
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]


def test_missing_folder_is_named(trained, tmp_path):
    with pytest.raises(ExportError, match="does not exist"):
        export_model(trained["cnn"], SPECS["cnn"], tmp_path / "nowhere" / "model.pt")


def test_model_that_does_not_match_its_spec_is_refused(trained, tmp_path):
    with pytest.raises(ExportError, match=r"does not match its spec(.|\n)*lstm1.weight_ih_l0"):
        export_model(trained["gru"], SPECS["lstm"], tmp_path / "model.pt")


def test_export_leaves_the_live_model_and_random_stream_alone(tmp_path):
    model = build_model(SPECS["cnn"], seed=0).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    export_model(model, SPECS["cnn"], tmp_path / "model.torchscript")
    assert model.training
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert torch.equal(torch.get_rng_state(), rng)


def test_generated_code_that_would_differ_is_never_written(trained, tmp_path, monkeypatch):
    import engine.export.codegen

    real = engine.export.codegen.generate_module

    def forgets_nonlinearity(spec, model):  # a codegen bug: relu RNNs written as tanh RNNs
        return real(spec, model).replace("nonlinearity='relu'", "nonlinearity='tanh'")

    monkeypatch.setattr(engine.export.codegen, "generate_module", forgets_nonlinearity)
    with pytest.raises(ExportError, match="does not reproduce the model"):
        export_model(trained["rnn"], SPECS["rnn"], tmp_path / "model.py")
    assert list(tmp_path.iterdir()) == []


def test_export_weights_from_numpy_arrays(trained, tmp_path):
    from engine.export.formats import export_weights

    arrays = {k: v.numpy() for k, v in trained["gru"].state_dict().items()}
    result = export_weights(SPECS["gru"], arrays, tmp_path / "model.pt")
    assert "trained weights" in result.message
    state = torch.load(tmp_path / "model.pt", weights_only=True)
    np.testing.assert_array_equal(
        state["gru1.weight_hh_l1_reverse"].numpy(), arrays["gru1.weight_hh_l1_reverse"]
    )
    untrained = export_weights(SPECS["gru"], None, tmp_path / "fresh.pt")
    assert "initial (untrained) weights" in untrained.message
    del arrays["dense1.bias"]
    with pytest.raises(ExportError, match=r"bad.pt(.|\n)*missing from the file: dense1.bias"):
        export_weights(SPECS["gru"], arrays, tmp_path / "bad.pt")
