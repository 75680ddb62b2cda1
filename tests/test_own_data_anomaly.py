"""anomaly on a user's CSV: labelled or not, one or several value columns, a time column that
orders the rows; aeon's other bundled anomaly series by name; every bad file a one-line error
naming the file (and the line) before any training starts."""

import json

import numpy as np
import pandas as pd
import pytest

from conftest import run_cli

ROWS = 1200


def sine_frame(rows=ROWS, spike_at=900):
    """A noisy sine with a spike of 5 steps in the test part, labelled 1, and hourly timestamps."""
    steps = np.arange(rows)
    values = np.sin(2 * np.pi * steps / 50) + 0.05 * np.random.default_rng(0).normal(size=rows)
    labels = np.zeros(rows, dtype=int)
    values[spike_at:spike_at + 5] += 4.0
    labels[spike_at:spike_at + 5] = 1
    times = pd.date_range("2024-01-01", periods=rows, freq="h").strftime("%Y-%m-%d %H:%M")
    return pd.DataFrame({"timestamp": times, "value": values, "is_anomaly": labels})


def write(tmp_path, frame, name="data.csv", index=False):
    path = tmp_path / name
    frame.to_csv(path, index=index)
    return path


def train(capsys, tmp_path, path, *options):
    out = tmp_path / "run"
    code, _, err = run_cli(capsys, "train", "anomaly", "--data", path, "--quick", "--out", out, *options)
    assert code == 0, err
    return out, json.loads((out / "metrics.json").read_text()), err


def load_data(path, **options):
    from zoo.models.anomaly import AnomalyAutoencoder

    recipe = AnomalyAutoencoder()
    return recipe.load_data(recipe.config(), data=str(path), **options)


@pytest.mark.slow
def test_labelled_csv_trains_next_to_the_baseline_and_writes_scores(capsys, tmp_path):
    out, metrics, _ = train(capsys, tmp_path, write(tmp_path, sine_frame()))
    assert 0.0 <= metrics["test"]["roc_auc"] <= 1.0
    assert 0.0 <= metrics["baselines"]["rolling_zscore"]["roc_auc"] <= 1.0
    scores = pd.read_csv(out / "scores.csv")
    assert list(scores.columns) == ["step", "time", "score", "rolling_zscore", "is_anomaly"]
    assert len(scores) == ROWS - int(ROWS * 0.3) and scores["step"].iloc[0] == int(ROWS * 0.3)
    assert scores["is_anomaly"].sum() == 5 and scores["time"].iloc[0] == "2024-01-16 00:00"
    data = json.loads((out / "config.json").read_text())["config"]["data"]
    assert data["columns"] == ["value"] and data["anomalous_steps"] == 5


@pytest.mark.slow
def test_unlabelled_multivariate_csv_reports_no_roc_auc(capsys, tmp_path):
    frame = sine_frame().drop(columns=["is_anomaly", "timestamp"])
    frame["other"] = np.cos(np.arange(ROWS) / 7)
    frame["comment"] = "text columns are not inputs"
    out, metrics, err = train(capsys, tmp_path, write(tmp_path, frame))
    assert metrics["test"]["roc_auc"] is None and "no is_anomaly column" in metrics["test"]["note"]
    assert metrics["baselines"]["rolling_zscore"]["roc_auc"] is None
    assert np.isfinite(metrics["test"]["score_max"]) and "score_p99" in metrics["baselines"]["rolling_zscore"]
    assert "warning:" in err and "no ROC-AUC" in err
    assert json.loads((out / "config.json").read_text())["config"]["data"]["columns"] == ["value", "other"]
    assert list(pd.read_csv(out / "scores.csv").columns) == ["step", "score", "rolling_zscore"]


@pytest.mark.slow
def test_multivariate_inputs_columns_option_and_anomalies_in_training(tmp_path):
    frame = sine_frame()
    frame.insert(2, "load", np.cos(np.arange(ROWS) / 7))
    frame.loc[100:102, "is_anomaly"] = 1  # in the training part: its windows are dropped
    path = write(tmp_path, frame, index=True)  # pandas' index: a column with no header, not an input
    split = load_data(path)
    assert split.x_train.shape[1:] == (64, 2) and split.info["columns"] == ["value", "load"]
    assert "overlap labelled anomalies and were dropped" in split.info["split"]
    clean = load_data(write(tmp_path, sine_frame(), "clean.csv"))
    assert len(split.x_train) + len(split.x_val) < len(clean.x_train) + len(clean.x_val)
    assert load_data(path, columns="load").info["columns"] == ["load"]
    assert load_data(path, column="value", columns="load").info["columns"] == ["value", "load"]


