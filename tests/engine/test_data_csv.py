"""CSV files: tabular classification/regression and time-series windows; bad CSV."""

from __future__ import annotations

import numpy as np
import pytest

from engine.data import DatasetError, load_file, resources


def write(tmp_path, text, name="table.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def iris_like(n=60):
    rows = ["sepal,petal,width,species"]
    for i in range(n):
        rows.append(
            f"{i % 7 + 0.5},{i % 5 * 1.5},{i % 3},{['setosa', 'virginica', 'other'][i % 3]}"
        )
    return "\n".join(rows) + "\n"


def test_tabular_classification_with_word_labels(tmp_path):
    ds = load_file(write(tmp_path, iris_like()))
    assert ds.task == "classification" and ds.input_kind == "vector"
    assert ds.input_shape == (3,) and ds.class_names == ("other", "setosa", "virginica")
    assert ds.num_train + ds.num_val == 60 and (ds.class_counts("val") > 0).all()
    assert np.allclose(ds.x_train.mean(axis=0), 0, atol=1e-5)  # standardised on train


def test_tabular_integer_target_is_classes_float_target_is_regression(tmp_path):
    rows = ["a,b,label,price"] + [f"{i},{i * 2 % 7},{i % 4},{i * 1.25 + 3}" for i in range(40)]
    path = write(tmp_path, "\n".join(rows))
    ds = load_file(path, target="label", features=["a", "b"])
    assert ds.task == "classification" and ds.class_names == ("0", "1", "2", "3")
    reg = load_file(path, target="price", val_fraction=0.0)
    assert reg.task == "regression" and reg.input_shape == (3,) and reg.num_outputs == 1
    np.testing.assert_allclose(
        np.sort(reg.denormalise_y(reg.y_train)[:, 0]), [i * 1.25 + 3 for i in range(40)], rtol=1e-5
    )
    forced = load_file(path, target="label", task="regression")
    assert forced.task == "regression"


def test_target_by_index_without_header_and_semicolons(tmp_path):
    path = write(tmp_path, "\n".join(f"{i};{i % 2};{i * 0.5}" for i in range(30)))
    ds = load_file(path, target=1)
    assert ds.task == "classification" and ds.input_shape == (2,)
    assert ds.options["target"] == 1


def test_time_series_windows(tmp_path):
    t = np.arange(100)
    rows = ["date,temp,rain"] + [f"2024-01-{i:03d},{v},{v * 10}" for i, v in zip(t, t, strict=True)]
    path = write(tmp_path, "\n".join(rows), "weather.csv")
    ds = load_file(path, window=10, columns=["temp"], val_fraction=0.2, normalise=False)
    assert ds.task == "forecast" and ds.input_kind == "sequence"
    assert ds.input_shape == (10, 1) and ds.num_train + ds.num_val == 90
    # Each target is the value right after its window, and validation is the later part.
    np.testing.assert_array_equal(ds.x_train[0, :, 0], np.arange(10))
    assert ds.y_train[0, 0] == 10 and ds.y_val[-1, 0] == 99
    assert ds.y_train[:, 0].max() < ds.y_val[:, 0].min()
    both = load_file(path, window=5, horizon=3, target="rain")
    assert both.input_shape == (5, 2) and both.num_outputs == 1  # date column skipped
    restored = both.denormalise_y(both.y_train[:1])[0, 0]
    assert restored == pytest.approx(both.denormalise_y(both.y_train)[0, 0])
    assert restored == pytest.approx((0 + 5 + 3 - 1) * 10, rel=1e-5)


def test_series_progress_and_layout_option(tmp_path):
    path = write(tmp_path, "v\n" + "\n".join(str(np.sin(i / 5)) for i in range(2000)))
    seen = []
    ds = load_file(path, layout="series", progress=seen.append)
    assert ds.input_shape == (20, 1)  # default window
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen) and len(seen) > 5


