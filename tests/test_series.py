"""A user's CSV: column choice, gaps, and every way it can be bad."""

import warnings

import numpy as np
import pytest

from zoo.data.arrays import read_inputs
from zoo.data.series import DataWarning, infer_season, load_series
from zoo.errors import UserError


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_last_numeric_column_by_default_and_column_option(tmp_path):
    path = write(tmp_path, "date,a,b,note\n2020-01-01,1,10,x\n2020-02-01,2,20,y\n2020-03-01,3,30,z\n")
    series = load_series(str(path))
    assert series.name == "b" and series.values.tolist() == [10, 20, 30]
    assert series.frequency == "MS"
    assert load_series(str(path), "a").values.tolist() == [1, 2, 3]


def test_gaps_are_interpolated_with_a_warning(tmp_path):
    path = write(tmp_path, "v\n1\n\n3\nnan\n5\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        series = load_series(str(path))
    assert series.values.tolist() == [1, 2, 3, 4, 5]
    assert any(issubclass(w.category, DataWarning) and "2 missing" in str(w.message) for w in caught)


@pytest.mark.parametrize("text, message", [
    ("v\n1\nabc\n3\n", "data.csv:3: column 'v' is not numeric: it holds 'abc'"),
    ("", "is empty"),
    ("v\n", "no rows"),
    ("name\nx\ny\n", "no numeric column"),
    ("v\n\n\n", "no rows"),
    ("v,w\n,1\n,2\n", "has no values"),
    ("v\n1\ninf\n", "infinite"),
])
def test_bad_csv_is_a_one_line_user_error(tmp_path, text, message):
    with pytest.raises(UserError, match=message) as error:
        load_series(str(write(tmp_path, text)), "v" if text.startswith("v,w") else None)
    assert "\n" not in str(error.value)


def test_missing_file_and_column(tmp_path):
    with pytest.raises(UserError, match="no such data file"):
        load_series(str(tmp_path / "nope.csv"))
    with pytest.raises(UserError, match="no column 'z'"):
        load_series(str(write(tmp_path, "v\n1\n2\n")), "z")


def test_builtin_series_load_offline():
    sunspots = load_series("sunspots")
    assert len(sunspots.values) == 309 and sunspots.name == "SUNACTIVITY"
    with pytest.warns(DataWarning, match="filled 59 missing"):
        co2 = load_series("co2")  # weekly, with gaps
    assert not np.isnan(co2.values).any()


def test_season_from_frequency_and_autocorrelation():
    assert infer_season(np.arange(50.0), "MS") == (12, "frequency MS")
    assert infer_season(np.arange(50.0), "W-SAT")[0] == 52
    wave = np.sin(2 * np.pi * np.arange(200) / 11)
    assert infer_season(wave) == (11, "autocorrelation peak")
    assert infer_season(np.random.default_rng(0).normal(size=200))[0] == 1


def test_prediction_inputs_shapes_and_errors(tmp_path):
    np.save(tmp_path / "seq.npy", np.arange(6.0))
    assert read_inputs(tmp_path / "seq.npy", 1).shape == (1, 6, 1)
    np.save(tmp_path / "batch.npy", np.zeros((4, 6)))
    assert read_inputs(tmp_path / "batch.npy", 1).shape == (4, 6, 1)
    np.save(tmp_path / "multi.npy", np.zeros((6, 3)))
    assert read_inputs(tmp_path / "multi.npy", 3).shape == (1, 6, 3)
    csv = write(tmp_path, "t,v\n1,5\n2,6\n3,7\n")
    assert read_inputs(csv, 1)[0, :, 0].tolist() == [5, 6, 7]
    np.save(tmp_path / "nan.npy", np.array([1.0, np.nan]))
    with pytest.raises(UserError, match="NaN"):
        read_inputs(tmp_path / "nan.npy", 1)
    np.save(tmp_path / "text.npy", np.array(["a", "b"]))
    with pytest.raises(UserError, match="holds text values"):
        read_inputs(tmp_path / "text.npy", 1)
    with pytest.raises(UserError, match=r"takes \(batch, time, 2\)"):
        read_inputs(tmp_path / "seq.npy", 2)
    with pytest.raises(UserError, match=r"a .npy or .csv file"):  # the archive layouts are the ts-classifier's
        read_inputs(write(tmp_path, "x", "in.txt"), 1)
