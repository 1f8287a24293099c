"""`python main.py train` exits as the README says: 2 for bad input of any kind found before
training, 1 for a run that failed — one `layerlab:` line either way, per kind of input."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from engine.cli import EXIT_BAD_INPUT, EXIT_TRAINING_FAILED, MAX_SEED, train_main

ROOT = Path(__file__).resolve().parents[2]


def _model(blocks, *, shape=(2,), dataset="moons") -> dict:
    return {
        "format": "layerlab-model",
        "version": 1,
        "input": {"kind": "vector", "shape": list(shape)},
        "blocks": blocks,
        "dataset": {"name": dataset, "options": {"n_samples": 80}},
    }


ONE_DENSE = [{"id": "dense1", "type": "dense", "params": {"units": 2}}]


def _write(folder: Path, name: str, content) -> Path:
    path = folder / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def _files(tmp_path: Path) -> dict[str, Path]:
    broken_npz = _write(tmp_path, "broken.npz", b"PK\x03\x04 this is not a zip archive")
    good_x = tmp_path / "flat.npz"
    np.savez(good_x, x=np.zeros((20, 3), np.float32), y=np.zeros(20, np.int64))
    return {
        "model": _write(tmp_path, "m.json", _model(ONE_DENSE)),
        "folder": tmp_path,
        "bad_json": _write(tmp_path, "bad.json", "{not json"),
        "deep": _write(tmp_path, "deep.json", "[" * 100_000 + "]" * 100_000),
        "reserved": _write(
            tmp_path, "fwd.json", _model([{"id": "forward", "type": "dense", "params": {}}])
        ),
        "no_shape": _write(  # shape inference refuses an LSTM on a vector
            tmp_path, "lstm.json", _model([{"id": "lstm1", "type": "lstm", "params": {}}])
        ),
        "empty_csv": _write(tmp_path, "empty.csv", ""),
        "broken_npz": broken_npz,
        "other_shape_npz": good_x,
    }


BAD_INPUT = [
    ("{bad_json}", [], "The file is not valid JSON"),
    ("{deep}", [], "nests lists or objects too deeply"),
    ("{folder}", [], "is a folder, not a model file"),
    ("{folder}/missing.json", [], "does not exist"),
    ("{reserved}", [], "'id' cannot be 'forward'"),
    ("{no_shape}", [], "cannot be trained: Block 1 ('lstm1')"),
    ("{model}", ["--dataset", "digits"], "set the Input block"),  # does not fit its data
    ("{model}", ["--dataset", "{empty_csv}"], "empty.csv"),
    ("{model}", ["--dataset", "{broken_npz}"], "broken.npz"),
    ("{model}", ["--dataset", "{other_shape_npz}"], "set the Input block"),
    ("{model}", ["--device", "cuda:9"], "cuda:9"),
    ("{model}", ["--device", "tpu"], "tpu"),
    ("{model}", ["--seed", "1180591620717411303424"], f"from 0 to {MAX_SEED:,}"),
    ("{model}", ["--seed", "-1"], f"from 0 to {MAX_SEED:,}"),
    ("{model}", ["--epochs", "0"], "epochs must be"),
    ("{model}", ["--export", "out.zip"], "not an export format"),
]


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = train_main(argv, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(("model", "extra", "words"), BAD_INPUT)
def test_bad_input_of_every_kind_exits_2_with_one_line(tmp_path, model, extra, words):
    files = {k: str(v) for k, v in _files(tmp_path).items()}
    # The case's own options last: argparse keeps the last value of an option given twice.
    argv = [a.format(**files) for a in [model, "--epochs", "1", "--quiet", *extra]]
    code, out, err = _run(argv)
    assert code == EXIT_BAD_INPUT, (code, err)
    assert err.startswith("layerlab: ") and err.count("\n") == 1 and words in err, err
    assert out == ""


def test_a_run_whose_loss_explodes_fails_with_exit_1(tmp_path):
    model = _files(tmp_path)["model"]
    code, _, err = _run([str(model), "--lr", "1e30", "--epochs", "3", "--device", "cpu"])
    assert code == EXIT_TRAINING_FAILED, err
    assert err.startswith("layerlab: The loss exploded to ") and err.count("\n") == 1
    assert "a run stops when its loss passes 1e+15" in err and "learning rate" in err


def test_the_largest_seed_is_accepted(tmp_path):
    model = _files(tmp_path)["model"]
    code, out, err = _run([str(model), "--seed", str(MAX_SEED), "--epochs", "1", "--quiet"])
    assert code == 0, err
    assert out.startswith("done: 1 epoch")
