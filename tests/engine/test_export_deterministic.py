"""The same weights give the same .safetensors bytes: its header is written in sorted order,
not in the per-process hash order the safetensors library uses for metadata."""

from __future__ import annotations

import io
import json

from engine.cli import train_main
from engine.export.formats import export_model
from engine.model.spec import ModelSpec
from engine.nn.build import build_model
from tests.engine._train_fixtures import mlp_spec


def _header(data: bytes) -> tuple[str, dict]:
    size = int.from_bytes(data[:8], "little")
    text = data[8 : 8 + size].decode("utf-8")
    return text, json.loads(text)


def test_the_same_model_exports_the_same_bytes_every_time(tmp_path):
    spec = mlp_spec()
    model = build_model(spec, seed=3).eval()
    outputs = set()
    for i in range(12):  # unsorted, 12 exports in one process gave about 6 different files
        path = tmp_path / f"{i}.safetensors"
        export_model(model, spec, path)
        outputs.add(path.read_bytes())
    assert len(outputs) == 1
    data = outputs.pop()
    text, header = _header(data)
    assert list(header) == sorted(header) and list(header["__metadata__"]) == sorted(
        header["__metadata__"]
    )
    assert len(text) % 8 == 0 and header["__metadata__"]["format"] == "pt"
    assert ModelSpec.from_json(header["__metadata__"]["layerlab_spec"]) == spec


def test_the_same_seed_twice_gives_byte_identical_files(tmp_path):
    spec = mlp_spec()
    spec = type(spec)(spec.input, spec.blocks, "m", "moons", {"n_samples": 80})
    model = tmp_path / "m.json"
    spec.save(model)
    files = []
    for run in ("a", "b"):
        target = tmp_path / f"{run}.safetensors"
        code = train_main(
            [str(model), "--epochs", "2", "--seed", "7", "--device", "cpu", "--threads", "1",
             "--export", str(target), "--quiet"],
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )  # fmt: skip
        assert code == 0
        files.append(target.read_bytes())
    assert files[0] == files[1]
