"""Predict takes what train takes, and refuses what the model cannot take before any runtime sees
it: the same words from the CLI and ``zoo.load(...).predict``, in every runtime."""

import io
import json
import re

import numpy as np
import pytest

from conftest import run_cli
from zoo.errors import UserError


@pytest.fixture(scope="module")
def gunpoint(tmp_path_factory):
    """Five GunPoint test series in the layouts a UCR user has: a CSV with a label column, the
    archive's .tsv, aeon's .ts, a header-less CSV of rows."""
    from aeon.datasets import load_classification

    x, y = load_classification("GunPoint", split="test")
    x, y = x[:5, 0, :], y[:5]
    root = tmp_path_factory.mktemp("gunpoint")
    header = ",".join(f"t{k}" for k in range(x.shape[1])) + ",label\n"
    (root / "X_TEST.csv").write_text(header + "".join(",".join(f"{v:.6f}" for v in row) + f",{label}\n"
                                                      for row, label in zip(x, y)))
    (root / "test.tsv").write_text("".join(f"{label}\t" + "\t".join(f"{v:.6f}" for v in row) + "\n"
                                           for row, label in zip(x, y)))
    np.savetxt(root / "rows.csv", x, delimiter=",", fmt="%.6f")
    return root, x


@pytest.mark.parametrize("name", ["X_TEST.csv", "test.tsv", "rows.csv"])
def test_a_file_of_many_series_is_a_batch(capsys, gunpoint, name):
    root, x = gunpoint
    code, out, err = run_cli(capsys, "predict", "ts-classifier", "--input", root / name)
    assert code == 0, err
    assert len(out.strip().splitlines()) == len(x)  # one row per series, not one from the last column
    code, reference, _ = run_cli(capsys, "predict", "ts-classifier", "--input", root / "X_TEST.csv")
    assert out == reference


def test_load_predict_checks_what_the_runtimes_would_choke_on():
    import zoo

    classifier = zoo.load("ts-classifier")
    probabilities = classifier.predict(np.random.default_rng(0).normal(size=(2, 150)))  # float64, (B, T)
    assert probabilities.shape == (2, 2)
    for bad, message in [([], "holds no values"), (np.full((1, 150), np.nan), "NaN"),
                         (np.zeros((1, 3, 1)), r"has 3 time step\(s\) .* the model takes 150: \(batch, 150, 1\)"),
                         (np.zeros((1, 150, 2)), r"the model takes \(batch, 150, 1\)"),
                         ([[1, 2], [3]], "not a rectangular array"), (np.array(["a"]), "holds text values")]:
        with pytest.raises(UserError, match=message):
            classifier.predict(bad)


def test_a_forecaster_reads_a_history_from_its_last_window_and_refuses_a_short_one(capsys, tmp_path):
    history = 50 + 40 * np.sin(np.arange(60) / 1.7)
    np.save(tmp_path / "history.npy", history)
    np.save(tmp_path / "window.npy", history[-24:])
    np.save(tmp_path / "short.npy", history[:3])
    _, from_history, _ = run_cli(capsys, "predict", "forecaster", "--input", tmp_path / "history.npy")
    _, from_window, _ = run_cli(capsys, "predict", "forecaster", "--input", tmp_path / "window.npy")
    assert from_history == from_window and len(from_history.split()) == 1
    code, _, err = run_cli(capsys, "predict", "forecaster", "--input", tmp_path / "short.npy")
    assert code == 2 and "has 3 time step(s)" in err and "takes at least 24" in err


def test_a_headerless_table_of_windows_is_one_sequence_per_row(capsys, tmp_path):
    windows = 50 + 40 * np.sin(np.arange(72).reshape(3, 24) / 1.7)
    np.savetxt(tmp_path / "windows.csv", windows, delimiter=",", fmt="%.4f")
    code, out, err = run_cli(capsys, "predict", "forecaster", "--input", tmp_path / "windows.csv")
    assert code == 0, err
    assert len(out.split()) == 3  # a forecast per row, not one from the last column