def test_unsorted_dates_are_sorted_with_a_warning(tmp_path):
    from zoo.data.series import DataWarning

    frame = sine_frame()
    path = write(tmp_path, frame.sample(frac=1.0, random_state=0))
    with pytest.warns(DataWarning, match="not in 'timestamp' order"):
        shuffled = load_data(path)
    in_order = load_data(write(tmp_path, frame, "ordered.csv"))
    np.testing.assert_array_equal(shuffled.x_test, in_order.x_test)
    np.testing.assert_array_equal(shuffled.y_test, in_order.y_test)


def test_other_bundled_series_load_offline():
    from zoo.models.anomaly.data import load

    ecg = load("ecg-diff-count-3")
    assert ecg.columns == ["value-0"] and ecg.labels.sum() > 0 and ecg.train_labels.sum() == 0
    daphnet = load("daphnet_s06r02e0")  # names are case-insensitive
    assert len(daphnet.columns) == 9 and daphnet.source == "Daphnet_S06R02E0"
    assert daphnet.labels.sum() == 0  # aeon's excerpt has no labelled freeze: no ROC-AUC, said so


#: file contents -> the words its one-line error must hold (after the file's name)
BAD_CONTENTS = {
    "empty": ("", "is empty"),
    "header only": ("value,is_anomaly\n", "has a header but no rows"),
    "no numeric column": ("name\na\nb\n", "has no numeric column"),
    "label not 0/1": ("value,is_anomaly\n1,0\n2,0\n3,2\n", "data.csv:4: is_anomaly must be 0 or 1, not '2'"),
    "empty label": ("value,is_anomaly\n1,0\n2,\n", "data.csv:3: is_anomaly must be 0 or 1, not an empty cell"),
    "empty column": ("value,spare\n1,\n2,\n", "column 'spare' of"),
    "text value": ("value\n1\n2\nabc\n4\n", "data.csv:4: column 'value' holds 'abc', not a number"),
    "long text value": ("value\n1\n2\n3\n" + "x" * 500 + "\n", "data.csv:5: column 'value' holds 'xxx"),
    "infinite value": ("value\n1\ninf\n", "data.csv:3: column 'value' holds an infinite value"),
    "too short": ("value\n" + "1\n2\n" * 50, "100 rows are too few for window 64: need at least 854 rows"),
    "not utf-8": (b"value\n1\n2\n\xff\xfe\n", "data.csv:4: byte 0xff is not UTF-8"),
    "duplicated date": ("date,value\n2024-01-01,1\n2024-01-02,2\n2024-01-02,3\n",
                        "data.csv:4: date '2024-01-02' repeats line 3"),
    "bad date": ("timestamp,value\n2024-01-01,1\nsoon,2\n", "data.csv:3: column 'timestamp' holds 'soon'"),
}


def assert_one_line_error(capsys, tmp_path, path, words):
    out = tmp_path / "out" / "run"
    code, _, err = run_cli(capsys, "train", "anomaly", "--data", path, "--quick", "--out", out)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), err
    assert words in err and str(path) in err and len(lines[0]) < 300, err
    assert not out.exists()  # failed before the run directory was made


@pytest.mark.parametrize("case", BAD_CONTENTS)
def test_bad_files_are_one_line_errors_before_training(capsys, tmp_path, case):
    contents, words = BAD_CONTENTS[case]
    path = tmp_path / "data.csv"
    path.write_bytes(contents if isinstance(contents, bytes) else contents.encode())
    assert_one_line_error(capsys, tmp_path, path, words)


def test_missing_file_and_directory_are_one_line_errors(capsys, tmp_path):
    assert_one_line_error(capsys, tmp_path, tmp_path / "nope.csv", "no such data set or file")
    assert_one_line_error(capsys, tmp_path, tmp_path, "is a directory")


def test_anomalous_training_part_bad_columns_and_fractions_are_errors(tmp_path):
    from zoo.models.anomaly import AnomalyAutoencoder
    from zoo.errors import UserError

    frame = sine_frame()
    frame.loc[:400, "is_anomaly"] = 1
    with pytest.raises(UserError, match="free of labelled anomalies"):
        load_data(write(tmp_path, frame))
    path = write(tmp_path, sine_frame(), "ok.csv")
    with pytest.raises(UserError, match="has no column 'nope'"):
        load_data(path, columns="nope")
    with pytest.raises(UserError, match="is the label column"):
        load_data(path, columns="is_anomaly")
    recipe = AnomalyAutoencoder()
    with pytest.raises(UserError, match="option train_fraction: 0 is out of range"):
        recipe.load_data(recipe.config(train_fraction=0), data=str(path))
