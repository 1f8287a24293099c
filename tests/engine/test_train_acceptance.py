"""Acceptance on real data: the digits CNN passes 95 % in 10 epochs; the LSTM beats the RNN on long memory."""

from __future__ import annotations

import io
import re
import shlex
from pathlib import Path

import pytest

from engine.cli import train_main
from engine.model.examples import example_path
from engine.model.spec import ModelSpec
from engine.training.events import Finished
from engine.training.settings import TrainSettings
from engine.training.trainer import Trainer

ROOT = Path(__file__).resolve().parents[2]
README_SECTION = "### RNN vs LSTM: the vanishing gradient, reproduced"


@pytest.mark.slow
def test_digits_cnn_reaches_95_percent_within_10_epochs():
    spec = ModelSpec.load(example_path("digits_cnn"))
    # The default settings (Adam, lr 0.003, batch 32), as the GUI and the CLI use them.
    settings = TrainSettings(epochs=10, device="cpu", torch_threads=1, probes=False, seed=0)
    result = Trainer(spec, spec.dataset, settings).run()
    assert isinstance(result, Finished), getattr(result, "message", result)
    assert result.final.val_accuracy >= 0.95


def readme_command(example: str) -> list[str]:
    """The arguments after `python main.py train` of the README's command for ``example``, so
    the test runs exactly what the README tells a reader to type."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split(README_SECTION, 1)[1].split("\n### ", 1)[0]
    prefix = f"python main.py train resources/examples/{example}.json"
    lines = [line for line in section.splitlines() if line.startswith(prefix)]
    assert len(lines) == 1, f"the README section should show one command for {example}"
    return shlex.split(lines[0])[3:]


def test_readme_commands_differ_only_in_the_example():
    lstm, rnn = readme_command("memory_lstm"), readme_command("memory_rnn")
    assert lstm[1:] == rnn[1:]
    # No pinned threads: the claim must hold at torch's own thread count, the CLI's default.
    assert "--threads" not in lstm


def _final_val_accuracy(example: str, seed: int, monkeypatch, run_dir) -> float:
    monkeypatch.chdir(ROOT)  # the README's paths are relative to the project root
    out, err = io.StringIO(), io.StringIO()
    # --run-dir: the default, runs/ beside the model, would leave run folders in resources/.
    code = train_main(
        [*readme_command(example), "--seed", str(seed), "--quiet", "--run-dir", str(run_dir)],
        stdout=out, stderr=err,
    )  # fmt: skip
    assert code == 0, err.getvalue()
    found = re.search(r"val accuracy ([0-9.]+)%", out.getvalue())
    assert found, out.getvalue()
    return float(found.group(1)) / 100


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_lstm_remembers_the_first_of_160_steps_where_the_rnn_stays_at_chance(
    seed, monkeypatch, tmp_path
):
    # README "RNN vs LSTM": the same 160-step task, command and seed for both examples.
    lstm = _final_val_accuracy("memory_lstm", seed, monkeypatch, tmp_path / "lstm")
    rnn = _final_val_accuracy("memory_rnn", seed, monkeypatch, tmp_path / "rnn")
    assert lstm >= 0.95, f"seed {seed}: the LSTM reached only {lstm:.1%}"
    assert rnn <= 0.35, f"seed {seed}: the RNN reached {rnn:.1%}; 4 symbols: chance is 25 %"
