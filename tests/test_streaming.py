"""Streaming export: one-step artifacts, fed their own states back, reproduce the full model."""

import json

import keras
import numpy as np
import pytest

import zoo
from conftest import CELL_NAMES
from zoo.export.step_model import step_model
from zoo.export.streaming import FILENAMES, FORMATS, StepRunner, run_steps, verify_streaming, write_streaming
from zoo.layers import LSTM, Standardize, bidirectional

STEPS = 7


def sequences(features, count=2, steps=STEPS, seed=0):
    return np.random.default_rng(seed).standard_normal((count, steps, features)).astype("float32")


def assert_streams(model, tmp_path, xs):
    """All three step artifacts match the full model on every prefix; -> the write report."""
    written = write_streaming(model, tmp_path, FORMATS)
    step = step_model(model)
    for fmt in FORMATS:
        assert written[fmt]["inputs"] == step.streaming["inputs"]
        assert written[fmt]["outputs"] == step.streaming["outputs"]
        assert written[fmt]["bytes"] > 0
    report = verify_streaming(model, tmp_path, xs)
    assert report["ok"], report
    for fmt in FORMATS:
        assert report[fmt]["steps_checked"] == xs.shape[1], report  # every prefix, not only the last
        assert report[fmt]["sequences"] == len(xs)
    return written, report


@pytest.mark.slow
@pytest.mark.parametrize("cell", CELL_NAMES)
def test_each_cell_streams_in_every_format(cell, tmp_path):
    inputs = keras.Input((None, 3))
    x = Standardize([1.0, -2.0, 0.5], [2.0, 0.5, 1.5])(inputs)
    x = LSTM(6, cell=cell)(x)
    model = keras.Model(inputs, keras.layers.Dense(2)(x))
    written, _ = assert_streams(model, tmp_path, sequences(3))
    h_size = 3 if cell == "projection" else 6  # the projection cell's h is narrower than c
    assert step_model(model).streaming["states"] == [("h_0", (h_size,), "float32"), ("c_0", (6,), "float32")]
    assert written["onnx"]["inputs"] == ["x_t", "h_0", "c_0"]
    assert written["tflite"]["outputs"] == ["y_t", "h_0_out", "c_0_out"]
    from zoo.export.onnx import op_census as onnx_ops
    from zoo.export.tflite import op_census as tflite_ops

    assert not {"Loop", "Scan"} & set(onnx_ops(tmp_path / FILENAMES["onnx"]))
    assert not [op for op in tflite_ops(tmp_path / FILENAMES["tflite"]) if op.startswith("Flex") or op == "WHILE"]


@pytest.mark.slow
def test_stacked_layers_carry_their_own_states(tmp_path):
    inputs = keras.Input((None, 3))
    x = LSTM(5, cell="peephole", return_sequences=True)(inputs)
    x = keras.layers.LSTM(4)(x)  # Keras' own layer and cell
    model = keras.Model(inputs, keras.layers.Dense(1)(x))
    xs = sequences(3)
    written, _ = assert_streams(model, tmp_path, xs)
    assert written["savedmodel"]["inputs"] == ["x_t", "h_0", "c_0", "h_1", "c_1"]
    # Independently of verify_streaming: each step's output is the full model on that prefix.
    for fmt in FORMATS:
        steps = run_steps(tmp_path / FILENAMES[fmt], xs[:1])
        assert steps.shape == (STEPS, 1)
        prefixes = np.concatenate([model(xs[:1, : t + 1]).numpy() for t in range(STEPS)])
        np.testing.assert_allclose(steps, prefixes, atol=1e-5, rtol=1e-4)


@pytest.mark.slow
def test_forecaster_streams(tmp_path):
    model = zoo.create_model("forecaster", units=8, base="global")  # the design of one global scale
    _, report = assert_streams(model, tmp_path, sequences(1, steps=12) * 3.0)
    assert max(report[fmt]["max_abs_diff"] for fmt in FORMATS) < 1e-4


def test_a_forecaster_relative_to_its_window_is_not_streamable():
    """Its inputs are distances from the window's last value: every new step changes them all."""
    from zoo.export.step_model import plan

    with pytest.raises(ValueError, match="not streamable"):
        plan(zoo.create_model("forecaster", units=8))


@pytest.mark.slow
def test_char_lm_gives_the_next_token_distribution_per_step(tmp_path):
    vocabulary = 11
    inputs = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(vocabulary, 4)(inputs)
    x = LSTM(8, return_sequences=True)(x)
    model = keras.Model(inputs, keras.layers.Dense(vocabulary, activation="softmax")(x))
    tokens = np.random.default_rng(1).integers(0, vocabulary, (2, STEPS)).astype("int32")
    assert_streams(model, tmp_path, tokens)
    full = model(tokens[:1]).numpy()[0]  # (T, V): position t's distribution
    for fmt in FORMATS:
        runner = StepRunner(tmp_path / FILENAMES[fmt])
        first = run_steps(runner, tokens[0])
        assert first.shape == (STEPS, vocabulary)
        np.testing.assert_allclose(first, full, atol=1e-5)
        np.testing.assert_allclose(run_steps(runner, tokens[:1]), first)  # states restart from zero