def test_texts_from_a_file_or_standard_input(capsys, tmp_path, monkeypatch):
    texts = ["The striker scored twice as the club won the cup final.", "Shares fell after the bank's report."]
    (tmp_path / "texts.txt").write_text("\n".join(texts) + "\n\n")
    (tmp_path / "texts.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    (tmp_path / "texts.csv").write_text("id,text\n" + "".join(f'{k},"{t}"\n' for k, t in enumerate(texts)))
    _, expected, _ = run_cli(capsys, "predict", "text-classifier", *[a for t in texts for a in ("--text", t)])
    for name in ("texts.txt", "texts.jsonl", "texts.csv"):
        code, out, err = run_cli(capsys, "predict", "text-classifier", "--input", tmp_path / name)
        assert code == 0 and out == expected, (name, err)
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(texts)))
    code, out, err = run_cli(capsys, "predict", "text-classifier", "--input", "-")
    assert code == 0 and out == expected, err
    (tmp_path / "empty.txt").write_text("\n \n")
    code, _, err = run_cli(capsys, "predict", "text-classifier", "--input", tmp_path / "empty.txt")
    assert code == 2 and err.startswith("error: ") and "holds no text" in err


@pytest.mark.slow
def test_every_runtime_refuses_the_same_bad_inputs(tmp_path, capsys):
    """Token ids beyond the vocabulary and wrong lengths used to raise in ONNX Runtime and LiteRT."""
    from zoo.export.formats import parse_formats
    from zoo.export.pipeline import export_checkpoint

    for name, bad, message in [("text-classifier", np.array([[5, 999_999]]), "holds token id 999999"),
                               ("ts-classifier", np.zeros(3), r"has 3 time step\(s\)"),
                               ("anomaly", np.zeros((1, 10, 1)), r"has 10 time step\(s\)")]:
        export = tmp_path / name
        export_checkpoint(name, export, parse_formats("savedmodel,tflite,onnx"), evaluate=False)
        capsys.readouterr()  # the export's progress lines
        np.save(tmp_path / "bad.npy", bad)
        for artifact in (name, export, export / "model.onnx", export / "model.tflite", export / "saved_model"):
            code, _, err = run_cli(capsys, "predict", artifact, "--input", tmp_path / "bad.npy")
            assert code == 2 and len(err.strip().splitlines()) == 1 and re.search(message, err), (artifact, err)


@pytest.mark.slow
def test_running_a_finished_run_again_succeeds_without_training(tmp_path, capsys):
    run = tmp_path / "run"
    code, first, err = run_cli(capsys, "train", "forecaster", "--quick", "--out", run)
    assert code == 0, err
    stamp = (run / "model.keras").stat().st_mtime_ns
    code, again, err = run_cli(capsys, "train", "forecaster", "--quick", "--out", run)
    assert code == 0 and "already finished" in err
    assert again == first[first.index("\nrun: "):]  # the same results table, no epoch lines
    assert (run / "model.keras").stat().st_mtime_ns == stamp
    code, _, err = run_cli(capsys, "train", "forecaster", "--quick", "--units", "4", "--out", run)
    assert code == 2 and "finished run with other options" in err


def test_a_run_card_gives_the_command_that_trained_it(tmp_path):
    """Its data options included, and its own run directory (not the released model) to export."""
    import shutil

    from zoo.files import read_json, write_json
    from zoo.release import model_card

    run = tmp_path / "my run"
    shutil.copytree("models/released/forecaster", run)
    config = read_json(run / "config.json")
    config["data_options"] = {"data": "sales data.csv", "column": "units", "columns": "price,promo"}
    write_json(run / "config.json", config)
    card = model_card(run)
    assert "`zoo train forecaster --data 'sales data.csv' --column units --columns price,promo --set " in card
    assert f"`zoo export '{run}'`" in card
