"""The Dataset type, the split and normalisation helpers, and check_compatible."""

from __future__ import annotations

import numpy as np
import pytest

from engine.data import Dataset, check_compatible, load_builtin
from engine.data.prepare import scale_images, split_indices, standardise


def _tiny(task="classification", kind="vector", **kw):
    x = np.zeros((4, 3), np.float32)
    y = (
        np.array([0, 1, 1, 2], np.int64)
        if task == "classification"
        else np.zeros((4, 2), np.float32)
    )
    names = ("a", "b", "c") if task == "classification" else None
    fields = dict(
        name="t",
        task=task,
        x_train=x,
        y_train=y,
        x_val=x[:1],
        y_val=y[:1],
        input_kind=kind,
        input_shape=(3,),
        class_names=names,
    )
    return Dataset(**{**fields, **kw})


def test_properties():
    ds = _tiny()
    assert (ds.num_outputs, ds.num_train, ds.num_val) == (3, 4, 1)
    np.testing.assert_array_equal(ds.class_counts("train"), [1, 2, 1])
    np.testing.assert_array_equal(ds.class_counts("val"), [1, 0, 0])
    assert _tiny("regression").num_outputs == 2


def test_is_frozen():
    with pytest.raises(AttributeError):
        _tiny().name = "other"


@pytest.mark.parametrize(
    "bad",
    [
        {"task": "clustering"},
        {"input_kind": "graph"},
        {"input_shape": (4,)},
        {"x_train": np.zeros((4, 3), np.float64)},
        {"y_train": np.zeros(4, np.int32)},
        {"class_names": None},
    ],
)
def test_rejects_inconsistent_fields(bad):
    with pytest.raises(ValueError):
        _tiny(**bad)


def test_stratified_split_keeps_every_class_in_both_splits():
    labels = np.array([0] * 50 + [1] * 5 + [2] * 2)
    train, val = split_indices(len(labels), 0.2, seed=1, labels=labels)
    assert sorted(np.concatenate([train, val])) == list(range(len(labels)))
    for c in range(3):
        assert (labels[train] == c).any() and (labels[val] == c).any()


def test_standardise_uses_train_statistics():
    rng = np.random.default_rng(0)
    train = rng.normal(5, 3, (500, 10, 2)).astype(np.float32)
    val = rng.normal(5, 3, (50, 10, 2)).astype(np.float32) + 100
    s_train, s_val, mean, std = standardise(train, val)
    assert np.allclose(s_train.mean(axis=(0, 1)), 0, atol=1e-4)
    assert s_val.mean() > 20  # not re-centred on its own statistics
    assert mean.shape == std.shape == (2,)


def test_scale_images():
    assert scale_images(np.array([[0, 255]], np.uint8)).max() == 1.0
    assert scale_images(np.array([[0, 65535]], np.uint16)).max() == 1.0
    assert scale_images(np.array([[0, 255]], np.int64)).max() == 1.0  # 8-bit in int64
    assert scale_images(np.array([[-1.0, 3.0]])).tolist() == [[0.0, 1.0]]
    assert scale_images(np.array([[0.2, 0.5]])).dtype == np.float32


def test_check_compatible_messages_name_the_fix():
    ds = load_builtin("digits")
    assert check_compatible(ds, (1, 8, 8), 10) == []
    shape_msg, units_msg = check_compatible(ds, (1, 28, 28), 8)
    assert shape_msg == (
        "The model's input is 1×28×28 but the dataset 'digits' gives 1×8×8 images — "
        "set the Input block to 1×8×8."
    )
    assert units_msg == (
        "The last Dense block has 8 units but 'digits' has 10 classes — set its units to 10."
    )
    assert check_compatible(ds, [1, 8, 8], None) == []


def test_check_compatible_for_sequences_and_regression():
    ds = load_builtin("sine", n_samples=20)
    messages = check_compatible(ds, (20, 1), 4)
    assert "40 steps" in messages[0] and "set the Input block to 40×1" in messages[0]
    assert "predicts 1 value" in messages[1] and "set its units to 1" in messages[1]
