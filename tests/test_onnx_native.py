"""Every LSTM layer the ONNX op can express becomes exactly one native LSTM node, no Loop, and
matches Keras: vanilla, peephole, CIFG, projection and Keras' own LSTM; backwards, masked,
bidirectional, stacked, with initial and returned states. Which cells go native follows from each
registered cell's lowering; the others run tf2onnx's Loop and say why."""

import keras
import numpy as np
import onnx
import onnxruntime as ort
import pytest

from conftest import CELL_NAMES
from zoo.cells import CELLS
from zoo.cells.lowering import describe
from zoo.export import onnx as onnx_format
from zoo.export.onnx_lstm import why_not_native
from zoo.layers import LSTM, bidirectional

F, H = 3, 5
NATIVE = [cell for cell in CELL_NAMES if why_not_native(LSTM(H, cell=cell)) is None] + ["keras"]
LOOP = [cell for cell in CELL_NAMES if cell not in NATIVE]
assert {"lstm", "peephole", "cifg", "projection"} <= set(NATIVE) and "layer_norm" in LOOP  # guards the descriptions


def projects(cell):
    return cell != "keras" and describe(CELLS[cell](H)).projection is not None


def recurrent(cell, **kwargs):
    if cell == "keras":
        return keras.layers.LSTM(H, **kwargs)
    return LSTM(H, cell=cell, **kwargs)


def randomize(model, seed=0):
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 0.5, w.shape).astype("float32") for w in model.get_weights()])


def padded_batch(seed=1, lengths=(9, 4, 7, 1)):
    """Right-padded sequences (zeros after each length), the layout Masking expects."""
    x = np.random.default_rng(seed).normal(size=(len(lengths), max(lengths), F)).astype("float32")
    for row, length in enumerate(lengths):
        x[row, length:] = 0.0
    return x


