"""Native ONNX ``LSTM`` nodes for every zoo layer the op can express.

tf2onnx only recognises the plain Keras loop: a peephole or CIFG cell, a mask, or a
``Bidirectional`` wrapper around a custom cell all become a generic ``Loop`` that ONNX Runtime
runs 15-30x slower. So while the model is traced for tf2onnx, each such layer's ``call`` is
swapped for a placeholder op (a ``tf.numpy_function`` that never runs) which tf2onnx passes
through untouched as a custom-domain node. Afterwards each placeholder is replaced with the
native subgraph: ``Transpose -> LSTM -> reshape`` with the layer's weights reordered from
Keras' gate order (i, f, c, o) to ONNX's (i, o, f, c).

What maps where: peepholes -> input ``P`` (i, o, f); CIFG -> ``input_forget=1`` with the
input-gate block set to minus the forget block (ONNX Runtime derives f = 1 - i);
``go_backwards`` -> ``direction=reverse``; ``Bidirectional`` (merge ``concat``) -> one
``direction=bidirectional`` node; a Keras mask -> ``sequence_lens`` (masks must mark a prefix
of each sequence, i.e. right padding, the way ``Masking`` and ``Embedding(mask_zero=True)``
are used); initial states -> ``initial_h``/``initial_c``. Projection (LSTMP): the recurrence
reads h_p = h·W_p, so h_p·R = h·(W_p·R); the node is a plain LSTM of the cell's full width with
recurrent weights W_p·R, and a MatMul by W_p follows it (a given initial h_p cannot be unprojected,
so such a layer fails the export with that reason). Layer-norm cells have no counterpart in the op
and stay on tf2onnx's ``Loop`` path, as do stateful layers and every cell whose lowering
(``zoo.cells.lowering``) is not the LSTM formula. All of the above is read from that description,
never from the cell's class.
"""

import itertools
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

STUB_DOMAIN = "ai.zoo.native_lstm"
STUB_NAME = "ZooNativeLSTM"

# ONNX activation names for the Keras activations the op supports.
_ACTIVATIONS = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu"}


@dataclass
class NativeLSTM:
    """One Keras layer (or Bidirectional pair) that becomes one ONNX LSTM node."""

    index: int
    layer_name: str
    cell: str
    direction: str  # forward | reverse | bidirectional
    hidden: int
    output_width: int  # hidden, or the projection's width
    weights: dict  # W, R, B, and P when peepholes
    input_forget: bool
    activations: list
    return_sequences: bool
    return_state: bool
    carry_masked_outputs: bool  # Keras repeats the last output over padding; ONNX writes zeros
    inputs: list = field(default_factory=list)  # filled at trace time: "mask", "state"...
    output_shapes: list = field(default_factory=list)  # filled at trace time, -1 = dynamic


#: The op's gate order, and the peephole order of its ``P`` input.
_ONNX_GATES = ("input", "output", "forget", "candidate")
_ONNX_PEEPHOLES = ("input", "output", "forget")


def why_not_native(layer):
    """None when ``layer`` (an RNN) maps onto the ONNX op, else the reason it does not."""
    from zoo.cells.backends import why_not
    from zoo.cells.lowering import describe

    cell = layer.cell
    lowering = describe(cell)
    unfit = why_not("onnx", lowering)
    if unfit:
        return f"{type(cell).__name__} has no counterpart in the ONNX LSTM op: {unfit}"
    if layer.stateful:
        return "stateful layers carry state between calls"
    for activation in (lowering.activation, lowering.recurrent_activation):
        if activation not in _ACTIVATIONS:
            return f"activation {activation!r}"
    return None


