"""Editing the converted flatbuffer: what the converter cannot emit for TFLite's fused LSTM op.

``export.tflite_lstm`` traces each supported layer as a vanilla fused LSTM; the converter then
emits ``UNIDIRECTIONAL_SEQUENCE_LSTM`` with a hard-coded ``cell_clip=10`` and no variant inputs.
``patch`` matches every op to its traced layer by the layer's forget-gate weights, sets
``cell_clip=0`` (Keras never clips), adds the peephole and layer-norm inputs the plan recorded,
drops the CIFG input-gate inputs, and gives each op its own h/c state tensors. Slot numbers are
the op's (tensorflow/lite/kernels/lstm_shared.h).
"""

import math

import numpy as np

_OP = "UNIDIRECTIONAL_SEQUENCE_LSTM"
# Input slots of the fused op (tensorflow/lite/kernels/lstm_shared.h).
_INPUT_GATE_SLOTS = (1, 5, 12)  # input_to_input, recurrent_to_input, input_gate_bias
_PEEPHOLE_SLOTS = (9, 10, 11)  # cell_to_input, cell_to_forget, cell_to_output
_LAYER_NORM_SLOTS = (20, 21, 22, 23)  # i, f, c, o coefficients
_FINGERPRINT_SLOTS = (2, 6)  # input_to_forget [H,I], recurrent_to_forget [H,H]
_STATE_SLOTS = (18, 19)  # h and c, variable tensors
_STATE_NAMES = {18: "output_state", 19: "cell_state"}


def cell_state_name(plan_name):
    """The name ``patch`` gives a fused layer's cell-state tensor, for setting its int8 range."""
    return f"{plan_name}/{_STATE_NAMES[19]}"


def fused_lstm_ops(model, graph):
    """The ``UNIDIRECTIONAL_SEQUENCE_LSTM`` ops of one subgraph of a flatbuffer object model."""
    from zoo.compat import tflite_schema

    schema, _ = tflite_schema()
    for op in graph.operators:
        code = model.operatorCodes[op.opcodeIndex]
        if max(code.builtinCode, code.deprecatedBuiltinCode) == schema.BuiltinOperator.UNIDIRECTIONAL_SEQUENCE_LSTM:
            yield op


def lstm_variants(flatbuffer):
    """The variant inputs the fused LSTM ops of a .tflite use -> sorted names (empty: standard)."""
    from zoo.compat import tflite_schema

    _, flatbuffer_utils = tflite_schema()
    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(flatbuffer))
    found = set()
    for graph in model.subgraphs:
        for op in fused_lstm_ops(model, graph):
            inputs = list(op.inputs) + [-1] * (24 - len(op.inputs))
            used = {name for name, slots in (("peephole", _PEEPHOLE_SLOTS), ("layer norm", _LAYER_NORM_SLOTS))
                    if any(inputs[slot] >= 0 for slot in slots)}
            found |= used | ({"CIFG"} if inputs[_INPUT_GATE_SLOTS[0]] < 0 else set())
    return sorted(found)


def patch(flatbuffer, plans, quantize=None):
    """Set cell_clip=0 on every fused op and add each layer's variant inputs -> (bytes, op count).

    Raises RuntimeError when an op matches no plan or a plan no op.

    ``plans`` are the layers that were traced as fused functions.
    """
    from zoo.compat import tflite_schema

    schema, flatbuffer_utils = tflite_schema()
    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(flatbuffer))
    count, matched = 0, set()
    for graph_index, graph in enumerate(model.subgraphs):
        producers = {out: op for op in graph.operators for out in op.outputs}
        for op in list(fused_lstm_ops(model, graph)):
            count += 1
            op.builtinOptions.cellClip = 0.0
            plan = _match(model, graph, producers, op, plans)
            matched.add(plan.index)
            _add_variant_inputs(model, graph, op, plan, quantize, schema)
            _private_states(model, graph, op, plan, schema)
        _drop_unused_tensors(model, graph_index, graph)
    _empty_unused_buffers(model)
    missing = [plan.label for plan in plans if plan.index not in matched]
    if missing:  # its function was inlined: a variant would silently run as the vanilla cell
        raise RuntimeError(f"the converter did not fuse {', '.join(missing)}")
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model)), count


def _match(model, graph, producers, op, plans):
    """The plan whose traced forget-gate weights are closest to this op's."""
    found = [_constant(model, graph, producers, op.inputs[slot]) for slot in _FINGERPRINT_SLOTS]
    best, best_error = None, math.inf
    for plan in plans:
        expected = plan.fingerprint
        if any(f is None or f.shape != e.shape for f, e in zip(found, expected)):
            continue
        error = max(float(np.max(np.abs(f - e))) / (float(np.max(np.abs(e))) + 1e-12)
                    for f, e in zip(found, expected))
        if error < best_error:
            best, best_error = plan, error
    # Exact in float, ~1e-3 in float16, up to half a step (1/254) of int8 per-tensor scales.
    if best is None or best_error > 0.02:
        raise RuntimeError(f"a fused {_OP} op matches none of the traced layers (closest: {best_error:.3g})")
    return best


