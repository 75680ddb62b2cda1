"""Microcontroller builds (``export.microcontroller``): a full-integer artifact whose every shape is
static, as TFLite Micro needs, and TFLM's own arena size and output for it."""

import importlib.util

import keras
import numpy as np
import pytest

from zoo.export import microcontroller, tflite
from zoo.layers import LSTM

needs_tflm = pytest.mark.skipif(importlib.util.find_spec("tflite_micro") is None,
                                reason="tflite-micro is not installed: pip install -e '.[mcu]'")


def test_fixed_steps_make_every_shape_static(tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    keras.utils.set_random_seed(0)
    inputs = keras.Input((None, 3))
    model = keras.Model(inputs, keras.layers.Dense(2)(LSTM(4)(inputs)))
    calibration = np.random.default_rng(0).standard_normal((16, 9, 3)).astype("float32")
    microcontroller.write(model, tmp_path / "m.tflite", calibration, steps=6)
    interpreter = Interpreter(model_path=str(tmp_path / "m.tflite"))
    detail = interpreter.get_input_details()[0]
    assert detail["shape"].tolist() == [1, 6, 3] and detail["shape_signature"].tolist() == [1, 6, 3]
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in tflite.op_census(tmp_path / "m.tflite")


def test_fit_steps_cuts_or_repeats_along_time():
    x = np.arange(2 * 4).reshape(2, 4, 1)
    assert microcontroller.fit_steps(x, 3).shape == (2, 3, 1)
    np.testing.assert_array_equal(microcontroller.fit_steps(x, 6)[:, 4:], x[:, :2])


@needs_tflm
@pytest.mark.slow
def test_the_released_forecaster_runs_in_tflite_micro(tmp_path):
    from zoo.checkpoints import load_model, resolve
    from zoo.export.pipeline import calibration_inputs

    checkpoint, run_dir = resolve("forecaster")
    model = load_model(checkpoint)
    microcontroller.write(model, tmp_path / "f.tflite", calibration_inputs(run_dir), steps=24)
    x = np.load(run_dir / "test_inputs.npy")[:1]
    found = microcontroller.report(tmp_path / "f.tflite", x)
    assert found["tflm"] == "runs", found
    assert 1024 <= found["arena_bytes"] <= 64 * 1024
    assert found["tflm_vs_litert_max_abs_diff"] <= 1e-5  # the same integer kernels
    assert all(found["fits"].values())


@needs_tflm
@pytest.mark.slow
def test_an_operator_tflite_micro_lacks_is_named(tmp_path):
    from zoo.checkpoints import load_model, resolve
    from zoo.export.pipeline import calibration_inputs

    checkpoint, run_dir = resolve("anomaly")
    microcontroller.write(load_model(checkpoint), tmp_path / "a.tflite", calibration_inputs(run_dir), steps=64)
    found = microcontroller.report(tmp_path / "a.tflite", np.load(run_dir / "test_inputs.npy")[:1])
    assert found["tflm"].startswith("does not run") and "TILE" in found["tflm"]