def _onnx_weights(cell, lowering):
    """Keras (I, nH) kernels in the lowering's gate order -> ONNX W, R, B (and P) for one direction."""
    units = lowering.units

    def value(attribute):
        return np.asarray(getattr(cell, attribute).numpy())

    kernel, recurrent = value(lowering.kernel), value(lowering.recurrent_kernel)
    if lowering.projection:  # h_p·R = h·(W_p·R): the op runs on the unprojected h
        recurrent = value(lowering.projection) @ recurrent
    bias = value(lowering.bias) if lowering.bias else np.zeros(kernel.shape[1], "float32")

    def blocks(matrix):
        split = dict(zip(lowering.gates, np.split(matrix, len(lowering.gates), axis=-1)))
        if lowering.coupled_input_forget:
            # ONNX Runtime's input_forget computes i = σ(z_i) and f = 1 - i; ours is f = σ(z_f),
            # i = 1 - f. Since σ(-z) = 1 - σ(z), z_i = -z_f gives the same gates.
            split["input"] = -split["forget"]
        return np.concatenate([split[g] for g in _ONNX_GATES], axis=-1)

    weights = {
        "W": blocks(kernel).T,
        "R": blocks(recurrent).T,
        "B": np.concatenate([blocks(bias), np.zeros(4 * units, "float32")]),
    }
    if lowering.peepholes:
        weights["P"] = np.concatenate([value(lowering.peephole(gate)) for gate in _ONNX_PEEPHOLES])
    if lowering.projection:
        weights["Proj"] = value(lowering.projection)
    return {k: v.astype("float32") for k, v in weights.items()}


def _plan(index, layers, name, direction, merged_layer):
    from zoo.cells.lowering import describe

    lowering = describe(layers[0].cell)
    per_direction = [_onnx_weights(layer.cell, describe(layer.cell)) for layer in layers]
    weights = {k: np.stack([w[k] for w in per_direction]) for k in per_direction[0]}
    names = [_ACTIVATIONS[a] for a in (lowering.recurrent_activation, lowering.activation, lowering.activation)]
    return NativeLSTM(
        index=index, layer_name=name, cell=lowering.name, direction=direction, hidden=lowering.units,
        output_width=lowering.output_units,  # h's width (projection: narrower)
        weights=weights, input_forget=lowering.coupled_input_forget, activations=names * len(layers),
        return_sequences=merged_layer.return_sequences, return_state=merged_layer.return_state,
        carry_masked_outputs=not layers[0].zero_output_for_mask,
    )


def plan_layers(model):
    """-> (plans for layers that go native, [(layer name, cell, reason)] for those that do not)."""
    import keras

    from zoo.compat import flatten_layers

    plans, fallbacks, inside_bidirectional, counter = [], [], set(), itertools.count()
    for layer in flatten_layers(model):
        if isinstance(layer, keras.layers.Bidirectional):
            pair = [layer.forward_layer, layer.backward_layer]
            inside_bidirectional.update(id(sub) for sub in pair)
            reason = why_not_native(pair[0]) or why_not_native(pair[1])
            if reason is None and layer.merge_mode != "concat":
                reason = f"merge_mode {layer.merge_mode!r} (only 'concat' is native)"
            if reason is None and type(pair[0].cell) is not type(pair[1].cell):
                reason = "different cells in the two directions"
            if reason:
                fallbacks.append((layer.name, type(pair[0].cell).__name__, reason))
            else:
                pair = pair if not pair[0].go_backwards else pair[::-1]
                plans.append((layer, _plan(next(counter), pair, layer.name, "bidirectional", layer)))
        elif isinstance(layer, keras.layers.RNN) and id(layer) not in inside_bidirectional:
            reason = why_not_native(layer)
            if reason:
                fallbacks.append((layer.name, type(layer.cell).__name__, reason))
            else:
                direction = "reverse" if layer.go_backwards else "forward"
                plans.append((layer, _plan(next(counter), [layer], layer.name, direction, layer)))
    return plans, fallbacks


def _stub_call(layer, plan):
    """A ``call`` with the layer's signature that emits one placeholder op with the right shapes."""
    import tensorflow as tf

    def call(sequences, initial_state=None, mask=None, training=None, **kwargs):
        tensors, plan.inputs = [sequences], []
        if mask is not None:
            if isinstance(mask, (list, tuple)):
                mask = mask[0]
            tensors.append(mask)
            plan.inputs.append("mask")
        for state in initial_state or []:
            tensors.append(state)
            plan.inputs.append("state")
        directions = 2 if plan.direction == "bidirectional" else 1
        width = plan.output_width * directions
        shapes = [[None, None, width] if plan.return_sequences else [None, width]]
        if plan.return_state:
            shapes += [[None, plan.output_width], [None, plan.hidden]] * directions

        def never_runs(*_):
            raise RuntimeError("placeholder for a native ONNX LSTM; only traced, never run")

        outputs = tf.numpy_function(
            never_runs, tensors, Tout=[tf.float32] * len(shapes), stateful=True,
            name=f"{STUB_NAME}{plan.index}",
        )
        # EnsureShape, not set_shape: the shape must survive the GraphDef that tf2onnx reads, or
        # its shape inference of a following Concat (e.g. merging returned states) crashes.
        outputs = [tf.ensure_shape(output, shape) for output, shape in zip(outputs, shapes)]
        plan.output_shapes = [[-1 if d is None else d for d in shape] for shape in shapes]
        return list(outputs) if plan.return_state else outputs[0]

    return call