def _constant(model, graph, producers, index, depth=0):
    """A constant tensor's float value (float32, float16, int8 with scales), through DEQUANTIZE."""
    if index < 0:
        return None
    tensor = graph.tensors[index]
    data = model.buffers[tensor.buffer].data if tensor.buffer else None
    if data is None or len(data) == 0:
        op = producers.get(index)
        if op is None or depth > 2:
            return None
        return _constant(model, graph, producers, op.inputs[0], depth + 1)
    from zoo.compat import tflite_schema

    schema, _ = tflite_schema()
    raw = np.asarray(data, np.uint8).tobytes()
    dtypes = {schema.TensorType.FLOAT32: "<f4", schema.TensorType.FLOAT16: "<f2", schema.TensorType.INT8: "i1"}
    if tensor.type not in dtypes:
        return None
    value = np.frombuffer(raw, dtypes[tensor.type]).astype("float64").reshape(tensor.shape)
    q = tensor.quantization
    if tensor.type == schema.TensorType.INT8 and q is not None and q.scale is not None:
        scale, zero = np.asarray(q.scale, "float64"), np.asarray(q.zeroPoint if q.zeroPoint is not None else 0)
        shape = [1] * value.ndim
        if scale.size > 1:
            shape[q.quantizedDimension] = -1
        value = (value - zero.reshape(shape)) * scale.reshape(shape)
    return value


def _add_variant_inputs(model, graph, op, plan, quantize, schema):
    inputs = list(op.inputs) + [-1] * (24 - len(op.inputs))
    hybrid = graph.tensors[inputs[2]].type == schema.TensorType.INT8 and quantize == "dynamic"
    if plan.peephole is not None:
        for slot, weight in zip(_PEEPHOLE_SLOTS, plan.peephole):
            # The hybrid (int8 weights, float activations) kernel wants int8 peepholes with a scale.
            inputs[slot] = _add_constant(model, graph, weight, f"{plan.name}/peephole_{slot}", schema, int8=hybrid)
    if plan.layer_norm is not None:
        for slot, gamma in zip(_LAYER_NORM_SLOTS, plan.layer_norm):
            inputs[slot] = _add_constant(model, graph, gamma, f"{plan.name}/layer_norm_{slot}", schema)
    if plan.cifg:
        for slot in (*_INPUT_GATE_SLOTS, _PEEPHOLE_SLOTS[0], _LAYER_NORM_SLOTS[0]):
            inputs[slot] = -1
    op.inputs = inputs


def _private_states(model, graph, op, plan, schema):
    """Give the op its own h/c variable tensors, named after the layer.

    The converter folds the zero initial state into one constant and makes it the op's variable
    state tensor, and other ops that use equal zeros (a WHILE loop's initial state) may read the
    same tensor, so a later layer would start from this layer's final state. The op gets fresh
    variable tensors. A shared float original becomes a plain zero constant for the other users.
    """
    import copy

    for slot in _STATE_SLOTS:
        index = op.inputs[slot]
        users = [other for other in graph.operators if other is not op and index in list(other.inputs)]
        original = graph.tensors[index]
        clone = copy.deepcopy(original)
        clone.name = f"{plan.name}/{_STATE_NAMES[slot]}"
        clone.isVariable, clone.buffer = True, 0
        graph.tensors.append(clone)
        inputs = list(op.inputs)
        inputs[slot] = len(graph.tensors) - 1
        op.inputs = inputs
        if users and original.type == schema.TensorType.FLOAT32:
            buffer = schema.BufferT()
            buffer.data = np.zeros(int(np.prod(original.shape)) * 4, np.uint8)
            model.buffers.append(buffer)
            original.isVariable, original.buffer = False, len(model.buffers) - 1


def _add_constant(model, graph, value, name, schema, int8=False):
    value = np.asarray(value, "float32")
    tensor = schema.TensorT()
    tensor.shape, tensor.name = list(value.shape), name
    if int8:
        scale = float(np.max(np.abs(value))) / 127.0 or 1.0
        data = np.clip(np.round(value / scale), -127, 127).astype("int8")
        tensor.type = schema.TensorType.INT8
        tensor.quantization = schema.QuantizationParametersT()
        tensor.quantization.scale, tensor.quantization.zeroPoint = [scale], [0]
    else:
        data = value
        tensor.type = schema.TensorType.FLOAT32
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(data.tobytes(), np.uint8)
    model.buffers.append(buffer)
    tensor.buffer = len(model.buffers) - 1
    graph.tensors.append(tensor)
    return len(graph.tensors) - 1


def _drop_unused_tensors(model, graph_index, graph):
    """Remove tensors no op or signature uses any more (the CIFG input-gate weights)."""
    used = set(graph.inputs) | set(graph.outputs)
    for op in graph.operators:
        for indices in (op.inputs, op.outputs, op.intermediates):
            used.update(i for i in (indices if indices is not None else []) if i >= 0)
    if len(used) == len(graph.tensors):
        return
    remap = {old: new for new, old in enumerate(sorted(used))}
    graph.tensors = [graph.tensors[old] for old in sorted(used)]

    def renumber(indices):
        return None if indices is None else [remap[i] if i >= 0 else i for i in indices]

    graph.inputs, graph.outputs = renumber(graph.inputs), renumber(graph.outputs)
    for op in graph.operators:
        op.inputs, op.outputs = renumber(op.inputs), renumber(op.outputs)
        op.intermediates = renumber(op.intermediates)
    for signature in model.signatureDefs or []:
        if signature.subgraphIndex == graph_index:
            for entry in (signature.inputs or []) + (signature.outputs or []):
                entry.tensorIndex = remap[entry.tensorIndex]


def _empty_unused_buffers(model):
    used = {tensor.buffer for graph in model.subgraphs for tensor in graph.tensors}
    used.update(entry.buffer for entry in model.metadata or [])
    for index, buffer in enumerate(model.buffers):
        if index not in used:
            buffer.data = None
