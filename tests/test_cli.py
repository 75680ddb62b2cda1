"""The README's path at a small size: train -> export -> predict, and every bad input as one line."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import run_cli


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "forecaster"
    from zoo.training import train

    train("forecaster", out, epochs=3, units=32, seed=0, verbose=0, base="persistence")  # one trained LSTM: its ops are counted
    return out


@pytest.fixture(scope="session")
def exported(trained_run, tmp_path_factory):
    from zoo.export.formats import parse_formats
    from zoo.export.pipeline import export_checkpoint

    out = tmp_path_factory.mktemp("exports") / "forecaster"
    report = export_checkpoint(trained_run, out, parse_formats("savedmodel,tflite,onnx"))
    return out, report


def test_list_json(capsys):
    code, out, _ = run_cli(capsys, "list", "--json")
    rows = json.loads(out)
    assert code == 0 and {"name", "task", "dataset", "cell"} <= set(rows[0])


def test_run_directory_holds_everything(trained_run):
    names = {p.name for p in trained_run.iterdir()}
    assert {"model.keras", "config.json", "metrics.json", "history.csv", "forecast.png", "loss.png",
            "test_inputs.npy"} <= names
    assert "backup" not in names  # removed once training finished
    metrics = json.loads((trained_run / "metrics.json").read_text())
    assert set(metrics["test"]) == {"rmse", "mae", "mase"}
    assert set(metrics["baselines"]["persistence"]) == {"rmse", "mae", "mase"}
    assert set(metrics["baselines"]["seasonal_naive"]) == {"rmse", "mae", "mase", "season"}
    assert {"drift", "ets", "theta"} <= set(metrics["baselines"])
    assert metrics["baselines"]["seasonal_naive"]["season"] == 11  # the solar cycle
    config = json.loads((trained_run / "config.json").read_text())
    assert config["config"]["data"]["test_start"] == 247  # last 20% of 309 years
    assert {"mean", "std"} <= set(config["config"]["data"])
    assert len((trained_run / "history.csv").read_text().splitlines()) == 4


def test_evaluate_reproduces_the_metrics(trained_run, capsys):
    code, out, _ = run_cli(capsys, "evaluate", trained_run)
    assert code == 0
    recomputed = json.loads(out.strip().splitlines()[-1])
    stored = json.loads((trained_run / "metrics.json").read_text())
    assert recomputed["test"]["rmse"] == pytest.approx(stored["test"]["rmse"], rel=1e-5)


def test_every_artifact_matches_keras_in_its_runtime(exported):
    out, report = exported
    assert report["ok"], report
    assert report["test_inputs"]["source"] == "test split"
    for name in ("savedmodel", "tflite", "onnx"):
        entry = report["formats"][name]
        assert entry["ok"] and entry["max_abs_diff"] <= entry["tolerance"] and entry["bytes"] > 0
    assert json.loads((out / "report.json").read_text())["ok"]
    assert (out / "saved_model" / "saved_model.pb").exists()


def test_onnx_is_one_fused_lstm_node_with_dynamic_axes(exported):
    import onnx

    out, report = exported
    ops = report["formats"]["onnx"]["ops"]
    assert ops.get("LSTM") == 1 and "Loop" not in ops and "Scan" not in ops
    model = onnx.load(str(out / "model.onnx"))
    (graph_input,) = model.graph.input
    dims = graph_input.type.tensor_type.shape.dim
    assert graph_input.name == "inputs" and not dims[0].dim_value and not dims[1].dim_value
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["zoo.model"] == "forecaster" and meta["zoo.cells"] == "LSTMCell"
    assert "mean" in json.loads(meta["zoo.data"])


def test_tflite_uses_builtin_ops_only(exported):
    _, report = exported
    ops = report["formats"]["tflite"]["ops"]
    assert ops.get("UNIDIRECTIONAL_SEQUENCE_LSTM") == 1 and "WHILE" not in ops
    assert not any(op.startswith("Flex") or op == "CUSTOM" for op in ops)


def test_predict_runs_every_format_alike(exported, trained_run, capsys, tmp_path):
    out, _ = exported
    expected = np.load(out / "test_data" / "expected.npy")
    inputs = out / "test_data" / "inputs.npy"
    for artifact in (trained_run, out / "saved_model", out / "model.tflite", out / "model.onnx"):
        target = tmp_path / f"{artifact.name}.npy"
        code, _, err = run_cli(capsys, "predict", artifact, "--input", inputs, "--output", target)
        assert code == 0, err
        np.testing.assert_allclose(np.load(target), expected, rtol=1e-4, atol=1e-3)
    code, printed, _ = run_cli(capsys, "predict", out / "model.onnx", "--input", inputs)
    assert code == 0 and len(printed.strip().splitlines()) == len(expected)
    code, _, err = run_cli(capsys, "predict", out / "model.onnx", "--input", inputs, "--output", target)
    assert code == 2 and "exists; pass --force to replace it" in err  # nothing overwritten unasked
    code, _, err = run_cli(capsys, "predict", out / "model.onnx", "--input", inputs, "--output", target, "--force")
    assert code == 0, err


def test_export_cli_prints_table_and_refuses_to_overwrite(trained_run, tmp_path, capsys):
    out = tmp_path / "exp"
    code, printed, _ = run_cli(capsys, "export", trained_run, "--format", "onnx", "--out", out)
    assert code == 0 and "onnx" in printed and "LSTMx1" in printed
    code, _, err = run_cli(capsys, "export", trained_run, "--format", "onnx", "--out", out)
    assert code == 2 and "--force" in err
    code, _, _ = run_cli(capsys, "export", trained_run, "--format", "onnx", "--out", out, "--force")
    assert code == 0


def test_finished_run_is_not_overwritten_without_force(trained_run, capsys):
    before = (trained_run / "model.keras").read_bytes()
    code, _, err = run_cli(capsys, "train", "forecaster", "--out", trained_run, "--epochs", "1")
    assert code == 2 and "--force" in err
    assert (trained_run / "model.keras").read_bytes() == before


@pytest.fixture
def bad_files(tmp_path):
    (tmp_path / "corrupt.keras").write_bytes(b"not a zip file")
    (tmp_path / "text.csv").write_text("value\n1\nabc\n3\n")
    (tmp_path / "short.csv").write_text("value\n" + "\n".join(map(str, range(10))) + "\n")
    np.save(tmp_path / "nan.npy", np.array([[1.0, np.nan]]))
    np.save(tmp_path / "wide.npy", np.zeros((2, 5, 3)))
    (tmp_path / "corrupt.onnx").write_bytes(b"garbage")
    return tmp_path


@pytest.mark.parametrize("args, message", [
    (["train", "nosuch"], "unknown model 'nosuch'"),
    (["train", "forecaster", "--cell", "gru"], "unknown cell 'gru'"),
    (["train", "forecaster", "--data", "{d}/text.csv"], "text.csv:3: column 'value' is not numeric"),
    (["train", "forecaster", "--data", "{d}/short.csv"], "10 values is too short"),
    (["train", "forecaster", "--data", "{d}/missing.csv"], "no such data file"),
    (["train", "forecaster", "--set", "colour=red"], "has no option 'colour' (did you mean 'column'?)"),
    (["train", "forecaster", "--epochs", "0"], "option epochs: 0 is out of range; expected int >= 1"),
    (["train", "forecster"], "unknown model 'forecster' (did you mean 'forecaster'?)"),
    (["train", "forecaster", "--set", "dropout=2"], "option dropout: 2 is out of range; expected float in [0, 1)"),
    (["train", "forecaster", "--set", "calendar=maybe"], "option calendar: 'maybe' is not a valid value"),
    (["train", "forecaster", "--set", "test_fraction=1.5"], "option test_fraction: 1.5 is out of range"),
    (["train", "forecaster", "--set", "units=abc"], "option units: 'abc' is not a valid value; expected int >= 1"),
    (["train", "forecaster", "--learning-rate", "abc"], "option learning_rate: 'abc' is not a valid value"),
    (["train", "forecaster", "--set", "window=0"], "option window: 0 is out of range; expected int >= 2 or 'auto'"),
    (["train", "forecaster", "--set", "base=drfit"], "unknown base 'drfit' (did you mean 'drift'?)"),
    (["train", "tagger", "--set", "tag_field=" + "x" * 1000], "unknown tag_field 'xxxxx"),
    (["train", "forecaster", "--horizon", "2", "--set", "max_tokens=5"], "forecaster has no option 'max_tokens'"),
    (["train", "tagger", "--season", "4"], "No such option '--season'. (Did you mean one of: '--sep', '--set'?) (see 'zoo train tagger --help')"),
    (["generate", "char-lm", "--runtime", "onx"], "'onx' is not one of keras, savedmodel, tflite, web, onnx (did you mean 'onnx'?)"),
    (["export", "forecaster", "--quantize", "int9"], "(did you mean 'int8'?)"),
    (["evaluate", "forcaster"], "no such checkpoint: forcaster (did you mean 'forecaster'?)"),
    (["export", "{d}/missing.keras"], "no such checkpoint"),
    (["export", "{d}/corrupt.keras", "--out", "{d}/x"], "not a readable Keras checkpoint"),
    (["export", "{d}/corrupt.keras", "--format", "onx"], "did you mean 'onnx'"),
    (["export", "{d}"], "not a finished training run"),
    (["predict", "{d}/corrupt.onnx", "--input", "{d}/nan.npy"], "not a readable ONNX model"),
    (["predict", "{run}", "--input", "{d}/nan.npy"], "NaN"),
    (["predict", "{run}", "--input", "{d}/wide.npy"], "has shape (2, 5, 3); the model takes (batch, "),
    (["predict", "{run}", "--input", "{d}/text.csv"], "no numeric column"),
    (["predict", "{d}/model.pt", "--input", "{d}/nan.npy"], "no such file"),
])
def test_bad_input_is_one_line_and_exit_2(args, message, bad_files, capsys, tmp_path):
    from zoo.registry import get_recipe

    args = [a.format(d=bad_files, run=get_recipe("forecaster").released) for a in args]
    if "--out" not in args and args[0] in ("train", "export"):
        args += ["--out", str(tmp_path / "out")]
    code, _, err = run_cli(capsys, *args)
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[-1].startswith("error: ") and message in lines[-1], err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()  # nothing written, not even an empty directory


def test_console_script_error_has_no_traceback(tmp_path):
    zoo = os.path.join(os.path.dirname(sys.executable), "zoo")
    result = subprocess.run([zoo, "export", str(tmp_path / "nope.keras")], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: no such checkpoint: {tmp_path / 'nope.keras'}"




def test_quantized_exports_report_size_and_metric(trained_run, tmp_path, capsys):
    out = tmp_path / "q"
    code, printed, err = run_cli(capsys, "export", trained_run, "--format", "onnx", "--quantize", "dynamic", "--out", out)
    assert code == 0, err
    report = json.loads((out / "report.json").read_text())
    floating, quantized = report["formats"]["onnx"], report["formats"]["onnx:dynamic"]
    assert quantized["ok"] and quantized["bytes"] < floating["bytes"]
    assert "DynamicQuantizeLSTM" in quantized["ops"]
    assert abs(quantized["metric"] - floating["metric"]) <= 0.05 * floating["metric"]
    assert floating["metric"] == pytest.approx(report["keras"]["metric"], rel=1e-4)


def test_fp16_onnx_halves_the_weights_and_runs(trained_run, tmp_path, capsys):
    """float16 inside, float32 at the edges; ONNX Runtime's CPU provider runs it through casts."""
    import onnx

    out = tmp_path / "fp16"
    code, _, err = run_cli(capsys, "export", trained_run, "--format", "onnx", "--fp16", "--out", out)
    assert code == 0, err
    report = json.loads((out / "report.json").read_text())
    half = report["formats"]["onnx:float16"]
    assert half["ok"] and half["ops"].get("LSTM") == 1 and "Loop" not in half["ops"]
    lstm = next(n for n in onnx.load(out / "model.float16.onnx").graph.node if n.op_type == "LSTM")
    weights = {t.name: t.data_type for t in onnx.load(out / "model.float16.onnx").graph.initializer}
    assert weights[lstm.input[1]] == onnx.TensorProto.FLOAT16
    assert abs(half["metric"] - report["keras"]["metric"]) <= 0.01 * report["keras"]["metric"]


