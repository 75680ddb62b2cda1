"""Every private Keras, TensorFlow and LiteRT API the zoo relies on, in one place.

Upgrading Keras or TensorFlow can move or remove any of these. Each is wrapped here, with a test
in ``tests/test_compat.py`` that names it, so an upgrade fails there first and clearly, instead
of somewhere deep in an export. ``pyproject.toml`` pins Keras and TensorFlow to the minor versions
these tests pass on; docs/versions.md says how to move the pin.
"""

from contextlib import contextmanager


def dropout_rnn_cell():
    """Keras' mixin that gives a cell the dropout masks its RNN layer shares across time steps
    (``keras/src/layers/rnn/dropout_rnn_cell.py``; not exported under ``keras.layers``)."""
    from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell

    return DropoutRNNCell


def flatten_layers(model, include_self=False):
    """Every layer inside ``model``, nested ones included (Keras' ``_flatten_layers``)."""
    return list(model._flatten_layers(include_self=include_self))


def keras_history(tensor):
    """``(operation, node_index, tensor_index)``: the layer call that produced a symbolic tensor."""
    return tensor._keras_history


def inbound_node(operation, node_index):
    """The node (call) of ``operation`` at ``node_index``, with its input tensors and arguments."""
    return operation._inbound_nodes[node_index]


@contextmanager
def without_fused_bidirectional(wrappers):
    """Keras' Bidirectional may run both halves through one fused TF op
    (``_can_attempt_fused_lstm``), which would bypass the halves the TFLite lowering replaces."""
    for wrapper in wrappers:
        wrapper._can_attempt_fused_lstm = lambda *args, **kwargs: False
    try:
        yield
    finally:
        for wrapper in wrappers:
            del wrapper._can_attempt_fused_lstm


def set_initial_epoch(model, epoch):
    """Make the next ``fit`` start at ``epoch``, from a callback's ``on_train_begin`` (Keras' own
    ``BackupAndRestore`` sets ``_initial_epoch`` the same way; ``fit`` reads it after that hook)."""
    model._initial_epoch = epoch


def keras_tensorflow_trainer():
    """Keras' TensorFlow trainer module, whose ``reduce_per_replica`` multi-worker fit needs
    rerouted (``zoo.distribute``)."""
    from keras.src.backend.tensorflow import trainer

    return trainer


def is_multi_worker(strategy):
    """Whether Keras reduces over workers for ``strategy`` (``_collective_all_reduce_multi_worker``)."""
    return keras_tensorflow_trainer()._collective_all_reduce_multi_worker(strategy)


def is_per_replica(value):
    """Whether ``value`` holds one value per replica (``_is_per_replica_instance``)."""
    return keras_tensorflow_trainer()._is_per_replica_instance(value)


def litert_ops(interpreter):
    """The operators of a LiteRT interpreter's graph, as dicts with ``op_name`` (``_get_ops_details``)."""
    return interpreter._get_ops_details()


def tflite_schema():
    """TensorFlow's generated flatbuffer schema classes for .tflite files, and its helpers that
    turn a flatbuffer into mutable objects and back (``tensorflow.lite.python``/``tools``)."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    return schema, flatbuffer_utils


def tflite_calibrate_and_quantize(flatbuffer, sequences, ranges=None):
    """A float .tflite -> full int8 (float input and output), calibrated on ``sequences`` (each a
    list of input arrays, batch 1): the two steps ``TFLiteConverter`` runs after converting
    (``_calibrator`` with ``add_intermediate_tensors``, then ``mlir_quantize``), on a flatbuffer
    we edited.

    Unlike the converter, every sequence starts from zero state. Its calibrator resets the
    variable tensors once (in ``Prepare``) and then feeds every sample on top of the last one's
    final h and c. The ranges it records are those of one long sequence, which is wrong for models
    run a sequence at a time. A peephole cell's state drifted to 150 that way, where a reset one
    stays below 13, and that broke its int8 artifact. Each ``Prepare`` here also resizes the input,
    so sequences may differ in length. ``ranges`` {tensor name: (min, max)} replace calibrated
    ranges the calibrator cannot measure (a fused op's cell state).
    """
    import tensorflow as tf
    from tensorflow.lite.python.convert import deduplicate_readonly_buffers, mlir_quantize
    from tensorflow.lite.python.optimize import calibrator

    from zoo.console import stderr_kept_for_errors

    # The Calibrator object must outlive its wrapper: it holds the flatbuffer bytes, which the
    # C++ model reads in place (dropping it segfaulted a later export, a use after free).
    owner = calibrator.Calibrator(calibrator.add_intermediate_tensors(flatbuffer))
    wrapper = owner._calibrator
    for inputs in sequences:
        wrapper.Prepare([list(array.shape) for array in inputs])  # AllocateTensors + ResetVariableTensors
        wrapper.FeedTensor(inputs)
    calibrated = wrapper.Calibrate()
    del wrapper, owner
    if ranges:
        calibrated = _with_ranges(calibrated, ranges)
    # Its C++ prints "fully_quantize: 0, ..." on every call, and its errors only there.
    with stderr_kept_for_errors("the TFLite quantizer failed"):
        quantized = mlir_quantize(calibrated, input_data_type=tf.float32, output_data_type=tf.float32)
    return deduplicate_readonly_buffers(quantized)  # as the converter does after quantizing


def _with_ranges(flatbuffer, ranges):
    import numpy as np

    schema, flatbuffer_utils = tflite_schema()
    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(flatbuffer))
    found = set()
    for graph in model.subgraphs:
        for tensor in graph.tensors:
            name = tensor.name.decode() if isinstance(tensor.name, bytes) else str(tensor.name)
            if name in ranges:
                if tensor.quantization is None:
                    tensor.quantization = schema.QuantizationParametersT()
                low, high = ranges[name]
                tensor.quantization.min = np.asarray([low], "float32")
                tensor.quantization.max = np.asarray([high], "float32")
                found.add(name)
    missing = sorted(set(ranges) - found)
    if missing:
        raise RuntimeError(f"no tensor named {', '.join(missing)} to set a calibration range on")
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def adam_moments(optimizer, variable):
    """``(m, v)``: a Keras ``Adam``'s first and second moment variables for ``variable``
    (``_momentums``, ``_velocities`` and ``_get_variable_index``; Keras has no public accessor)."""
    index = optimizer._get_variable_index(variable)
    return optimizer._momentums[index], optimizer._velocities[index]


def gpu_visible():
    """Whether TensorFlow sees a GPU that Keras' cuDNN path would use (``backend.tensorflow.rnn``'s
    ``_is_gpu_available``)."""
    from keras.src.backend.tensorflow.rnn import _is_gpu_available

    return bool(_is_gpu_available())


def cudnn_lstm(inputs, initial_state_h, initial_state_c, mask, kernel, recurrent_kernel, bias, go_backwards):
    """Keras' TensorFlow ``lstm`` backend function: cuDNN's fused LSTM, or NotImplementedError
    where it cannot run (no GPU, a mask that is not right padding...). -> (last, outputs, [h, c])."""
    from keras.src.backend.tensorflow.rnn import lstm

    return lstm(inputs, initial_state_h, initial_state_c, mask, kernel=kernel, recurrent_kernel=recurrent_kernel,
                bias=bias, activation="tanh", recurrent_activation="sigmoid", return_sequences=True,
                go_backwards=go_backwards, unroll=False)
