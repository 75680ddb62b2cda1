"""ONNX through tf2onnx, with dynamic batch and time axes and the model's facts in metadata_props.

Every LSTM layer the ONNX ``LSTM`` op can express becomes exactly one native node (see
``export.onnx_lstm``), 15-30x faster in ONNX Runtime than the generic ``Loop`` tf2onnx makes of
custom cells. Layer-norm cells stay on the ``Loop`` path, and the report says so layer by layer.
The models' input and output scalers are folded into the LSTM's and the head's weights
(``export.onnx_fold``), so at batch 1 little but the native op is left to run. Constants a Keras layer captures instead of storing as
weights (e.g. ``Normalization(mean=...)``) come out of tf2onnx as graph inputs; they are folded
back in as initializers here, so the model has exactly one input.
"""

import json
from pathlib import Path

from zoo.export.onnx_fold import fold_affines
from zoo.export.onnx_lstm import native_lstm_placeholders, placeholder_handler, splice
from zoo.export.signature import input_spec, serving_function

#: tf2onnx 1.17 accepts opsets up to 18; ONNX Runtime runs all of them.
DEFAULT_OPSET = 18


def convert_function(function, input_signature, opset=DEFAULT_OPSET, custom_op_handlers=None):
    """tf2onnx's ``from_function``, with the constants the graph captured folded in as initializers."""
    import numpy as np
    import tensorflow as tf
    import tf2onnx
    from onnx import numpy_helper

    # tf2onnx traces the same signature again and gets this cached graph, so the names match.
    graph = function.get_concrete_function(*input_signature).graph
    captured = {inner.name: outer for outer, inner in graph.captures if outer.dtype != tf.resource}
    proto, _ = tf2onnx.convert.from_function(
        function, input_signature=input_signature, opset=opset, custom_op_handlers=custom_op_handlers
    )
    used = {name for node in proto.graph.node for name in node.input}
    for graph_input in list(proto.graph.input):
        if graph_input.name in captured:
            if graph_input.name in used:
                value = np.asarray(captured[graph_input.name].numpy())
                proto.graph.initializer.append(numpy_helper.from_array(value, graph_input.name))
            proto.graph.input.remove(graph_input)
    proto.producer_name = "lstm-zoo"
    return proto


def write(model, path, opset=DEFAULT_OPSET, metadata=None):
    """Write ``path``; -> which recurrent layers became native LSTM nodes and which did not, why."""
    import tensorflow as tf
    from onnx import checker

    spec = [input_spec(model)]
    with native_lstm_placeholders(model) as (plans, fallbacks):
        function = tf.function(serving_function(model))
        proto = convert_function(function, spec, opset, custom_op_handlers=placeholder_handler(plans))
    splice(proto, plans)
    folded = fold_affines(proto)  # the scalers' elementwise nodes into the LSTM's and head's weights
    for key, value in (metadata or {}).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value if isinstance(value, str) else json.dumps(value)
    checker.check_model(proto, full_check=True)
    Path(path).write_bytes(proto.SerializeToString())
    return {
        "native_lstm": [f"{p.layer_name} ({p.cell}, {p.direction})" for p in plans],
        "loop_fallback": [f"{name} ({cell}): {reason}" for name, cell, reason in fallbacks],
        "folded": folded,
    }


def write_step(step, path, opset=DEFAULT_OPSET):
    """``export.streaming``'s step model, dynamic batch -> the artifact's (input names, output names)."""
    import tensorflow as tf
    from onnx import checker

    from zoo.export.step_model import step_function, step_specs

    proto = convert_function(tf.function(step_function(step)), step_specs(step, None), opset)
    entry = proto.metadata_props.add()
    entry.key, entry.value = "zoo.streaming", "feed each *_out output back as the input of the same name"
    checker.check_model(proto, full_check=True)
    Path(path).write_bytes(proto.SerializeToString())
    return [i.name for i in proto.graph.input], [o.name for o in proto.graph.output]


def op_census(path):
    import onnx

    counts = {}
    for node in onnx.load(str(path)).graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return counts


def quantize(mode, source, target):
    """The ``mode``-quantized copy of the float artifact ``source`` (the modes the ONNX format
    declares in ``export.formats``; an undeclared one is a programming error)."""
    if mode == "dynamic":
        return quantize_dynamic(source, target)
    if mode == "float16":
        return to_float16(source, target)
    raise ValueError(f"ONNX has no quantization mode {mode!r}")


def quantize_dynamic(source, target):
    """Int8 weights, activations quantized on the fly (ONNX Runtime's dynamic quantization):
    LSTM nodes become com.microsoft DynamicQuantizeLSTM, MatMuls MatMulInteger.

    Weights per channel in 7 bits (``reduce_range``): CPUs without VNNI multiply uint8 activations
    by int8 weights with AVX2's ``vpmaddubsw``, which saturates pairs of products at int16, and
    full 8-bit weights overflow it. On the released forecaster the output moved by 3.3% (mean)
    with per-tensor 8-bit weights, 7.5% per channel, 0.1% per channel in 7 bits."""
    from onnxruntime.quantization import QuantType
    from onnxruntime.quantization import quantize_dynamic as ort_quantize_dynamic

    import logging

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # it advises "pre-processing" on every call, on the root logger
    try:
        ort_quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True,
                             reduce_range=True)
    finally:
        root.setLevel(level)
    return {"quantize": "dynamic"}


def to_float16(source, target):
    """Float16 weights and arithmetic inside, float32 inputs and outputs: the GPU artifact (ONNX
    Runtime's CUDA LSTM kernel takes float16; half the bytes). Converted by onnxconverter-common."""
    import onnx
    from onnxconverter_common import float16

    converted = float16.convert_float_to_float16(onnx.load(str(source)), keep_io_types=True)
    _casts_follow_value_info(converted)
    onnx.checker.check_model(converted, full_check=True)
    Path(target).write_bytes(converted.SerializeToString())
    return {"quantize": "float16",
            "note": "checked in ONNX Runtime's CPU provider, which inserts casts to run float16 LSTM/MatMul nodes in "
                    "float32: the check covers the float16 weights; float16 arithmetic happens on CUDA"}


def _casts_follow_value_info(model):
    """The converter retypes a Cast's output to float16 but leaves the Cast's own ``to=FLOAT``
    (the checker then rejects the model): make each such Cast produce what its consumers expect."""
    from onnx import TensorProto

    declared = {v.name: v.type.tensor_type.elem_type for v in model.graph.value_info}
    for node in model.graph.node:
        if node.op_type != "Cast" or declared.get(node.output[0]) != TensorProto.FLOAT16:
            continue
        for attribute in node.attribute:
            if attribute.name == "to" and attribute.i == TensorProto.FLOAT:
                attribute.i = TensorProto.FLOAT16