@pytest.mark.parametrize("args, message", [
    (["--format", "onnx", "--quantize", "int8"], "applies to none of the chosen formats"),
    (["--format", "savedmodel", "--quantize", "dynamic"], "applies to none of the chosen formats"),
    (["--fp16", "--quantize", "dynamic"], "--fp16 is --quantize float16"),
])
def test_unsupported_quantization_fails_before_work(args, message, trained_run, tmp_path, capsys):
    code, _, err = run_cli(capsys, "export", trained_run, *args, "--out", tmp_path / "q")
    assert code == 2 and message in err and not (tmp_path / "q").exists()


def test_int8_needs_calibration_data(tmp_path, capsys):
    import keras

    from zoo.layers import LSTM

    model = keras.Sequential([keras.Input((None, 2)), LSTM(3), keras.layers.Dense(1)])
    model.save(tmp_path / "m.keras")
    code, _, err = run_cli(capsys, "export", tmp_path / "m.keras", "--quantize", "int8", "--out", tmp_path / "q")
    assert code == 2 and "calibrates on the model's training data" in err


def test_predict_provider_checks(exported, capsys):
    import onnxruntime as ort

    out, _ = exported
    inputs = out / "test_data" / "inputs.npy"
    code, printed, err = run_cli(capsys, "predict", out / "model.onnx", "--input", inputs, "--provider", "cpu")
    assert code == 0 and printed.strip(), err
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        code, _, err = run_cli(capsys, "predict", out / "model.onnx", "--input", inputs, "--provider", "cuda")
        assert code == 2 and "no CUDAExecutionProvider" in err and "onnxruntime-gpu" in err
    code, _, err = run_cli(capsys, "predict", out / "model.tflite", "--input", inputs, "--provider", "cpu")
    assert code == 2 and "applies to .onnx artifacts" in err


