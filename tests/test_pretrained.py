"""The pretrained global forecaster: a union of panels with horizons of their own (NaN targets past
a part's end, skipped by the loss, nothing after a part's end seen), the layers that fit it to
the single-series contract, preset names; and (slow) the released preset forecasting a user's
series with no training, fine-tuning from it, and the single-series recipe choosing it."""

import csv

import numpy as np
import pytest

from conftest import run_cli
from zoo.models.forecaster.panel_data import Panel, UNIONS, read_panel
from zoo.data.windows import SeriesWindows
from zoo.errors import UserError
from zoo.models.forecaster import panel as global_model
from zoo.models.forecaster.pretrained import PRESET, preset_dir

released = pytest.mark.skipif(not (preset_dir() / "model.keras").exists(), reason="no released preset")


def _union(lengths, groups):
    values = [np.arange(1, n + 1, dtype="float64") * 1000 ** k for k, n in enumerate(lengths)]
    return Panel([f"s{k}" for k in range(len(lengths))], values, np.zeros(len(lengths), "int64"), "int", "union",
                 groups=groups)


def test_open_end_windows_have_nan_targets_past_the_series():
    windows = SeriesWindows([np.arange(1.0, 6.0)], [[3, 5]], window=2, horizon=3, open_end=True)
    targets = windows.targets(np.arange(2))
    np.testing.assert_array_equal(targets[0], [4, 5, np.nan])
    assert np.isnan(targets[1]).all() and windows.inputs(np.arange(2))[1, :, 0].tolist() == [4, 5]


def test_pinball_loss_skips_unknown_steps():
    from zoo.models.forecaster.layers import PinballLoss

    loss = PinballLoss([0.5], reduction=None)
    known = np.asarray(loss(np.array([[1.0, 3.0]]), np.array([[[0.0], [0.0]]])))
    unknown = np.asarray(loss(np.array([[1.0, np.nan]]), np.array([[[0.0], [100.0]]])))
    np.testing.assert_allclose(unknown, [0.5 * 1 / 2], rtol=1e-6)  # the NaN step adds nothing
    np.testing.assert_allclose(known, [0.5 * (1 + 3) / 2], rtol=1e-6)


def test_a_union_splits_each_series_on_its_own_horizon_and_sees_nothing_after_a_part():
    panel = _union([40, 60], ["m3-yearly", "m3-monthly"])  # horizons 6 and 18; values 1..40 and 1000..60000
    split = global_model.split_panel(panel, 18, 12, [0.1, 0.5, 0.9])
    assert split.y_test.shape == (2, 18) and split.extra["horizons"].tolist() == [6, 18]
    np.testing.assert_array_equal(split.y_test[0, :6], np.arange(35, 41))
    assert np.isnan(split.y_test[0, 6:]).all() and not np.isnan(split.y_test[1]).any()
    # training targets stop where each series' validation part starts (n - 2 h); NaN after it
    second = split.x_train[:, -1, 0] >= 1000
    assert np.nanmax(split.y_train[~second]) == 40 - 12 and np.nanmax(split.y_train[second]) == (60 - 36) * 1000
    assert np.isnan(split.y_train[~second]).any() and split.info["panels"] == {"m3-yearly": 1, "m3-monthly": 1}
    np.testing.assert_array_equal(split.y_val[0, :6], np.arange(29, 35))  # validation: the 6 before the test part


def test_a_union_scores_each_panel_on_its_horizon(monkeypatch):
    from zoo.models.forecaster import competition

    def fake(histories, horizon, season, names=(), level=0.8):
        point = np.stack([np.full(horizon, h[-1]) for h in histories])
        return {name: (point, point - 1, point + 1, 0.0) for name in names}

    monkeypatch.setattr(competition, "statsforecast_baselines", fake)
    panel = _union([40, 60], ["m3-yearly", "m3-monthly"])
    split = global_model.split_panel(panel, 18, 36, [0.1, 0.5, 0.9])
    perfect = np.repeat(np.nan_to_num(split.y_test)[:, :, None], 3, axis=2)
    metrics = global_model.evaluate(perfect, split, split.info, baselines="naive")
    assert metrics["test"]["smape"] == 0 and metrics["test"]["series"] == 2
    assert set(metrics["by_panel"]) == {"m3-yearly", "m3-monthly"}
    assert metrics["by_panel"]["m3-yearly"]["naive"]["series"] == 1 and metrics["baselines"]["naive"]["smape"] > 0


def test_the_bundled_union_holds_every_m1_and_m3_panel():
    from zoo.models.forecaster.panel_data import bundled_horizon

    assert set(UNIONS["m1+m3"]) == {"m3-yearly", "m3-quarterly", "m3-monthly", "m3-other", "m1-yearly",
                                    "m1-quarterly", "m1-monthly"}
    assert bundled_horizon("m1+m3") == 18 and bundled_horizon("m3-other") == 8
    assert _union([40, 60], ["m3-yearly", "m3-quarterly"]).default_horizon() == 8


def test_fixed_window_pads_or_cuts_the_target_and_point_forecast_averages_members():
    from zoo.models.forecaster.layers import FixedWindow, PointForecast

    window = np.arange(1.0, 7.0, dtype="float32").reshape(2, 3, 1).repeat(2, axis=2)  # two features
    np.testing.assert_array_equal(np.asarray(FixedWindow(5)(window))[:, :, 0], [[1, 1, 1, 2, 3], [4, 4, 4, 5, 6]])
    np.testing.assert_array_equal(np.asarray(FixedWindow(2)(window))[:, :, 0], [[2, 3], [5, 6]])
    forecasts = np.arange(2 * 3 * 3 * 2, dtype="float32").reshape(2, 3, 3, 2)  # (B, H, Q, K)
    point = np.asarray(PointForecast(2, 1)(forecasts))
    np.testing.assert_allclose(point, forecasts[:, :2, 1, :].mean(axis=-1))


