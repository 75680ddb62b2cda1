"""The sixth cell, added as one file (zoo/cells/forget_gate.py): registered by name, described as
having no native lowering, and still trained, saved, loaded and exported through the generic
loops (ONNX ``Loop``, TFLite ``WHILE``) with Keras' numbers."""

import keras
import numpy as np
import onnx
import onnxruntime as ort

from reference import run
from zoo.cells import CELLS
from zoo.cells.lowering import describe
from zoo.export import onnx as onnx_format
from zoo.export import tflite
from zoo.export.onnx_lstm import why_not_native
from zoo.export.runtime import TFLiteRunner
from zoo.export.tflite_lstm import why_not_fused
from zoo.layers import LSTM

F, H = 3, 4


def model(**cell_options):
    inputs = keras.Input((None, F), name="inputs")
    return keras.Model(inputs, keras.layers.Dense(2)(LSTM(H, cell="forget_gate", **cell_options)(inputs)))


def batch(steps=9, seed=0):
    return np.random.default_rng(seed).normal(size=(2, steps, F)).astype("float32")


def test_registered_with_no_native_lowering_and_the_reason():
    cell = CELLS["forget_gate"](H)
    lowering = describe(cell)
    assert not lowering.native and "h = c" in lowering.reason
    layer = LSTM(H, cell="forget_gate")
    assert lowering.reason in why_not_native(layer) and lowering.reason in why_not_fused(layer)
    assert not layer.trains_with_fused_kernel()


def test_state_is_h_equal_c_and_matches_the_reference():
    layer = LSTM(H, cell="forget_gate", return_sequences=True, return_state=True)
    x = batch()
    layer(x)
    rng = np.random.default_rng(1)
    layer.set_weights([rng.normal(0, 0.5, w.shape).astype("float32") for w in layer.weights])
    outputs, h, c = (np.asarray(t) for t in layer(x))
    np.testing.assert_array_equal(h, c)
    weights = {w.name: np.asarray(w.numpy(), "float64") for w in layer.cell.weights}
    expected, _, _ = run("forget_gate", weights, x.astype("float64"), np.zeros((2, H)), np.zeros((2, H)))
    np.testing.assert_allclose(outputs, expected, atol=1e-5)


def test_trains_saves_and_loads(tmp_path):
    net = model(shift=0.5)
    net.compile("adam", "mse")
    x = batch(12, seed=2).repeat(8, axis=0)
    y = np.stack([x[:, :, 0].mean(1), x[:, -1, 1]], axis=1)
    before = net.evaluate(x, y, verbose=0)
    net.fit(x, y, epochs=30, batch_size=8, verbose=0)
    assert net.evaluate(x, y, verbose=0) < 0.7 * before
    net.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert loaded.layers[1].cell.shift == 0.5
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(net(x)), atol=1e-6)


def test_exports_through_the_generic_loops_with_keras_numbers(tmp_path):
    net = model()
    rng = np.random.default_rng(3)
    net.set_weights([rng.normal(0, 0.5, w.shape).astype("float32") for w in net.get_weights()])
    x = batch(11, seed=4)
    expected = np.asarray(net(x))

    info = onnx_format.write(net, tmp_path / "m.onnx")
    ops = [node.op_type for node in onnx.load(str(tmp_path / "m.onnx")).graph.node]
    assert "Loop" in ops and "LSTM" not in ops and info["native_lstm"] == []
    assert "h = c" in info["loop_fallback"][0]
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"inputs": x})[0], expected, atol=1e-5)

    info = tflite.write(net, tmp_path / "m.tflite")
    census = tflite.op_census(tmp_path / "m.tflite")
    assert census.get("WHILE") == 1 and "UNIDIRECTIONAL_SEQUENCE_LSTM" not in census
    assert info["fused_lstm"] == [] and "h = c" in info["while_fallback"][0]
    np.testing.assert_allclose(TFLiteRunner(tmp_path / "m.tflite")(x), expected, atol=1e-5)