def test_quantized_artifacts_are_checked_against_a_metric_budget():
    from zoo.export.pipeline import metric_check

    lower = {"float": 20.0, "goal": "min", "allowed": 0.02}
    assert metric_check(20.3, lower)["ok"] and not metric_check(20.5, lower)["ok"]  # rmse +1.5% / +2.5%
    assert metric_check(19.0, lower)["ok"]  # better is always within budget
    higher = {"float": 0.96, "goal": "max", "allowed": 0.01}
    assert metric_check(0.951, higher)["ok"] and not metric_check(0.94, higher)["ok"]
    assert metric_check(0.94, higher)["metric_change"] == pytest.approx(-0.02 / 0.96, abs=1e-6)


def test_export_names_the_metric_budget_of_quantized_artifacts(tmp_path, capsys):
    out = tmp_path / "q"
    code, printed, _ = run_cli(capsys, "export", "forecaster", "--format", "tflite", "--quantize", "int8", "--out", out)
    report = json.loads((out / "report.json").read_text())
    entry = report["formats"]["tflite:int8"]
    assert report["quantized_check"] == {"metric": "rmse", "goal": "min", "allowed": 0.02}
    assert entry["check"] == "metric budget" and "(budget 2%)" in printed
    assert entry["ok"] == (entry["metric_change"] <= 0.02) and code == (0 if entry["ok"] else 1)
    # an artifact over its budget is set aside, not left where deployments and zoo.load look
    assert (out / entry["path"]).exists() and (out / "model.int8.tflite").exists() == entry["ok"]