@contextmanager
def native_lstm_placeholders(model):
    """Swap supported layers' ``call`` for placeholders while tracing; always restores them."""
    plans, fallbacks = plan_layers(model)
    for layer, plan in plans:
        layer.call = _stub_call(layer, plan)
    try:
        yield [plan for _, plan in plans], fallbacks
    finally:
        for layer, _ in plans:
            del layer.call  # back to the class's method


def placeholder_handler(plans):
    """tf2onnx handler for the placeholders: keep them as custom-domain nodes, with the output
    shapes TF lost while freezing (ops after them, e.g. Concat, need the rank)."""
    by_index = {plan.index: plan for plan in plans}

    def handle(ctx, node, name, args):
        node.domain = STUB_DOMAIN
        plan = by_index.get(_stub_index(node.name))
        for output, shape in zip(node.output, plan.output_shapes if plan else []):
            ctx.set_shape(output, shape)
        return node

    return {"PyFunc": (handle, [])}


def _stub_index(node_name):
    tail = node_name.rsplit(STUB_NAME, 1)
    return int(tail[1].split("/")[0].split(":")[0]) if len(tail) == 2 else None


def splice(proto, plans):
    """Replace each placeholder node in ``proto`` with the native LSTM subgraph."""
    from onnx import helper, numpy_helper

    by_index = {plan.index: plan for plan in plans}
    graph = proto.graph
    new_nodes = []
    for node in graph.node:
        if node.domain != STUB_DOMAIN:
            new_nodes.append(node)
            continue
        nodes, initializers = _native_subgraph(node, by_index[_stub_index(node.name)], helper, numpy_helper)
        new_nodes.extend(nodes)
        graph.initializer.extend(initializers)
    del graph.node[:]
    graph.node.extend(new_nodes)
    kept = [op for op in proto.opset_import if op.domain != STUB_DOMAIN]
    del proto.opset_import[:]
    proto.opset_import.extend(kept)
    _fill_output_shapes(proto)


def _fill_output_shapes(proto):
    """tf2onnx could not see through the placeholders; ONNX shape inference now can."""
    from onnx import shape_inference

    inferred = shape_inference.infer_shapes(proto)
    known = {v.name: v.type for v in [*inferred.graph.value_info, *inferred.graph.output]}
    for output in proto.graph.output:
        if not output.type.tensor_type.HasField("shape") and output.name in known:
            output.type.CopyFrom(known[output.name])


