"""Every built-in dataset: shapes, dtypes, determinism, splits, options; and the registry."""

from __future__ import annotations

import time

import numpy as np
import pytest

from engine.data import BUILTIN, Dataset, DatasetError, load_builtin, load_dataset
from engine.data.builtin import BuiltinInfo, register

EXPECTED_SHAPE = {
    "digits": (1, 8, 8),
    "shapes": (1, 28, 28),
    "sine": (40, 1),
    "adding": (50, 2),
    "first_symbol": (30, 4),
    "moons": (2,),
    "spirals": (2,),
    "circles": (2,),
}
# Keep generated sets small so the whole file stays fast; digits has no size option.
SMALL = {"digits": {}, **{k: {"n_samples": 200} for k in EXPECTED_SHAPE if k != "digits"}}
IDS = sorted(BUILTIN)


def test_every_builtin_is_covered_here():
    assert set(BUILTIN) == set(EXPECTED_SHAPE)


@pytest.mark.parametrize("name", IDS)
def test_shape_dtype_and_kind(name):
    info = BUILTIN[name]
    ds = load_builtin(name, **SMALL[name])
    assert isinstance(ds, Dataset)
    assert ds.name == name and ds.task == info.task and ds.input_kind == info.input_kind
    assert ds.input_shape == EXPECTED_SHAPE[name]
    for x, y in ((ds.x_train, ds.y_train), (ds.x_val, ds.y_val)):
        assert x.dtype == np.float32 and x.shape[1:] == ds.input_shape
        assert np.isfinite(x).all()
        if ds.task == "classification":
            assert y.dtype == np.int64 and y.shape == (len(x),)
            assert y.min() >= 0 and y.max() < ds.num_outputs
        else:
            assert y.dtype == np.float32 and y.shape == (len(x), ds.num_outputs)
    if ds.task == "classification":
        assert len(ds.class_names) == ds.num_outputs
        assert (ds.class_counts("train") > 0).all() and (ds.class_counts("val") > 0).all()
    else:
        assert ds.class_names is None and ds.class_counts() is None
    if ds.input_kind == "image":
        assert ds.x_train.min() >= 0.0 and ds.x_train.max() <= 1.0


@pytest.mark.parametrize("name", IDS)
def test_same_seed_same_data_other_seed_other_data(name):
    a = load_builtin(name, seed=3, **SMALL[name])
    b = load_builtin(name, seed=3, **SMALL[name])
    c = load_builtin(name, seed=4, **SMALL[name])
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.y_val, b.y_val)
    assert not np.array_equal(a.x_train, c.x_train)


@pytest.mark.parametrize("name", IDS)
@pytest.mark.parametrize("val_fraction", [0.0, 0.1, 0.5])
def test_split_sizes(name, val_fraction):
    ds = load_builtin(name, val_fraction=val_fraction, **SMALL[name])
    total = 1797 if name == "digits" else 200
    assert ds.num_train + ds.num_val == total
    assert abs(ds.num_val - val_fraction * total) <= ds.num_outputs + 1  # per-class rounding
    assert ds.options["val_fraction"] == val_fraction


def test_digits_are_the_real_scikit_learn_digits():
    ds = load_builtin("digits")
    assert ds.num_train + ds.num_val == 1797 and ds.num_outputs == 10
    assert ds.x_train.max() == 1.0  # 0..16 pixel values scaled to 0..1
    assert ds.class_names == tuple("0123456789")


def test_shapes_generation_is_fast_and_balanced():
    start = time.perf_counter()
    ds = load_builtin("shapes", n_samples=3000, val_fraction=0.0)
    assert time.perf_counter() - start < 1.0
    counts = ds.class_counts()
    assert counts.max() - counts.min() <= 1
    assert {"circle", "square", "triangle", "cross"} <= set(ds.class_names)
    # The classes differ in how much of the picture they cover (not all one blob).
    mean_ink = [ds.x_train[ds.y_train == c].mean() for c in range(ds.num_outputs)]
    assert max(mean_ink) - min(mean_ink) > 0.01