def test_step_model_reuses_the_original_weights():
    inputs = keras.Input((None, 2))
    model = keras.Model(inputs, keras.layers.Dense(1)(LSTM(3, cell="cifg")(inputs)))
    step = step_model(model)
    assert {id(v) for v in step.weights} <= {id(v) for v in model.weights}
    x = np.ones((1, 2), "float32")
    zeros = np.zeros((1, 3), "float32")
    before = step({"x_t": x, "h_0": zeros, "c_0": zeros})["y_t"].numpy()
    dense = model.layers[-1]
    dense.kernel.assign(dense.kernel.numpy() + 1.0)  # a change to the model shows in its step
    after = step({"x_t": x, "h_0": zeros, "c_0": zeros})["y_t"].numpy()
    assert not np.allclose(before, after)


def _bidirectional(x):
    return bidirectional(4)(x)


@pytest.mark.parametrize(
    "build, reason",
    [
        (_bidirectional, "Bidirectional needs the future"),
        (lambda x: LSTM(4, go_backwards=True)(x), "go_backwards"),
        (lambda x: LSTM(4)(keras.layers.Conv1D(3, 2)(x)), "Conv1D mixes neighbouring time steps"),
        (lambda x: keras.layers.GlobalAveragePooling1D()(LSTM(4, return_sequences=True)(x)), "pools"),
        (lambda x: keras.layers.Add()([x, keras.layers.Dense(3)(x)]), "chain"),
    ],
)
def test_what_needs_more_than_the_past_is_refused(build, reason, tmp_path):
    inputs = keras.Input((None, 3))
    model = keras.Model(inputs, keras.layers.Dense(1)(build(inputs)))
    with pytest.raises(ValueError, match=f"not streamable: .*{reason}"):
        step_model(model)
    with pytest.raises(ValueError, match="not streamable"):
        write_streaming(model, tmp_path, ["onnx"])
    assert not any(tmp_path.iterdir())


def test_two_inputs_are_refused():
    a, b = keras.Input((None, 3)), keras.Input((None, 3))
    model = keras.Model([a, b], LSTM(2)(keras.layers.Concatenate()([a, b])))
    with pytest.raises(ValueError, match="not streamable: the model has 2 inputs"):
        step_model(model)


def test_verify_notices_a_step_artifact_of_another_model(tmp_path):
    def build():
        inputs = keras.Input((None, 3))
        return keras.Model(inputs, keras.layers.Dense(2)(LSTM(4)(inputs)))

    write_streaming(build(), tmp_path, ["onnx"])
    report = verify_streaming(build(), tmp_path, sequences(3))  # same shapes, other weights
    assert not report["ok"] and not report["onnx"]["ok"]
    assert report["onnx"]["max_abs_diff"] > report["onnx"]["tolerance"]


@pytest.mark.slow
def test_generate_is_the_same_text_in_every_runtime(tmp_path, capsys):
    """A quick char-LM generates, greedily, the same characters in Keras and every exported runtime."""
    from conftest import run_cli
    from zoo.training import train

    run = tmp_path / "char-lm"
    train("char-lm", run, quick=True, verbose=0)
    texts = {}
    for runtime in ("keras", "savedmodel", "tflite", "onnx"):
        code, out, err = run_cli(capsys, "generate", run, "--prompt", "ROMEO:", "--length", "40",
                                 "--temperature", "0", "--runtime", runtime)
        assert code == 0, err
        texts[runtime] = out.rstrip("\n")
    assert texts["keras"].startswith("ROMEO:") and len(texts["keras"]) == len("ROMEO:") + 40
    assert len(set(texts.values())) == 1, texts
    code, sampled, _ = run_cli(capsys, "generate", run, "--length", "40", "--seed", "1")
    code2, again, _ = run_cli(capsys, "generate", run, "--length", "40", "--seed", "1")
    assert code == code2 == 0 and sampled == again  # a seed makes sampling repeatable


@pytest.mark.slow
def test_export_streaming_writes_and_checks_step_artifacts(tmp_path, capsys):
    from conftest import run_cli

    run = tmp_path / "run"
    code, _, err = run_cli(capsys, "train", "forecaster", "--quick", "--set", "base=global", "--out", run)
    assert code == 0, err
    code, out, err = run_cli(capsys, "export", run, "--streaming", "--out", tmp_path / "e")
    assert code == 0, err
    report = json.loads((tmp_path / "e" / "report.json").read_text())
    assert report["streaming"]["ok"]
    for fmt, name in (("savedmodel", "saved_model_step"), ("tflite", "model.step.tflite"), ("onnx", "model.step.onnx")):
        assert report["streaming"][fmt]["path"] == name and (tmp_path / "e" / name).exists()
    assert "streaming (step by step" in out


def test_streaming_a_window_model_is_one_line_before_any_export(tmp_path, capsys):
    from conftest import run_cli

    code, _, err = run_cli(capsys, "export", "forecaster", "--streaming", "--out", tmp_path / "e")
    assert code == 2 and "cannot run one step at a time" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "e").exists()


def test_generate_needs_a_character_model(capsys):
    from conftest import run_cli

    code, _, err = run_cli(capsys, "generate", "forecaster", "--length", "5")
    assert code == 2 and "character model" in err
