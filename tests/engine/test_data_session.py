"""The dataset session's engine part: which data a model trains on, and the newest load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.data import DatasetError, DatasetSession, DataSource, load_builtin
from engine.data.formats import CSV, IDX, IMAGES, NPZ, SPLIT_PARAMS, detect_format
from engine.model.spec import ModelSpec
from tests.engine._train_fixtures import mlp_spec


def spec_with(dataset, options=None) -> ModelSpec:
    spec = mlp_spec()
    return type(spec)(spec.input, spec.blocks, "m", dataset, dict(options or {}))


def test_a_relative_path_is_read_from_the_model_files_folder(tmp_path):
    source = DataSource.for_model(spec_with("data/x.npz", {"seed": 2}), tmp_path / "m.json")
    assert source.name == "data/x.npz" and source.options == {"seed": 2}
    assert source.location == str(tmp_path / "data" / "x.npz")
    absolute = DataSource.for_model(spec_with(str(tmp_path / "y.npz")), Path("/elsewhere/m.json"))
    assert absolute.location == str(tmp_path / "y.npz")
    # A model never saved has no folder: the path is read as given.
    assert DataSource.for_model(spec_with("x.npz")).location == "x.npz"
    # A built-in id is never a path.
    assert DataSource.for_model(spec_with("moons"), tmp_path / "m.json").location == "moons"
    assert DataSource.for_model(spec_with(None), tmp_path / "m.json") is None


def test_the_specs_options_apply_only_to_the_specs_dataset(tmp_path):
    spec = spec_with("moons", {"n_samples": 50})
    assert DataSource.for_model(spec, name="moons").options == {"n_samples": 50}
    other = DataSource.for_model(spec, tmp_path / "m.json", name="x.npz")
    assert other.options == {} and other.location == "x.npz"  # typed: read from here
    assert DataSource.of("moons", spec).options == {"n_samples": 50}
    assert DataSource.of("spirals", spec).options == {}
    assert DataSource.of("moons", spec, {"n_samples": 9}).options == {"n_samples": 9}
    source = DataSource("moons")
    assert DataSource.of(source, spec) is source


def test_same_data_compares_what_is_read_not_how_it_is_written(tmp_path):
    relative = DataSource("x.npz", {"seed": 1}, tmp_path)
    assert relative.same_data(DataSource(str(tmp_path / "x.npz"), {"seed": 1}))
    assert not relative.same_data(DataSource(str(tmp_path / "x.npz"), {"seed": 2}))
    assert not relative.same_data(None)
    assert relative.with_options(skip_corrupt=True).options == {"seed": 1, "skip_corrupt": True}


def test_a_source_loads_builtins_and_files(tmp_path):
    ds = DataSource("moons", {"n_samples": 40}).load()
    assert ds.num_train + ds.num_val == 40
    np.savez(tmp_path / "p.npz", x=np.ones((10, 3)), y=np.arange(10) % 2)
    assert DataSource("p.npz", {}, tmp_path).load().input_shape == (3,)
    with pytest.raises(DatasetError, match="neither a built-in dataset") as info:
        DataSource("gone.npz", {}, tmp_path).load()
    assert str(tmp_path / "gone.npz") in str(info.value)


def test_only_the_newest_request_is_kept():
    session = DatasetSession()
    first = session.begin(DataSource("moons"))
    second = session.begin(DataSource("spirals"))
    assert session.is_loading and not session.is_current(first)
    assert not session.finish(first, load_builtin("moons", n_samples=20))
    assert session.dataset is None
    data = load_builtin("spirals", n_samples=30)
    assert session.finish(second, data)
    assert not session.is_loading and session.dataset is data
    assert session.dataset_for(DataSource("spirals")) is data
    assert session.dataset_for(DataSource("moons")) is None

    third = session.begin(DataSource("bad"))
    assert session.fail(third, DatasetError("no"))
    assert str(session.error) == "no" and session.dataset is data  # the last good one stays
    assert session.source == DataSource("spirals")


def test_wait_idle_waits_for_every_started_load():
    session = DatasetSession()
    serial = session.begin(DataSource("moons"))
    assert not session.wait_idle(0.01)
    session.returned(serial)
    assert session.wait_idle(0.01)


def test_formats_are_detected_once_from_names(tmp_path):
    (tmp_path / "idx").mkdir()
    (tmp_path / "idx" / "train-images-idx3-ubyte.gz").write_bytes(b"")
    (tmp_path / "pets" / "cat").mkdir(parents=True)
    for name in ("a.npz", "a.CSV", "t10k-labels-idx1-ubyte.gz", "a.bin", "a.png"):
        (tmp_path / name).write_bytes(b"")
    assert detect_format(tmp_path / "idx") is IDX
    assert detect_format(tmp_path / "pets") is IMAGES
    assert detect_format(tmp_path / "t10k-labels-idx1-ubyte.gz") is IDX
    assert detect_format(tmp_path / "a.npz") is NPZ
    assert detect_format(tmp_path / "a.CSV") is CSV
    with pytest.raises(DatasetError, match="not known from its name"):
        detect_format(tmp_path / "a.bin")
    with pytest.raises(DatasetError, match="single image"):
        detect_format(tmp_path / "a.png")
    with pytest.raises(DatasetError, match="does not exist"):
        detect_format(tmp_path / "gone.npz")


def test_every_option_the_panel_offers_is_one_its_loader_accepts(tmp_path):
    """Format options are declared once, as Params; a loader refuses an option it does not
    know, so loading with every offered option at its default proves they agree."""
    from PIL import Image

    np.savez(tmp_path / "a.npz", x=np.ones((10, 3)), y=np.arange(10) % 2)
    (tmp_path / "a.csv").write_text("a,b\n" + "".join(f"{i},{i % 2}\n" for i in range(20)))
    for name in ("cat", "dog"):
        (tmp_path / "pets" / name).mkdir(parents=True)
        for i in range(2):
            Image.new("L", (6, 6), 40 * i).save(tmp_path / "pets" / name / f"{i}.png")
    for path in (tmp_path / "a.npz", tmp_path / "a.csv", tmp_path / "pets"):
        fmt = detect_format(path)
        options = {p.name: p.default for p in (*fmt.params, *SPLIT_PARAMS)}
        assert DataSource(str(path), options).load().num_train > 0, fmt.id
    assert [p.name for p in IDX.params] == ["transpose"]


def test_a_csv_target_typed_as_a_number_is_a_column_number(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b,c\n" + "".join(f"{i},{i % 2},{i * 2}\n" for i in range(20)))
    ds = DataSource(str(path), {"target": "1"}).load()
    assert ds.task == "classification" and ds.input_shape == (2,)


def test_an_option_may_be_not_given_and_text_is_a_kind():
    from engine.model.params import Param, ParamError

    window = CSV.params[1]
    assert window.validate(None) is None and window.validate(5) == 5
    with pytest.raises(ParamError):
        Param("units", "int", 1).validate(None)  # a block's parameter is always given
    assert CSV.params[0].validate("price") == "price"
    with pytest.raises(ParamError, match="text"):
        CSV.params[0].validate(3.5)
