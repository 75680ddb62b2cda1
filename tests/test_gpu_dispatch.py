"""Which way training runs a layer when a GPU is visible, checked on a CPU.

With a GPU, the standard cell trains through cuDNN (Keras' own ``backend.lstm``), as
``keras.layers.LSTM`` does; every variant keeps Keras' loop under XLA and says why. A CPU machine
has no cuDNN, so the GPU is simulated (``zoo.compat.gpu_visible``) and cuDNN is replaced by the
same equations in plain ops: the test checks the decision, and that the layer hands cuDNN the
right inputs and weights (its outputs equal Keras' loop's).
"""

import keras
import numpy as np
import pytest
from keras import ops

from conftest import CELL_NAMES
from zoo import compat
from zoo.kernel.dispatch import CUDNN, XLA
from zoo.layers import LSTM


def cudnn_equations(calls):
    """What cuDNN computes (gates i, f, c, o; tanh and sigmoid), from the raw inputs."""

    def run(inputs, h, c, mask, kernel, recurrent_kernel, bias, go_backwards):
        calls.append({"go_backwards": go_backwards, "mask": mask is not None, "shape": tuple(inputs.shape)})
        steps = range(inputs.shape[1] - 1, -1, -1) if go_backwards else range(inputs.shape[1])
        outputs = []
        for t in steps:
            z = ops.matmul(inputs[:, t], kernel) + ops.matmul(h, recurrent_kernel) + bias
            i, f, g, o = ops.split(z, 4, axis=-1)
            c = ops.sigmoid(f) * c + ops.sigmoid(i) * ops.tanh(g)
            h = ops.sigmoid(o) * ops.tanh(c)
            outputs.append(h)
        outputs = ops.stack(outputs, axis=1)
        return outputs[:, -1], outputs, [h, c]

    return run


@pytest.fixture
def gpu(monkeypatch):
    calls = []
    monkeypatch.setattr(compat, "gpu_visible", lambda: True)
    monkeypatch.setattr(compat, "cudnn_lstm", cudnn_equations(calls))
    return calls


@pytest.mark.parametrize("name", CELL_NAMES)
def test_with_a_gpu_only_the_standard_cell_takes_cudnn(gpu, name):
    layer = LSTM(8, cell=name)
    layer.build((None, 5, 3))
    path, why = layer.training_path()
    if name == "lstm":
        assert (path, why) == (CUDNN, "")
        assert not layer.supports_jit  # cuDNN's op is not XLA-compilable
    else:
        assert path != CUDNN and type(layer.cell).__name__ in why


def test_recurrent_dropout_keeps_the_standard_cell_off_cudnn(gpu):
    layer = LSTM(8, recurrent_dropout=0.2)
    layer.build((None, 5, 3))
    assert layer.training_path()[0] != CUDNN and "recurrent dropout" in layer.training_path()[1]


def test_without_a_gpu_nothing_takes_cudnn():
    layer = LSTM(8)
    layer.build((None, 5, 3))
    assert layer.training_path()[0] != CUDNN
    assert layer.training_path()[1] == "no GPU visible"


@pytest.mark.parametrize("go_backwards", [False, True])
def test_the_cudnn_path_gets_the_raw_inputs_and_the_layers_weights(gpu, go_backwards):
    keras.utils.set_random_seed(3)
    inputs = keras.Input((6, 3))
    outputs = LSTM(5, return_sequences=True, go_backwards=go_backwards)(inputs)
    model = keras.Model(inputs, outputs)
    x = np.random.default_rng(0).standard_normal((4, 6, 3)).astype("float32")
    trained_way = np.asarray(model(x, training=True))  # the cuDNN path (simulated)
    assert gpu and gpu[-1]["shape"] == (4, 6, 3) and gpu[-1]["go_backwards"] is go_backwards
    reference = np.asarray(model(x, training=False))  # Keras' loop, the path inference takes
    np.testing.assert_allclose(trained_way, reference, rtol=1e-5, atol=1e-6)


def test_a_variant_logs_why_it_does_not_take_cudnn(gpu, caplog):
    inputs = keras.Input((6, 3))
    model = keras.Model(inputs, LSTM(5, cell="peephole")(inputs))
    with caplog.at_level("WARNING", logger="zoo"):
        model(np.zeros((2, 6, 3), "float32"), training=True)
    assert not gpu  # cuDNN was not called
    assert any("not cuDNN" in r.getMessage() and "PeepholeLSTMCell" in r.getMessage() for r in caplog.records)
    assert LSTM(5, cell="peephole").training_path()[0] in (XLA, "kernel")
