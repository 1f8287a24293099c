"""A Fix never leaves the model invalid: the kernel Fix keeps every later block valid, and a
model/dataset Fix is offered only when the model after its edits is valid and fits."""

from __future__ import annotations

from engine.data import fit_to_dataset, load_builtin
from engine.model.examples import example_path
from engine.model.inference import infer
from engine.model.spec import ModelSpec


def _example(name: str) -> ModelSpec:
    return ModelSpec.load(example_path(name))


def test_kernel_fix_keeps_the_pools_after_it_valid():
    spec = _example("digits_cnn").with_params(0, {"kernel_size": 13})  # 8×8 input, padding 1
    error = infer(spec).first_error
    assert error.index == 0 and error.fix is not None
    fixed = spec.apply_fix(0, error.fix)
    assert infer(fixed).valid
    # The largest window that keeps the rest valid: 10×10 (what the old rule set) is not.
    assert fixed.blocks[0].params["kernel_size"] == 7
    assert not infer(spec.with_params(0, {"kernel_size": 10})).valid


def test_no_kernel_fix_when_no_size_keeps_the_model_valid():
    # Three pools after a conv on 8×8 and a Dense that needs a vector: after the conv there is
    # no room for three 2×2 pools, whatever the kernel.
    spec = _example("digits_cnn")
    for _ in range(3):
        spec = spec.insert(1, spec.new_block("maxpool2d"))
    spec = spec.with_params(0, {"kernel_size": 13})
    error = infer(spec).first_error
    assert error.index == 0 and error.fix is None
    assert "No one-click fix keeps the blocks after it valid" in error.error


def test_empty_model_has_no_dataset_mismatch():
    spec = ModelSpec(input=_example("digits_cnn").input, blocks=())
    assert fit_to_dataset(spec, load_builtin("digits")).fits


def test_dataset_fix_that_would_break_the_model_is_not_offered():
    fit = fit_to_dataset(_example("digits_cnn"), load_builtin("moons"))
    assert not fit.fits and fit.fixed_spec is None and fit.fix_label is None
    assert any("No one-click fix" in m for m in fit.messages)


def test_dataset_fix_sets_input_and_units_together_and_stays_valid():
    spec = _example("moons_mlp").with_input("vector", (7,))
    spec = spec.with_params(len(spec.blocks) - 1, {"units": 5})
    moons = load_builtin("moons")
    fit = fit_to_dataset(spec, moons)
    assert len(fit.messages) == 2 and fit.fixed_spec is not None
    assert "Input to 2" in fit.fix_label and "units to 2" in fit.fix_label
    assert infer(fit.fixed_spec).valid and fit_to_dataset(fit.fixed_spec, moons).fits
