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
    keras.utils.set_random_seed(0)
    inputs = keras.Input((None, 3))
    x = LSTM(4, return_sequences=True)(inputs)
    tiled = keras.layers.Lambda(lambda h: keras.ops.tile(h, [1, 1, 2]))(x)  # TFLM has no TILE
    model = keras.Model(inputs, keras.layers.Dense(2)(tiled))
    calibration = np.random.default_rng(0).standard_normal((16, 6, 3)).astype("float32")
    microcontroller.write(model, tmp_path / "t.tflite", calibration, steps=6)
    found = microcontroller.report(tmp_path / "t.tflite", calibration[:1])
    assert found["tflm"].startswith("does not run") and "TILE" in found["tflm"]


@needs_tflm
@pytest.mark.slow
@pytest.mark.parametrize("cell, options, named", [("peephole", {}, "peephole"), ("cifg", {}, "CIFG"),
                                                   ("layer_norm", {"normalize_cell": False}, "layer norm")])
def test_a_variant_lstm_tflite_micro_cannot_run_is_named(cell, options, named, tmp_path):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((None, 3))
    model = keras.Model(inputs, keras.layers.Dense(2)(LSTM(4, cell=cell, **options)(inputs)))
    calibration = np.random.default_rng(0).standard_normal((16, 6, 3)).astype("float32")
    microcontroller.write(model, tmp_path / "p.tflite", calibration, steps=6)
    found = microcontroller.report(tmp_path / "p.tflite", calibration[:1])
    assert found["tflm"].startswith("does not run") and "standard cell only" in found["tflm"]
    assert named in found["tflm"]


@needs_tflm
@pytest.mark.slow
@pytest.mark.parametrize("name, steps", [("anomaly", 64), ("char-lm", 100)])
def test_integer_rewrites_let_token_and_repeat_models_run_in_tflite_micro(name, steps, tmp_path):
    """The anomaly autoencoder's RepeatVector (as BROADCAST_TO) and char-lm's embedding (a plain
    GATHER) and log-softmax head run in TFLM, as close to float as LiteRT is."""
    from zoo.checkpoints import load_model, resolve
    from zoo.export.pipeline import calibration_inputs

    checkpoint, run_dir = resolve(name)
    model = load_model(checkpoint)
    microcontroller.write(model, tmp_path / "m.tflite", calibration_inputs(run_dir), steps=steps)
    x = microcontroller.fit_steps(np.load(run_dir / "test_inputs.npy")[:1], steps)
    found = microcontroller.report(tmp_path / "m.tflite", x, reference=np.asarray(model(x)))
    assert found["tflm"] == "runs", found
    assert not {"TILE", "LESS", "SELECT", "SELECT_V2"} & set(found["ops"])
    if name == "anomaly":
        assert found["tflm_vs_float"] <= 0.02  # of the reconstruction's scale
        return
    # char-lm: TFLM's and LiteRT's integer kernels round differently (up to ~1/16 nat on single
    # log-probabilities), so judge the metric on a few test windows against float.
    import json

    from zoo.registry import get_recipe

    recipe = get_recipe(name)
    split = recipe.load_data(json.loads((run_dir / "config.json").read_text())["config"])
    x, y = split.x_test[:4], split.y_test[:4]

    def nats(probabilities):
        return float(-np.mean(np.log(np.take_along_axis(probabilities, y[..., None], -1))))

    on_tflm = microcontroller.run_sequences(tmp_path / "m.tflite", x, found["arena_bytes"])[:, 0]
    assert abs(nats(on_tflm) - nats(np.asarray(model(x)))) <= 0.01 * nats(np.asarray(model(x)))
