"""`zoo bench` exports, runs and times every artifact and the anchors, and writes its tables."""

import json

import pytest

from conftest import run_cli

pytestmark = pytest.mark.slow  # benchmarks


def test_bench_writes_json_and_markdown_with_anchors(tmp_path, capsys):
    code, printed, err = run_cli(capsys, "bench", "forecaster", "--repeats", "5", "--out", tmp_path)
    assert code == 0, err
    result = json.loads((tmp_path / "bench.json").read_text())
    rows = {row["artifact"]: row for row in result["rows"]}
    for artifact in ("keras (tf.function)", "savedmodel", "tflite", "onnx", "onnx:dynamic"):
        # a quantized artifact over its metric budget is still timed, and says so
        quantized_verdict = rows[artifact]["status"].startswith("over budget: rmse") and ":" in artifact
        assert rows[artifact]["status"] == "ok" or quantized_verdict, rows[artifact]
        assert rows[artifact]["p50_ms"] > 0 and rows[artifact]["throughput_per_s"] > 0
        assert rows[artifact]["metric"] > 0
    assert rows["keras (tf.function)"]["ratio_to_keras"] == 1
    anchors = [name for name in rows if name.startswith("anchor:")]
    # the forecaster's window features stand before its LSTM: no hand-built single-op floor
    assert len(anchors) == 2 and all(rows[a]["status"] for a in anchors) and "ratio_to_hand_built" not in rows["onnx"]
    assert (tmp_path / "bench.md").read_text().startswith("| model | artifact |")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("zoo-bench-exports-")]


def test_bench_unknown_target_fails_before_work(tmp_path, capsys):
    code, _, err = run_cli(capsys, "bench", "nosuch", "--out", tmp_path / "b")
    assert code == 2 and "no such checkpoint" in err and not (tmp_path / "b").exists()


def test_training_speed_benchmark_runs_and_writes_its_table(tmp_path):
    from benchmarks.train_speed import contenders, main

    result = main(["--quick", "--load", "--out", str(tmp_path)])
    assert {row["contender"] for row in result["rows"]} == set(contenders())
    assert all(row["step_ms"] > 0 and row["epoch_s"] > 0 and row["ratio_to_faster_keras"] > 0 for row in result["rows"])
    assert all(row["steps_timed"] == 4 for row in result["rows"])  # 128 samples, batch 64, two rounds
    for row in result["rows"] + result["rows_under_load"]:  # whole epochs, paired within each round
        for key in ("fit_ratio", "epoch_ratio"):  # whole fit() calls, and epochs inside fit()
            assert 0 < row[f"{key}_min"] <= row[f"{key}_median"] <= row[f"{key}_max"]
    keras_rows = [r for r in result["rows"] if r["contender"].startswith("keras:")]
    for key in ("fit_ratio_min", "epoch_ratio_min"):  # the faster Keras way is each round's unit
        assert min(r[key] for r in keras_rows) == 1.0
    assert len(result["rows_under_load"]) == len(result["rows"])
    assert "one core busy" in (tmp_path / "train_speed.md").read_text()
    assert (tmp_path / "train_speed.json").exists() and (tmp_path / "train_speed.md").exists()


def test_readme_model_table_is_generated_from_the_released_checkpoints():
    from pathlib import Path

    from zoo.release import readme_table

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert readme_table() in readme


def test_training_speed_benchmark_rejects_bad_sizes_in_one_line(capsys):
    import pytest

    from benchmarks.train_speed import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--sizes", "64xa", "--out", "unused"])
    assert exit_info.value.code == 2
    assert "expected UNITSxSTEPS" in capsys.readouterr().err


def test_bench_times_a_single_lstm_against_the_hand_built_onnx_op(tmp_path, capsys):
    """A forecaster of one global scale reads its input step by step: the native op is its floor."""
    run = tmp_path / "run"
    code, _, err = run_cli(capsys, "train", "forecaster", "--quick", "--set", "base=global", "--out", run)
    assert code == 0, err
    code, _, err = run_cli(capsys, "bench", run, "--repeats", "5", "--out", tmp_path / "b")
    assert code == 0, err
    rows = {row["artifact"]: row for row in json.loads((tmp_path / "b" / "bench.json").read_text())["rows"]}
    assert rows["onnx"]["ratio_to_hand_built"] > 0


def test_quantization_table_puts_each_mode_beside_float():
    from zoo.export.benchmark import quantization_table

    rows = [
        {"model": "m", "artifact": "tflite", "status": "ok", "bytes": 4096, "p50_ms": 0.2, "metric": 0.9},
        {"model": "m", "artifact": "tflite:int8", "status": "over budget: accuracy -2.0% (budget 1%)",
         "bytes": 1024, "p50_ms": 0.3, "metric": 0.882},
        {"model": "m", "artifact": "onnx", "status": "ok", "bytes": 4096, "p50_ms": 0.1, "metric": 0.9},
    ]
    table = quantization_table(rows).splitlines()
    assert table[2] == "| m | tflite | 4 KB, 0.2 ms, 0.9 | - | - | 1 KB, 0.3 ms, 0.882 (-2.0%) over budget |"
    assert len(table) == 3  # onnx has no quantized artifact here: no row
