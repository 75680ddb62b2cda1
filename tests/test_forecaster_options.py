"""The forecaster beyond one step of one column: covariates (--columns), calendar features from
the data's dates, and multi-step horizons, direct and recursive; each at a few epochs on real data."""

import json

import numpy as np
import pytest

from conftest import run_cli
from zoo.checkpoints import load_model

pytestmark = pytest.mark.slow  # forecaster trainings


def quick_run(capsys, tmp_path, *options):
    out = tmp_path / "run"
    code, _, err = run_cli(capsys, "train", "forecaster", "--quick", "--out", out, *options)
    assert code == 0, err
    return out, json.loads((out / "config.json").read_text())["config"]["data"], \
        json.loads((out / "metrics.json").read_text())


def test_direct_horizon_with_covariates_and_calendar(capsys, tmp_path):
    out, data, metrics = quick_run(capsys, tmp_path, "--data", "macrodata", "--columns", "cpi,unemp",
                                   "--horizon", "3")
    assert data["features"] == ["realgdp", "cpi", "unemp", "quarter_sin", "quarter_cos"]
    inputs = np.load(out / "test_inputs.npy")
    assert inputs.shape[1:] == (36, 5)  # the pretrained network's window: it is compared too
    assert np.asarray(load_model(out)(inputs)).shape == (len(inputs), 3)
    assert len(metrics["test"]["rmse_by_step"]) == 3
    assert set(metrics["baselines"]) == {"persistence", "seasonal_naive", "drift", "ets", "theta"}


def test_recursive_horizon_feeds_forecasts_back(capsys, tmp_path):
    out, data, metrics = quick_run(capsys, tmp_path, "--data", "elnino", "--horizon", "4",
                                   "--set", "multi_step=recursive")
    assert data["features"] == ["temperature", "month_sin", "month_cos"] and data["multi_step"] == "recursive"
    inputs = np.load(out / "test_inputs.npy")
    assert np.asarray(load_model(out)(inputs)).shape == (len(inputs), 1)  # one step, rolled forward
    assert len(metrics["test"]["rmse_by_step"]) == 4 and np.isfinite(metrics["test"]["rmse"])


def test_calendar_features_follow_the_dates():
    from zoo.data.series import calendar_features, load_series

    series = load_series("elnino")
    names, values = calendar_features(series.dates, series.frequency)
    assert names == ("month_sin", "month_cos")
    np.testing.assert_allclose(values[0], [0.0, 1.0], atol=1e-12)  # January
    np.testing.assert_allclose(values[12], values[0], atol=1e-12)  # a year later
    assert calendar_features(load_series("sunspots").dates, "YS") == ((), None)  # yearly: no cycle


@pytest.mark.parametrize("options, words", [
    (["--data", "macrodata", "--columns", "cpi", "--set", "multi_step=recursive"], "recursive forecasting"),
    (["--data", "macrodata", "--columns", "nope"], "no column 'nope'"),
    (["--set", "multi_step=sideways"], "unknown multi_step 'sideways'; choose from: direct, recursive"),
    (["--data", "nile", "--horizon", "90"], "too short"),
])
def test_bad_forecasting_options_are_one_line_errors(capsys, tmp_path, options, words):
    code, _, err = run_cli(capsys, "train", "forecaster", "--quick", "--out", tmp_path / "r", *options)
    assert code == 2 and words in err and len(err.strip().splitlines()) == 1, err