def test_an_artifact_that_fails_its_check_is_set_aside(tmp_path):
    from zoo.export.pipeline import FAILED_DIR, _set_aside_failures

    (tmp_path / "model.int8.tflite").write_bytes(b"x")
    (tmp_path / "model.tflite").write_bytes(b"y")
    entries = {"tflite:int8": {"path": "model.int8.tflite", "ok": False}, "tflite": {"path": "model.tflite", "ok": True}}
    _set_aside_failures(tmp_path, entries)
    assert entries["tflite:int8"]["path"] == f"{FAILED_DIR}/model.int8.tflite"
    assert (tmp_path / FAILED_DIR / "model.int8.tflite").exists() and not (tmp_path / "model.int8.tflite").exists()
    assert (tmp_path / "model.tflite").exists()


def test_switching_the_fused_kernel_off_says_so(monkeypatch, capsys):
    from zoo import kernel

    monkeypatch.setenv("ZOO_FUSED_KERNEL", "0")
    kernel.enabled.cache_clear()
    try:
        assert kernel.enabled() is False
    finally:
        kernel.enabled.cache_clear()
    assert "warning: ZOO_FUSED_KERNEL=0" in capsys.readouterr().err


@pytest.mark.slow
def test_text_commands_print_no_runtime_log_noise():
    """TensorFlow's and oneDNN's C++ logs (``E0000 ...``, ``I0000 ...``) stay muted unless --verbose."""
    zoo = os.path.join(os.path.dirname(sys.executable), "zoo")
    result = subprocess.run([zoo, "predict", "text-classifier", "--text", "the market fell sharply"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and result.stdout.strip()
    assert result.stderr.strip() == "", result.stderr


@pytest.mark.slow
def test_a_run_whose_loss_is_nan_from_the_first_batch_leaves_no_folder(tmp_path, capsys):
    """Found by the fuzz suite: huge inputs and a target of one tiny constant make the loss NaN at
    once; the run ends with an error line, and nothing half-written stays behind to resume."""
    rows = [f"{value!r},-6.633093048565235e-95" for value in
            [1e-06, -1e6, 999999.9999999999, -395242.1, 281108.9, 8.0, 0.35, 127.0] * 10]
    (tmp_path / "data.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "run"
    code, _, err = run_cli(capsys, "train", "forecaster", "--data", tmp_path / "data.csv", "--quick", "--out", out)
    if code == 2:  # where the loss is NaN (it is here); a run that trains must leave its metrics
        assert err.strip().splitlines()[-1].startswith("error: ") and not out.exists()
    else:
        assert code == 0 and (out / "metrics.json").exists()
