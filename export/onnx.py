"""ONNX through tf2onnx, with dynamic batch and time axes and the model's facts in metadata_props.

Zoo cells compute ``x·W + h·R`` then add the bias with a TF BiasAdd, in Keras' gate layout, so
tf2onnx's LSTM rewriter replaces the whole loop with one native ``LSTM`` node (15-30x faster in
ONNX Runtime than the generic ``Loop``). Constants a Keras layer captures instead of storing as
weights (e.g. ``Normalization(mean=...)``) come out of tf2onnx as graph inputs; they are folded
back in as initializers here, so the model has exactly one input.
"""

import json
from pathlib import Path

from export.signature import input_spec, serving_function

#: tf2onnx 1.17 accepts opsets up to 18; ONNX Runtime runs all of them.
DEFAULT_OPSET = 18


def write(model, path, opset=DEFAULT_OPSET, metadata=None):
    import numpy as np
    import tensorflow as tf
    import tf2onnx
    from onnx import checker, numpy_helper

    spec = [input_spec(model)]
    function = tf.function(serving_function(model))
    # tf2onnx traces the same signature again and gets this cached graph, so the names match.
    graph = function.get_concrete_function(*spec).graph
    captured = {
        inner.name: outer for outer, inner in graph.captures if outer.dtype != tf.resource
    }
    proto, _ = tf2onnx.convert.from_function(function, input_signature=spec, opset=opset)
    used = {name for node in proto.graph.node for name in node.input}
    for graph_input in list(proto.graph.input):
        if graph_input.name in captured:
            if graph_input.name in used:
                value = np.asarray(captured[graph_input.name].numpy())
                proto.graph.initializer.append(numpy_helper.from_array(value, graph_input.name))
            proto.graph.input.remove(graph_input)
    for key, value in (metadata or {}).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value if isinstance(value, str) else json.dumps(value)
    proto.producer_name = "lstm-zoo"
    checker.check_model(proto, full_check=True)
    Path(path).write_bytes(proto.SerializeToString())


def op_census(path):
    import onnx

    counts = {}
    for node in onnx.load(str(path)).graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return counts
