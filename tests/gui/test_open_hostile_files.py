"""File > Open on hostile model files: the window shows the loader's one sentence in a message
box and keeps the model it had; nothing raises."""

from __future__ import annotations

import json

import pytest

HOSTILE = {
    "deep.json": ("[" * 100_000 + "]" * 100_000, "nests lists or objects too deeply"),
    "digits.json": (
        '{"format": "layerlab-model", "version": ' + "9" * 100_000 + "}",
        "more than 4,300 digits",
    ),
    "forward.json": (
        json.dumps(
            {
                "format": "layerlab-model",
                "version": 1,
                "input": {"kind": "vector", "shape": [2]},
                "blocks": [{"id": "forward", "type": "dense", "params": {"units": 2}}],
            }
        ),
        "'id' cannot be 'forward'",
    ),  # fmt: skip
    "long.json": (
        json.dumps(
            {
                "format": "layerlab-model",
                "version": 1,
                "input": {"kind": "vector", "shape": [2]},
                "blocks": [{"id": f"r{i}", "type": "relu"} for i in range(1001)],
            }
        ),
        "1,001 blocks, more than LayerLab's limit of 1,000",
    ),  # fmt: skip
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_open_shows_the_sentence_and_keeps_the_model(make_app_window, answers, tmp_path, name):
    window = make_app_window()
    before = window.document.spec
    text, words = HOSTILE[name]
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    assert not window.files.open_path(path)
    assert len(answers.errors) == 1
    assert words in answers.errors[0] and name in answers.errors[0], answers.errors[0]
    assert window.document.spec == before