def export_and_run(model, x, tmp_path):
    path = tmp_path / "m.onnx"
    info = onnx_format.write(model, path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    outputs = session.run(None, {"inputs": x})
    ops = [node.op_type for node in onnx.load(str(path)).graph.node]
    return outputs, ops, info


def build(body):
    inputs = keras.Input((None, F))
    return keras.Model(inputs, body(inputs))


ARCHITECTURES = {
    "last_output": lambda c: lambda x: recurrent(c)(x),
    "sequence": lambda c: lambda x: recurrent(c, return_sequences=True)(x),
    "backwards_sequence": lambda c: lambda x: recurrent(c, return_sequences=True, go_backwards=True)(x),
    "masked_sequence": lambda c: lambda x: recurrent(c, return_sequences=True)(keras.layers.Masking(0.0)(x)),
    "masked_last": lambda c: lambda x: recurrent(c)(keras.layers.Masking(0.0)(x)),
    "masked_backwards": lambda c: lambda x: recurrent(c, go_backwards=True)(keras.layers.Masking(0.0)(x)),
    "bidirectional": lambda c: lambda x: keras.layers.Bidirectional(recurrent(c, return_sequences=True))(x),
    "bidirectional_last_masked": lambda c: lambda x: keras.layers.Bidirectional(recurrent(c))(
        keras.layers.Masking(0.0)(x)),
    "stacked": lambda c: lambda x: recurrent(c)(recurrent(c, return_sequences=True)(x)),
}
EXPECTED_NODES = {"stacked": 2}


@pytest.mark.parametrize("architecture", ARCHITECTURES)
@pytest.mark.parametrize("cell", NATIVE)
def test_native_lstm_node_matches_keras(cell, architecture, tmp_path):
    model = build(ARCHITECTURES[architecture](cell))
    randomize(model)
    x = padded_batch()
    expected = np.asarray(model(x))
    (actual,), ops, info = export_and_run(model, x, tmp_path)
    assert ops.count("LSTM") == EXPECTED_NODES.get(architecture, 1)
    assert "Loop" not in ops and "Scan" not in ops
    assert info["loop_fallback"] == []
    if "masked_sequence" == architecture:  # compare where Keras' mask says the output is real
        expected, actual = expected[x.any(-1)], actual[x.any(-1)]
    np.testing.assert_allclose(actual, expected, atol=2e-5)


@pytest.mark.parametrize("cell", [c for c in NATIVE if not projects(c)])  # projection: see below
def test_initial_and_returned_states(cell, tmp_path):
    inputs = keras.Input((None, F), name="inputs")
    layer = recurrent(cell, return_sequences=True, return_state=True)
    h0 = keras.layers.Dense(H, name="h0")(inputs[:, 0])
    c0 = keras.layers.Dense(H, name="c0")(inputs[:, 1])
    sequence, h, c = layer(inputs, initial_state=[h0, c0])
    model = keras.Model(inputs, keras.layers.Concatenate()([sequence[:, -1], h, c]))
    randomize(model, seed=2)
    x = padded_batch(lengths=(6, 6))
    (actual,), ops, _ = export_and_run(model, x, tmp_path)
    assert ops.count("LSTM") == 1 and "Loop" not in ops
    np.testing.assert_allclose(actual, np.asarray(model(x)), atol=2e-5)


def test_projection_returns_projected_h_and_full_c(tmp_path):
    inputs = keras.Input((None, F), name="inputs")
    sequence, h, c = recurrent("projection", return_sequences=True, return_state=True)(inputs)
    model = keras.Model(inputs, keras.layers.Concatenate()([sequence[:, -1], h, c]))
    randomize(model, seed=2)
    x = padded_batch(lengths=(6, 6))
    (actual,), ops, _ = export_and_run(model, x, tmp_path)
    assert ops.count("LSTM") == 1 and "Loop" not in ops
    np.testing.assert_allclose(actual, np.asarray(model(x)), atol=2e-5)


def test_projection_with_an_initial_state_is_refused_with_the_reason(tmp_path):
    inputs = keras.Input((None, F), name="inputs")
    start = [keras.layers.Dense(2)(inputs[:, 0]), keras.layers.Dense(H)(inputs[:, 0])]
    model = keras.Model(inputs, recurrent("projection", projection_units=2)(inputs, initial_state=start))
    with pytest.raises(ValueError, match="cannot be unprojected"):
        onnx_format.write(model, tmp_path / "m.onnx")


@pytest.mark.parametrize("cell", LOOP)
def test_cells_without_an_onnx_counterpart_fall_back_and_say_so(cell, tmp_path):
    model = build(lambda x: bidirectional(H, cell=cell)(x))
    randomize(model, seed=3)
    x = padded_batch()
    (actual,), ops, info = export_and_run(model, x, tmp_path)
    assert "LSTM" not in ops and info["native_lstm"] == []
    assert "no counterpart in the ONNX LSTM op" in info["loop_fallback"][0]
    np.testing.assert_allclose(actual, np.asarray(model(x)), atol=2e-5)


def test_export_leaves_the_keras_model_untouched(tmp_path):
    model = build(lambda x: LSTM(H, cell="peephole")(x))
    x = padded_batch()
    before = np.asarray(model(x))
    export_and_run(model, x, tmp_path)
    assert "call" not in vars(model.layers[1])
    np.testing.assert_array_equal(np.asarray(model(x)), before)


@pytest.mark.parametrize("cell, reason", [("lstm", None), ("peephole", "peepholes"), ("cifg", "input_forget=1")])
def test_gpu_provider_report_names_cuda_fallbacks(cell, reason, tmp_path):
    from zoo.export.providers import provider_report

    model = build(lambda x: recurrent(cell)(x))
    onnx_format.write(model, tmp_path / "m.onnx")
    report = provider_report(tmp_path / "m.onnx")
    cuda = report["cuda"]["cpu_fallback"]
    if reason is None:
        assert cuda == []
    else:
        assert [f["op"] for f in cuda] == ["LSTM"] and reason in cuda[0]["reason"]
    assert report["tensorrt"]["cpu_fallback"] == []


def test_scalers_fold_into_the_lstm_and_the_head(tmp_path):
    """Standardize in front and its inverse behind leave no elementwise node in the graph."""
    from zoo.layers import Standardize

    inputs = keras.Input((None, F), name="inputs")
    x = Standardize([1.0, -2.0, 0.5], [2.0, 0.5, 1.5])(inputs)
    x = keras.layers.Dense(1)(recurrent("peephole")(x))
    model = keras.Model(inputs, Standardize(30.0, 12.0, invert=True)(x))
    randomize(model, seed=5)
    x = padded_batch(lengths=(8, 8)) * 4.0 + 1.0
    (actual,), ops, info = export_and_run(model, x, tmp_path)
    assert info["folded"] == ["input scaling into the first LSTM", "output scaling into the head"]
    assert sorted(ops) == ["Add", "LSTM", "MatMul", "Squeeze", "Transpose"]
    np.testing.assert_allclose(actual, np.asarray(model(x)), rtol=1e-5, atol=1e-4)