def _native_subgraph(stub, plan, helper, numpy_helper):
    prefix = f"{stub.name}/native"
    nodes, initializers = [], []
    names = itertools.count()

    def name(label):
        return f"{prefix}/{label}_{next(names)}"

    def const(label, value):
        tensor = numpy_helper.from_array(np.asarray(value), name(label))
        initializers.append(tensor)
        return tensor.name

    def node(op, inputs, label=None, outputs=1, **attrs):
        out = [name(label or op) for _ in range(outputs)]
        nodes.append(helper.make_node(op, inputs, out, name=name(op + "_node"), **attrs))
        return out if outputs > 1 else out[0]

    x, rest = stub.input[0], list(stub.input[1:])
    mask = rest.pop(0) if "mask" in plan.inputs else None
    states = rest
    directions = 2 if plan.direction == "bidirectional" else 1
    time_major = node("Transpose", [x], perm=[1, 0, 2])
    sequence_lens = ""
    if mask is not None:
        counts = node("Cast", [mask], to=6)  # int32
        sequence_lens = node("ReduceSum", [counts, const("axis1", np.array([1], "int64"))], keepdims=0)
    initial = ["", ""]
    if states:  # Keras order: h, c (forward) then h, c (backward)
        axis0 = const("axis0", np.array([0], "int64"))
        stacked = []
        for k in range(2):
            per_dir = [node("Unsqueeze", [states[2 * d + k], axis0]) for d in range(directions)]
            stacked.append(per_dir[0] if directions == 1 else node("Concat", per_dir, axis=0))
        initial = stacked
    if states and "Proj" in plan.weights:
        raise ValueError(f"{plan.layer_name}: a projection cell's initial h cannot be unprojected for the ONNX LSTM op")
    inputs = [time_major, const("W", plan.weights["W"]), const("R", plan.weights["R"]),
              const("B", plan.weights["B"]), sequence_lens, initial[0], initial[1]]
    if "P" in plan.weights:
        inputs.append(const("P", plan.weights["P"]))
    while inputs and inputs[-1] == "":
        inputs.pop()
    y, y_h, y_c = node(
        "LSTM", inputs, outputs=3, hidden_size=plan.hidden, direction=plan.direction,
        input_forget=int(plan.input_forget), activations=plan.activations,
    )
    if "Proj" in plan.weights:  # [D, H, P] per direction, broadcast over time and batch
        projection = const("Proj", plan.weights["Proj"])
        y, y_h = node("MatMul", [y, projection]), node("MatMul", [y_h, projection])
    outputs = []
    if plan.return_sequences:
        if directions == 1:
            sequence = node("Squeeze", [y, const("axis1", np.array([1], "int64"))])  # [T, B, H]
            if plan.direction == "reverse":  # Keras returns go_backwards outputs in processing order
                sequence = node("Slice", [sequence, const("start", np.array([-1], "int64")),
                                          const("end", np.array([np.iinfo(np.int64).min], "int64")),
                                          const("axis0", np.array([0], "int64")),
                                          const("step", np.array([-1], "int64"))])
            sequence = node("Transpose", [sequence], perm=[1, 0, 2])  # [B, T, H]
        else:
            sequence = node("Transpose", [y], perm=[2, 0, 1, 3])  # [B, T, 2, H]
            sequence = node("Reshape", [sequence, const("shape", np.array([0, 0, -1], "int64"))])
        if mask is not None and plan.carry_masked_outputs and plan.direction != "reverse":
            sequence = _carry_last_output(node, const, sequence, y_h, mask, plan, directions)
        outputs.append(sequence)
    else:
        if directions == 1:
            outputs.append(node("Squeeze", [y_h, const("axis0", np.array([0], "int64"))]))
        else:
            last = node("Transpose", [y_h], perm=[1, 0, 2])
            outputs.append(node("Reshape", [last, const("shape", np.array([0, -1], "int64"))]))
    if plan.return_state:
        for d in range(directions):
            for source in (y_h, y_c):
                picked = node("Gather", [source, const("dir", np.array(d, "int64"))], axis=0)
                outputs.append(picked)
    # Rename the final tensors to the placeholder's outputs so downstream nodes are untouched.
    for produced, wanted in zip(outputs, stub.output):
        nodes.append(helper.make_node("Identity", [produced], [wanted], name=name("out")))
    return nodes, initializers


def _carry_last_output(node, const, sequence, y_h, mask, plan, directions):
    """Over padding Keras repeats the last valid output; ONNX writes zeros. Match Keras."""
    keep = node("Unsqueeze", [mask, const("axis2", np.array([2], "int64"))])  # [B, T, 1]
    if directions == 1:
        last = node("Squeeze", [y_h, const("axis0", np.array([0], "int64"))])  # [B, H]
        last = node("Unsqueeze", [last, const("axis1", np.array([1], "int64"))])  # [B, 1, H]
        return node("Where", [keep, sequence, last])
    # Bidirectional: only the forward half carries over; the backward half is zero there in both.
    forward, backward = node("Split", [sequence, const("halves", np.array([plan.output_width] * 2, "int64"))],
                             outputs=2, axis=2)
    last = node("Gather", [y_h, const("forward", np.array(0, "int64"))], axis=0)
    last = node("Unsqueeze", [last, const("axis1", np.array([1], "int64"))])
    forward = node("Where", [keep, forward, last])
    return node("Concat", [forward, backward], axis=2)