def test_a_value_only_file_without_a_header_is_all_data(tmp_path):
    path = tmp_path / "values.csv"
    path.write_text("5\n6\n7\n")
    panel = read_panel(path)
    assert [v.tolist() for v in panel.values] == [[5, 6, 7]]


def test_an_unknown_preset_is_one_line(capsys):
    code, _, err = run_cli(capsys, "predict", "forecaster.nope", "--input", "x.csv")
    assert code == 2 and "model 'forecaster' has no released preset 'nope'" in err


@released
@pytest.mark.slow
def test_a_users_single_series_is_forecast_with_no_training(capsys, tmp_path):
    path = tmp_path / "series.csv"
    path.write_text("sales\n" + "\n".join(str(100 + 10 * np.sin(k / 2) + k) for k in range(60)) + "\n")
    code, out, err = run_cli(capsys, "predict", "forecaster", "--input", path, "--horizon", "4")
    assert code == 0, err
    assert PRESET in err
    rows = list(csv.reader(out.splitlines()))
    assert rows[0] == ["unique_id", "ds", "lo-80", "y_hat", "hi-80"] and [r[1] for r in rows[1:]] == ["60", "61", "62", "63"]
    values = np.array([[float(v) for v in r[2:]] for r in rows[1:]])
    assert (np.diff(values, axis=1) >= 0).all() and 120 < values[0, 1] < 200
    code, _, err = run_cli(capsys, "predict", "forecaster", "--input", path, "--horizon", "40")
    assert code == 2 and "forecasts 1 to 18 steps ahead, not 40" in err
    panel = tmp_path / "panel.csv"  # a long-format history needs no --horizon: all 18 steps of every series
    panel.write_text("unique_id,ds,y\n" + "".join(f"{s},2020-{m:02d}-01,{10 * k + m}\n" for k, s in enumerate("ab")
                                                   for m in range(1, 13)))
    code, out, err = run_cli(capsys, "predict", "forecaster", "--input", panel)
    rows = list(csv.reader(out.splitlines()))
    assert code == 0 and len(rows) == 1 + 2 * 18 and rows[1][:2] == ["a", "2021-01-01"], err


@released
@pytest.mark.slow
def test_a_single_series_forecaster_built_on_the_preset_trains_and_exports(capsys, tmp_path):
    import json

    path = tmp_path / "series.csv"
    path.write_text("value\n" + "\n".join(str(50 + 5 * np.sin(k * 2 * np.pi / 12) + 0.3 * k) for k in range(120)))
    code, _, err = run_cli(capsys, "train", "forecaster", "--data", path, "--quick", "--set", "base=pretrained",
                           "--horizon", "3", "--out", tmp_path / "run")
    assert code == 0, err
    config = json.loads((tmp_path / "run" / "config.json").read_text())["config"]
    assert config["base"] == "pretrained" and config["pretrained_network"]["preset"] == PRESET
    code, _, err = run_cli(capsys, "export", tmp_path / "run", "--out", tmp_path / "export", "--format", "onnx,tflite")
    assert code == 0, err
    report = json.loads((tmp_path / "export" / "report.json").read_text())
    assert report["ok"] and set(report["formats"]) == {"onnx", "tflite"}


@released
@pytest.mark.slow
def test_a_panel_fine_tunes_from_the_preset(capsys, tmp_path):
    from test_panel import _synthetic_panel

    path = _synthetic_panel(tmp_path / "panel.csv")
    code, _, err = run_cli(capsys, "train", "forecaster", "--data", path, "--init", PRESET, "--epochs", "1",
                           "--set", "baselines=naive", "--out", tmp_path / "run")
    assert code == 0, err
    assert "init from forecaster.m1m3: copied" in err


@released
@pytest.mark.slow
def test_the_single_series_benchmark_writes_rows_and_its_summary(tmp_path):
    import json

    from benchmarks.single_series import collect, main

    series = collect()
    assert len(series) == 29 and {f for f, _ in series.values()} == {"M", "Q"}
    main(["--only", "danish-ibo", "--quick", "--out", str(tmp_path / "s.json"), "--work", str(tmp_path)])
    results = json.loads((tmp_path / "s.json").read_text())
    row = results["rows"]["with"][0]
    assert row["name"] == "danish-ibo" and row["values"] == 55 and row["ets"] > 0 and row["rmse"] > 0
    assert results["summary"]["with"]["series"] == 1


def test_the_simplest_candidate_within_one_standard_error_is_shipped():
    from zoo.models.forecaster import simplest_within_one_se

    rng = np.random.default_rng(0)
    noisy, other = rng.normal(0, 1, 12) ** 2, rng.normal(0, 1, 12) ** 2
    lucky = other * 0.9 * noisy.mean() / other.mean()
    # a fitted network 10% better than the naive forecast on a dozen points, by chance: the naive one ships
    assert simplest_within_one_se([noisy, lucky], [0, 2]) == 0
    # ... but not one that is better at every point by far
    assert simplest_within_one_se([noisy + 1, noisy * 0.2], [0, 2]) == 1
    # among equals in complexity, the lowest error; the pretrained network as released before fitted ones
    released = other * 1.02 * noisy.mean() / other.mean()
    assert simplest_within_one_se([noisy + 5, released, noisy, noisy * 1.01], [0, 1, 2, 2]) == 1
    assert simplest_within_one_se([noisy + 5, released + 5, noisy * 1.01, noisy], [0, 1, 2, 2]) == 3