# ----- bad input -------------------------------------------------------------------------


def test_missing_and_empty(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        load_file(tmp_path / "none.csv")
    with pytest.raises(DatasetError, match="is empty"):
        load_file(write(tmp_path, ""))
    with pytest.raises(DatasetError, match="no rows"):
        load_file(write(tmp_path, "\n\n  \n"))
    with pytest.raises(DatasetError, match="header line but no data"):
        load_file(write(tmp_path, "a,b,c\n"))


def test_ragged_line_is_named(tmp_path):
    path = write(tmp_path, "a,b,c\n1,2,3\n4,5,6\n7,8\n9,10,11\n")
    with pytest.raises(DatasetError, match="Line 4 of .* has 2 values but the file has 3"):
        load_file(path)


def test_non_numeric_value_names_line_and_column(tmp_path):
    path = write(tmp_path, "age,height,label\n30,1.8,a\n41,tall,b\n")
    with pytest.raises(DatasetError) as info:
        load_file(path)
    message = str(info.value)
    assert "Line 3, column 'height'" in message and "'tall', which is not a number" in message
    assert info.value.path == str(path)


def test_empty_cell(tmp_path):
    path = write(tmp_path, "a,b,label\n1,2,x\n3,,y\n")
    with pytest.raises(DatasetError, match="Line 3, column 'b' .* is empty"):
        load_file(path)


@pytest.mark.parametrize("bad", ["nan", "inf", "-Infinity"])
def test_nan_and_inf(tmp_path, bad):
    path = write(tmp_path, f"a,b,label\n1,2,0\n3,{bad},1\n")
    with pytest.raises(DatasetError, match="Line 3, column 'b' .* finite numbers"):
        load_file(path)


def test_regression_target_that_is_not_a_number(tmp_path):
    path = write(tmp_path, "a,price\n1,2.5\n2,cheap\n")
    with pytest.raises(DatasetError, match="Line 3, column 'price'"):
        load_file(path, task="regression")


def test_unknown_column(tmp_path):
    with pytest.raises(DatasetError, match="no column 'colour'. Its columns are 'sepal'"):
        load_file(write(tmp_path, iris_like()), target="colour")


def test_binary_file_with_csv_name(tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe")
    with pytest.raises(DatasetError, match="not a text CSV file"):
        load_file(path)


def test_series_too_short_for_window(tmp_path):
    path = write(tmp_path, "v\n1\n2\n3\n4\n")
    with pytest.raises(DatasetError, match="4 data lines, too few for windows of 10"):
        load_file(path, window=10)


@pytest.mark.parametrize(("option", "value"), [("window", 0), ("horizon", -1), ("window", 2.5)])
def test_bad_series_options(tmp_path, option, value):
    path = write(tmp_path, "v\n" + "\n".join(map(str, range(30))))
    with pytest.raises(DatasetError, match=f"Option '{option}' must be a whole number"):
        load_file(path, layout="series", **{option: value})


def test_too_large_for_memory(tmp_path, monkeypatch):
    monkeypatch.setattr(resources, "available_memory", lambda: 1000)
    with pytest.raises(DatasetError, match="would need about"):
        load_file(write(tmp_path, iris_like()))


def test_unknown_option(tmp_path):
    with pytest.raises(DatasetError, match="Option 'size' does not apply to CSV"):
        load_file(write(tmp_path, iris_like()), size=28)


def counts_layout(n=30, features=4, names=("setosa", "versicolor", "virginica")):
    """scikit-learn's layout (iris.csv, wine_data.csv, breast_cancer.csv): a first line of
    the sample count, the feature count and the class names, then headerless numbers with
    the class number last."""
    rng = np.random.default_rng(1)
    lines = [",".join([str(n), str(features), *names])]
    for i in range(n):
        values = [f"{v:.2f}" for v in rng.normal(size=features)]
        lines.append(",".join([*values, str(i % len(names))]))
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("features", "names"),
    [
        (4, ("setosa", "versicolor", "virginica")),  # iris.csv: as wide as its data lines
        (13, ("class_0", "class_1", "class_2")),  # wine_data.csv: narrower
        (30, ("malignant", "benign")),  # breast_cancer.csv
    ],
)
def test_counts_line_is_detected(tmp_path, features, names):
    ds = load_file(write(tmp_path, counts_layout(30, features, names)), val_fraction=0.2)
    assert ds.input_shape == (features,) and ds.task == "classification"
    assert ds.class_names == names
    assert ds.num_train + ds.num_val == 30  # no line lost as a header


def test_scikit_learn_iris_file_reads_as_shipped():
    from importlib.resources import files

    path = files("sklearn.datasets") / "data" / "iris.csv"
    ds = load_file(str(path))
    assert ds.input_shape == (4,) and ds.class_names == ("setosa", "versicolor", "virginica")
    assert ds.num_train + ds.num_val == 150


def test_skip_rows_option(tmp_path):
    text = "# exported by a lab instrument\n# units: cm\nlength,width,kind\n"
    text += "".join(f"{i},{i % 4},{'ab'[i % 2]}\n" for i in range(20))
    path = write(tmp_path, text)
    with pytest.raises(DatasetError, match="no input columns besides the target '# exported"):
        load_file(path)  # without skipping, the first comment is read as a header
    ds = load_file(path, skip_rows=2)
    assert ds.input_shape == (2,) and ds.class_names == ("a", "b")
    assert ds.num_train + ds.num_val == 20


def test_skip_rows_turns_detection_off_and_counts_lines(tmp_path):
    path = write(tmp_path, counts_layout(20))
    # Told to skip nothing, the counts line is the header (and the names become columns).
    ds = load_file(path, skip_rows=0, target="virginica")
    assert ds.num_train + ds.num_val == 20 and ds.class_names == ("0", "1", "2")
    text = counts_layout(20).splitlines()
    text[5] = "1,2,3,4,oops"  # line 6 of the file
    bad = write(tmp_path, "\n".join(text) + "\n", "bad.csv")
    # Lines are numbered as in the file, skipped lines included.
    with pytest.raises(DatasetError, match="Line 6, column 'column 5' of .* holds 'oops'"):
        load_file(bad, skip_rows=1, task="regression")


@pytest.mark.parametrize("value", [-1, 1.5, "two"])
def test_skip_rows_must_be_a_count(tmp_path, value):
    with pytest.raises(DatasetError, match="Option 'skip_rows' must be a whole number"):
        load_file(write(tmp_path, iris_like()), skip_rows=value)


def test_skipping_every_line(tmp_path):
    with pytest.raises(DatasetError, match="has no rows after the 61 skipped lines"):
        load_file(write(tmp_path, iris_like()), skip_rows=61)


def test_numbers_only_first_line_is_data_not_counts(tmp_path):
    # "5,3,1,0,2" starts with two whole numbers but names no classes: it is a sample.
    text = "".join(f"{i % 6},{i % 3},{i % 2},{i % 5},{i % 3}\n" for i in range(5, 35))
    ds = load_file(write(tmp_path, text))
    assert ds.num_train + ds.num_val == 30


def test_series_windows_are_counted_before_they_are_made(tmp_path, monkeypatch):
    # 4,000 lines of 2 columns (64 KB as numbers) in windows of 1,000 lines: 24 MB of windows.
    text = "a,b\n" + "".join(f"{i},{i * 2}\n" for i in range(4000))
    path = write(tmp_path, text, "series.csv")
    monkeypatch.setattr(resources, "available_memory", lambda: 40_000_000)
    with pytest.raises(DatasetError, match="Windows of 1000 lines in .* would need about"):
        load_file(path, window=1000)
    assert load_file(path, window=10).input_shape == (10, 2)
