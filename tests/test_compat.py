"""One test per private Keras/TF/LiteRT API in ``zoo.compat``: after an upgrade, the name that
broke is in the failing test's name. Also checks that nothing outside ``zoo/compat.py`` reaches
for a private API directly."""

import ast
from pathlib import Path

import numpy as np
import pytest

from zoo import compat

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny_model():
    import keras

    inputs = keras.Input((5, 3))
    hidden = keras.layers.Bidirectional(keras.layers.LSTM(4, return_sequences=True), name="bi")(inputs)
    outputs = keras.layers.Dense(2, name="head")(keras.layers.LSTM(4, name="last")(hidden))
    return keras.Model(inputs, outputs)


def test_keras_src_dropout_rnn_cell_mixin():
    cls = compat.dropout_rnn_cell()
    assert hasattr(cls, "get_dropout_mask") and hasattr(cls, "get_recurrent_dropout_mask")


def test_keras_flatten_layers_finds_nested_layers(tiny_model):
    names = {layer.name for layer in compat.flatten_layers(tiny_model)}
    assert {"bi", "last", "head"} <= names and tiny_model.name not in names
    assert tiny_model in compat.flatten_layers(tiny_model, include_self=True)
    assert any(layer.name.startswith("forward") for layer in compat.flatten_layers(tiny_model))


def test_keras_history_and_inbound_nodes_walk_the_graph(tiny_model):
    operation, node_index, tensor_index = compat.keras_history(tiny_model.outputs[0])
    assert operation.name == "head" and tensor_index == 0
    node = compat.inbound_node(operation, node_index)
    source, _, _ = compat.keras_history(node.input_tensors[0])
    assert source.name == "last"


def test_bidirectional_can_attempt_fused_lstm_is_switched_off_and_restored(tiny_model):
    import keras

    wrapper = next(layer for layer in compat.flatten_layers(tiny_model) if isinstance(layer, keras.layers.Bidirectional))
    assert hasattr(wrapper, "_can_attempt_fused_lstm"), "Keras no longer has Bidirectional._can_attempt_fused_lstm"
    with compat.without_fused_bidirectional([wrapper]):
        assert wrapper._can_attempt_fused_lstm() is False
    assert "_can_attempt_fused_lstm" not in vars(wrapper)


def test_fit_starts_at_initial_epoch_set_in_on_train_begin():
    import keras
    import numpy as np

    class StartAtTwo(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            compat.set_initial_epoch(self.model, 2)

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    history = model.fit(np.ones((4, 3)), np.ones((4, 1)), epochs=4, verbose=0, callbacks=[StartAtTwo()])
    assert history.epoch == [2, 3]


def test_keras_tensorflow_trainer_reduce_per_replica_and_its_helpers():
    import tensorflow as tf

    assert callable(compat.keras_tensorflow_trainer().reduce_per_replica)
    strategy = tf.distribute.get_strategy()
    assert compat.is_multi_worker(strategy) is False  # _collective_all_reduce_multi_worker
    assert compat.is_per_replica(tf.constant(1.0)) is False  # _is_per_replica_instance


def test_keras_tensorflow_rnn_is_gpu_available_and_lstm():
    """``_is_gpu_available`` answers on a CPU machine, and Keras' ``lstm`` backend function, which
    runs cuDNN, refuses (NotImplementedError) where no GPU is, as the cuDNN path expects."""
    assert compat.gpu_visible() is False
    x, h = np.zeros((2, 3, 4), "float32"), np.zeros((2, 5), "float32")
    kernel, recurrent, bias = np.zeros((4, 20), "float32"), np.zeros((5, 20), "float32"), np.zeros(20, "float32")
    with pytest.raises(NotImplementedError):
        compat.cudnn_lstm(x, h, h, None, kernel, recurrent, bias, go_backwards=False)


def test_litert_get_ops_details(tmp_path):
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32)])
    def double(x):
        return tf.nn.relu(x * 2.0)

    converter = tf.lite.TFLiteConverter.from_concrete_functions([double.get_concrete_function()], double)
    path = tmp_path / "m.tflite"
    path.write_bytes(converter.convert())
    names = [op["op_name"] for op in compat.litert_ops(Interpreter(model_path=str(path)))]
    assert "MUL" in names or "RELU" in names


def test_tensorflow_lite_schema_and_flatbuffer_utils_round_trip(tmp_path):
    import tensorflow as tf

    schema, flatbuffer_utils = compat.tflite_schema()
    assert schema.BuiltinOperator.UNIDIRECTIONAL_SEQUENCE_LSTM > 0

    @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32)])
    def plus(x):
        return x + 1.0

    converter = tf.lite.TFLiteConverter.from_concrete_functions([plus.get_concrete_function()], plus)
    flatbuffer = converter.convert()
    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(flatbuffer))
    again = bytes(flatbuffer_utils.convert_object_to_bytearray(model))
    assert len(model.subgraphs) == 1 and len(again) > 0


def test_keras_adam_momentums_velocities_and_variable_index():
    import keras

    weight = keras.Variable(np.ones((2, 3), "float32"))
    optimizer = keras.optimizers.Adam()
    optimizer.build([weight])
    m, v = compat.adam_moments(optimizer, weight)
    assert m.shape == v.shape == (2, 3) and m is not v


_PRIVATE = ("_initial_epoch", "_flatten_layers", "_keras_history", "_inbound_nodes", "_can_attempt_fused_lstm", "_get_ops_details",
            "_collective_all_reduce_multi_worker", "_is_per_replica_instance", "_momentums", "_velocities",
            "_get_variable_index")
_PRIVATE_MODULES = ("keras.src", "tensorflow.lite.python", "tensorflow.lite.tools", "tensorflow.python")


def _sources():
    for folder in ("zoo", "export", "models"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path.name != "compat.py":
                yield path


@pytest.mark.parametrize("path", list(_sources()), ids=lambda p: str(p.relative_to(ROOT)))
def test_private_apis_go_through_compat(path):
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in _PRIVATE:
            found.append(f"line {node.lineno}: .{node.attr}")
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(_PRIVATE_MODULES):
            found.append(f"line {node.lineno}: from {node.module}")
        if isinstance(node, ast.Import):
            found += [f"line {node.lineno}: import {a.name}" for a in node.names if a.name.startswith(_PRIVATE_MODULES)]
    assert not found, f"{path.name} uses private APIs outside zoo/compat.py: {found}"
