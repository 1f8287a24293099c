"""Headless `python main.py train`: summary and exit 0, one-line errors, exports."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli import train_main
from tests.engine._train_fixtures import mlp_spec, model_beside_its_data

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def model_file(tmp_path):
    spec = mlp_spec()
    spec = type(spec)(
        input=spec.input,
        blocks=spec.blocks,
        name="moons mlp",
        dataset="moons",
        dataset_options={"n_samples": 80},
    )
    path = tmp_path / "m.json"
    spec.save(path)
    return path


def run(argv):
    out, err = io.StringIO(), io.StringIO()
    code = train_main([str(a) for a in argv], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_trains_prints_epoch_lines_and_summary_and_exports(model_file, tmp_path):
    target = tmp_path / "w.safetensors"
    code, out, err = run(
        [
            model_file,
            "--epochs",
            "2",
            "--device",
            "cpu",
            "--batch-size",
            "16",
            "--lr",
            "0.01",
            "--seed",
            "1",
            "--export",
            target,
        ]
    )
    assert code == 0, err
    lines = out.splitlines()
    assert lines[1].startswith("epoch 1:") and lines[2].startswith("epoch 2:")
    assert "\r" not in out  # not a terminal: plain lines
    assert lines[3].startswith("done: 2 epochs, val loss") and "val accuracy" in lines[3]
    assert "samples/s" in lines[3]
    from safetensors import safe_open

    with safe_open(str(target), "pt") as f:
        assert "dense1.weight" in list(f.keys())
        assert "layerlab_spec" in f.metadata()


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["missing.json"], "does not exist"),
        (["{model}", "--epochs", "zero"], "invalid int value"),
        (["{model}", "--epochs", "0"], "epochs must be"),
        (["{model}", "--dataset", "nosuchset"], "neither a built-in dataset"),
        (["{model}", "--dataset", "digits"], "set the Input block"),
        (["{model}", "--export", "out.zip"], "not an export format"),
        (["{model}", "--device", "cuda:9"], "cuda:9"),
        ([], "the following arguments are required"),
    ],
)
def test_bad_input_is_one_line_and_nonzero(model_file, argv, words):
    code, _, err = run([a.replace("{model}", str(model_file)) for a in argv])
    assert code != 0
    assert err.count("\n") == 1 and err.startswith("layerlab: ") and words in err
    assert "Traceback" not in err


def test_a_relative_dataset_path_is_read_next_to_the_model_file(tmp_path, monkeypatch):
    model = model_beside_its_data(tmp_path / "sub")
    monkeypatch.chdir(tmp_path)  # the parent folder: data.npz is not here
    code, out, err = run(["sub/model.json", "--epochs", "1", "--device", "cpu", "--quiet"])
    assert code == 0, err
    assert out.startswith("done: 1 epoch")
    assert model.with_name("data.npz").exists() and not (tmp_path / "data.npz").exists()


def test_a_dataset_path_on_the_command_line_is_read_from_the_current_folder(tmp_path, monkeypatch):
    model_beside_its_data(tmp_path / "sub")
    monkeypatch.chdir(tmp_path)
    code, _, err = run(["sub/model.json", "--dataset", "data.npz", "--device", "cpu"])
    assert code != 0 and "neither a built-in dataset" in err
    assert str(tmp_path / "data.npz") in err or "'data.npz'" in err
    code, _, err = run(["sub/model.json", "--dataset", "sub/data.npz", "--epochs", "1"])
    assert code == 0, err


def test_main_py_train_finds_the_models_data_from_another_folder(tmp_path):
    model_beside_its_data(tmp_path / "sub")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "train", "sub/model.json", "--epochs", "1",
         "--device", "cpu", "--quiet"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("done: 1 epoch")


def test_main_dispatches_train_in_a_subprocess(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    proc = subprocess.run(
        [sys.executable, "main.py", "train", str(bad)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("layerlab: bad.json: The file is not valid JSON")
    assert proc.stderr.count("\n") == 1


def test_cli_defaults_are_the_training_settings_defaults():
    """One source of defaults: the CLI trains what the window trains unless told otherwise."""
    from engine.cli import make_parser
    from engine.training.settings import DEFAULT_LR, TrainSettings

    args = make_parser().parse_args(["m.json"])
    defaults = TrainSettings()
    for name in ("epochs", "batch_size", "optimizer", "momentum", "weight_decay", "seed"):
        assert getattr(args, name) == getattr(defaults, name), name
    assert args.lr_schedule == defaults.lr_schedule
    assert DEFAULT_LR[defaults.optimizer] == defaults.lr
    assert "SGD 0.01" in make_parser().format_help()