def test_first_symbol_label_is_the_first_step_and_later_steps_are_noise():
    ds = load_builtin("first_symbol", seq_len=12, n_symbols=5, n_samples=500)
    x, y = ds.x_train, ds.y_train
    np.testing.assert_array_equal(x[:, 0], np.eye(5, dtype=np.float32)[y])  # clean one-hot
    assert 0.15 < x[:, 1:].std() < 0.25 and abs(x[:, 1:].mean()) < 0.01
    # Only the first step carries the label.
    assert abs(np.corrcoef(x[:, -1].argmax(axis=1), y)[0, 1]) < 0.1


def test_first_symbol_with_symbol_distractors():
    ds = load_builtin(
        "first_symbol", seq_len=12, n_symbols=5, n_samples=500, distractors="symbols", noise=0.0
    )
    x, y = ds.x_train, ds.y_train
    np.testing.assert_array_equal(x[:, 0].argmax(axis=1), y)
    assert np.allclose(x.sum(axis=2), 1.0)
    later = x[:, 1:].argmax(axis=2)
    # Distractors are uniform, independent of the label: no later step gives the answer.
    assert 0.1 < (later == y[:, None]).mean() < 0.3


def test_adding_target_is_the_sum_of_the_marked_values():
    ds = load_builtin("adding", seq_len=20, n_samples=300)
    x, y = ds.x_train, ds.y_train
    assert (x[:, :, 1].sum(axis=1) == 2).all()
    np.testing.assert_allclose((x[:, :, 0] * x[:, :, 1]).sum(axis=1), y[:, 0], rtol=1e-5)
    assert (x[:, :10, 1].sum(axis=1) == 1).all()  # one marker in each half


def test_sine_target_continues_the_wave():
    ds = load_builtin("sine", seq_len=30, noise=0.0, n_samples=100)
    x, y = ds.x_train[:, :, 0], ds.y_train[:, 0]
    assert np.abs(y).max() <= 1.0 + 1e-6
    # Without noise, the next value is close to the extrapolated last step.
    assert np.abs(y - (2 * x[:, -1] - x[:, -2])).mean() < 0.2


@pytest.mark.parametrize(
    ("name", "option", "value"),
    [("sine", "seq_len", 64), ("adding", "seq_len", 200), ("first_symbol", "seq_len", 100)],
)
def test_sequence_length_option(name, option, value):
    ds = load_builtin(name, n_samples=50, **{option: value})
    assert ds.input_shape[0] == value and ds.options[option] == value


def test_spirals_class_count_option():
    ds = load_builtin("spirals", n_classes=3, n_samples=300)
    assert ds.num_outputs == 3


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"seq_length": 10}, ["no option 'seq_length'", "seq_len"]),
        ({"seq_len": 0}, ["seq_len", "at least"]),
        ({"seq_len": 2.5}, ["seq_len", "whole number"]),
        ({"n_symbols": "four"}, ["n_symbols", "number"]),
    ],
)
def test_bad_options_are_sentences(options, words):
    with pytest.raises(DatasetError) as info:
        load_builtin("first_symbol", **options)
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize("val_fraction", [-0.1, 1.0, 1.5])
def test_bad_val_fraction(val_fraction):
    with pytest.raises(DatasetError, match="validation fraction"):
        load_builtin("moons", val_fraction=val_fraction)


def test_unknown_name_lists_the_builtin_ids():
    with pytest.raises(DatasetError) as info:
        load_dataset("mnist-please")
    for name in BUILTIN:
        assert name in str(info.value)


def test_load_dataset_picks_the_builtin():
    assert load_dataset("moons", n_samples=100).num_train == 80


def test_registry_refuses_duplicates():
    with pytest.raises(ValueError, match="already registered"):
        register(BUILTIN["moons"])


def test_info_lists_options_with_defaults():
    info = BUILTIN["first_symbol"]
    assert isinstance(info, BuiltinInfo)
    assert info.options == {
        "n_samples": 3000,
        "seq_len": 30,
        "n_symbols": 4,
        "noise": 0.2,
        "distractors": "noise",
    }
    assert BUILTIN["adding"].options["seq_len"] == 50
    assert BUILTIN["sine"].options["seq_len"] == 40
    for item in BUILTIN.values():
        assert item.title and item.description and item.id


def test_progress_is_reported_for_builtins():
    seen = []
    load_builtin("circles", n_samples=50, progress=seen.append)
    assert seen[-1] == 1.0
