"""TFLite's fused ``UNIDIRECTIONAL_SEQUENCE_LSTM`` for every zoo layer the kernel can express.

Without help, the converter turns a Keras RNN into a ``WHILE`` loop over a dozen small ops: 2-6x
slower in LiteRT, and full-int8 calibration of such a loop crashes the converter process. The
converter fuses a function only when it carries the Keras contract (``api_implements="lstm_*"``,
``time_major``, ``go_backwards``; 6 arguments ``x [1,T,I], h0 [1,H], c0 [1,H], kernel [I,4H],
recurrent_kernel [H,4H], bias [4H]`` in gate order i, f, c, o; 5 results of which only the first
two are used). So while the SavedModel is traced for conversion, each supported RNN layer's
``call`` is swapped (an instance attribute, deleted afterwards) for such a function. Its body
is a plain TF loop that the converter erases.

The converter only emits the vanilla cell, with a hard-coded ``cell_clip=10``. ``patch`` then
edits the flatbuffer: ``cell_clip=0`` (Keras never clips) for every fused op, and adds each
variant's extra inputs:

* peephole -> cell-to-gate weights (inputs 9, 10, 11), same equations as ours: i and f look at
  c(t-1), o at c(t);
* CIFG -> the layer is traced as a 4-gate LSTM whose input block is minus the forget block
  (sigmoid(-z) = 1 - sigmoid(z), so even this op computes i = 1 - f). The input-gate tensors
  (inputs 1, 5, 12) are then removed, and TFLite's CIFG kernel computes i = 1 - f from the
  three remaining gates;
* the h/c state: the op keeps it in variable tensors, and the converter may share them with
  other users of an equal zero constant (a WHILE layer's initial state). Each op gets its own;
* layer norm (``normalize_cell=False``) -> per-gate coefficients (inputs 20-23). The kernel applies
  ``LN(x·W + h·R) * coef + bias`` like ours, but its LN epsilon is fixed at 1e-8. LN is scale
  invariant except for epsilon: ``LN_eps(z) == LN_{eps*s^2}(s*z)``, so W and R are traced
  scaled by ``s = sqrt(1e-8 / epsilon)``, which makes the two exactly equal.
  ``normalize_cell=True`` (the default) normalises c before the output tanh. The kernel has no such
  step, so those layers stay on the WHILE path.

Projection (LSTMP): the recurrence reads h_p = h·W_p, so h_p·R = h·(W_p·R). The op is traced as
a plain LSTM of the cell's full width with recurrent kernel W_p·R, and its outputs are multiplied
by W_p: the same numbers, with no flatbuffer surgery on state shapes.

Masks: the artifact has batch 1, so a mask is one row, and for right-padded input (how the zoo
pads) it is a length. The op runs over ``x[:, :sum(mask)]`` and the padded steps get what Keras
gives them: zeros (backwards, or with ``zero_output_for_mask`` as in a Bidirectional) or the last
real output carried forward. A mask with holes in the middle would be read as shorter input.

Mapping ops to layers: after conversion every fused op is matched to the layer whose traced
forget-gate weights (``input_to_forget`` [H,I] and ``recurrent_to_forget`` [H,H], the two
blocks every variant has) are closest to the op's constants. The constants are decoded from
float32, float16 (behind DEQUANTIZE) or int8 (with its scales). Neither the op order (the two
halves of a Bidirectional are independent, so their order is arbitrary) nor tensor names
(the converter rewrites them) are reliable. Weights are, and each layer's match is checked.
"""

import itertools
import math
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

#: The converter hard-codes this LN epsilon (lstm_eval MeanStddevNormalization).
TFLITE_LN_EPSILON = 1e-8
_OP = "UNIDIRECTIONAL_SEQUENCE_LSTM"
# Input slots of the fused op (tensorflow/lite/kernels/lstm_shared.h).
_INPUT_GATE_SLOTS = (1, 5, 12)  # input_to_input, recurrent_to_input, input_gate_bias
_PEEPHOLE_SLOTS = (9, 10, 11)  # cell_to_input, cell_to_forget, cell_to_output
_LAYER_NORM_SLOTS = (20, 21, 22, 23)  # i, f, c, o coefficients
_FINGERPRINT_SLOTS = (2, 6)  # input_to_forget [H,I], recurrent_to_forget [H,H]
_STATE_SLOTS = (18, 19)  # h and c, variable tensors


@dataclass
class FusedLSTM:
    """One RNN layer (or one half of a Bidirectional) traced as a fused op."""

    index: int
    layer: object
    name: str  # "lstm_1" or "bidirectional/forward_lstm"
    kind: str  # lstm | peephole | cifg | layer_norm | projection
    units: int
    calls: int = 0  # traced batch-1 calls that became fused functions
    reason: str = ""  # set when a call had to fall back (initial state...)
    masked: bool = False  # a mask reached the layer: the op runs over the unpadded prefix
    fingerprint: list = field(default_factory=list)  # expected [H,I] and [H,H] forget blocks
    peephole: list = None  # [p_i, p_f, p_o]
    layer_norm: list = None  # [γ_i, γ_f, γ_c, γ_o]

    @property
    def cifg(self):
        return self.kind == "cifg"

    @property
    def label(self):
        return f"{self.name} ({self.kind})"


def _kinds():
    import keras

    from zoo.cells import CIFGLSTMCell, LayerNormLSTMCell, LSTMCell, PeepholeLSTMCell, ProjectionLSTMCell

    return {LSTMCell: "lstm", keras.layers.LSTMCell: "lstm", PeepholeLSTMCell: "peephole",
            CIFGLSTMCell: "cifg", LayerNormLSTMCell: "layer_norm", ProjectionLSTMCell: "projection"}


def why_not_fused(layer):
    """None when the RNN ``layer`` maps onto the fused op, else the reason it does not."""
    import keras

    cell = layer.cell
    kind = _kinds().get(type(cell))
    if kind is None:
        return f"{type(cell).__name__} has no counterpart in the fused LSTM op"
    if layer.stateful:
        return "stateful layers carry state between calls"
    if layer.return_state:
        return "return_state: the fused op's final states cannot be read out"
    names = [keras.activations.serialize(a) for a in (cell.activation, cell.recurrent_activation)]
    if names != ["tanh", "sigmoid"]:
        return f"activations {names[0]!r}/{names[1]!r} (the fused op has tanh/sigmoid only)"
    if getattr(layer, "compute_dtype", "float32") != "float32":
        return f"dtype {layer.compute_dtype} (the fused op is traced in float32)"
    if kind == "layer_norm":
        if cell.normalize_cell:
            return ("normalize_cell=True: TFLite's kernel cannot normalise the cell state "
                    "before the output tanh")
        if not cell.epsilon > 0:
            return f"layer-norm epsilon {cell.epsilon} (must be > 0 to match TFLite's 1e-8)"
    return None


def plan_layers(model):
    """-> ([FusedLSTM], [(label, reason)] for the layers that keep the WHILE path)."""
    import keras

    plans, fallbacks, seen, counter = [], [], set(), itertools.count()

    def consider(layer, name):
        reason = why_not_fused(layer)
        label = f"{name} ({type(layer.cell).__name__})"
        if reason:
            fallbacks.append((label, reason))
        else:
            plans.append(FusedLSTM(next(counter), layer, name, _kinds()[type(layer.cell)], layer.cell.units))

    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.Bidirectional):
            for half in (layer.forward_layer, layer.backward_layer):
                seen.add(id(half))
                consider(half, f"{layer.name}/{half.name}")
        elif isinstance(layer, keras.layers.RNN) and id(layer) not in seen:
            consider(layer, layer.name)
    return plans, fallbacks


def _traced_weights(plan):
    """The cell's weights in the fused op's layout: (kernel, recurrent, bias) tensors."""
    import tensorflow as tf

    cell = plan.layer.cell
    kernel = tf.convert_to_tensor(cell.kernel.value)
    recurrent = tf.convert_to_tensor(cell.recurrent_kernel.value)
    width = kernel.shape[-1]
    bias = tf.convert_to_tensor(cell.bias.value) if cell.use_bias else tf.zeros([width], kernel.dtype)
    if plan.kind == "cifg":  # (f, c, o) -> (-f, f, c, o): σ(-z_f) = 1 - f, the CIFG input gate
        def four(matrix):
            return tf.concat([-matrix[..., : plan.units], matrix], axis=-1)

        kernel, recurrent, bias = four(kernel), four(recurrent), four(bias)
    if plan.kind == "layer_norm":
        scale = math.sqrt(TFLITE_LN_EPSILON / cell.epsilon)
        kernel, recurrent = kernel * scale, recurrent * scale
    if plan.kind == "projection":  # h_p·R = (h·W_p)·R = h·(W_p·R): a plain LSTM over the unprojected h
        recurrent = tf.matmul(tf.convert_to_tensor(cell.projection_kernel.value), recurrent)
    return kernel, recurrent, bias


def _record_extras(plan, kernel, recurrent):
    """Expected constants for the flatbuffer match, and the variant's extra inputs."""
    units, cell = plan.units, plan.layer.cell
    forget = slice(units, 2 * units)
    plan.fingerprint = [np.asarray(kernel)[:, forget].T, np.asarray(recurrent)[:, forget].T]
    if plan.kind == "peephole":
        plan.peephole = [np.asarray(w.numpy(), "float32") for w in
                         (cell.input_peephole, cell.forget_peephole, cell.output_peephole)]
    if plan.kind == "layer_norm":
        plan.layer_norm = [np.asarray(g, "float32") for g in np.split(np.asarray(cell.gate_gamma.numpy()), 4)]


def _lstm_body(inputs, init_h, init_c, kernel, recurrent_kernel, bias, go_backwards):
    """A vanilla LSTM for TF execution; the converter replaces it with the fused op."""
    import tensorflow as tf

    sequence = tf.transpose(inputs, [1, 0, 2])  # [T, B, I]
    if go_backwards:
        sequence = tf.reverse(sequence, [0])
    steps = tf.shape(sequence)[0]
    projected = tf.einsum("tbi,ig->tbg", sequence, kernel) + bias
    written = tf.TensorArray(inputs.dtype, size=steps, element_shape=init_h.shape)

    def step(t, h, c, written):
        z_i, z_f, z_c, z_o = tf.split(projected[t] + tf.matmul(h, recurrent_kernel), 4, axis=1)
        c = tf.sigmoid(z_f) * c + tf.sigmoid(z_i) * tf.tanh(z_c)
        h = tf.sigmoid(z_o) * tf.tanh(c)
        return t + 1, h, c, written.write(t, h)

    _, h, c, written = tf.while_loop(lambda t, *_: t < steps, step, (tf.constant(0), init_h, init_c, written))
    outputs = written.stack()
    return outputs[-1], tf.transpose(outputs, [1, 0, 2]), h, c, tf.constant(0.0)


def _fused_function(n_input, units, go_backwards):
    import tensorflow as tf

    signature = [tf.TensorSpec([1, None, n_input]), tf.TensorSpec([1, units]), tf.TensorSpec([1, units]),
                 tf.TensorSpec([n_input, 4 * units]), tf.TensorSpec([units, 4 * units]),
                 tf.TensorSpec([4 * units])]
    attributes = {"api_implements": f"lstm_{uuid.uuid4()}", "api_preferred_device": "CPU",
                  "time_major": False, "go_backwards": bool(go_backwards)}
    return tf.function(
        lambda x, h0, c0, k, r, b: _lstm_body(x, h0, c0, k, r, b, go_backwards),
        input_signature=signature, autograph=False, experimental_attributes=attributes,
    )


def _fused_call(plan):
    layer = plan.layer
    original = type(layer).call

    def call(sequences, initial_state=None, mask=None, training=None, **kwargs):
        import tensorflow as tf

        reason = ("an initial state is given" if initial_state is not None
                  else "" if len(sequences.shape) == 3
                  else "the input is not a rank-3 (batch, time, features) tensor")
        if reason:
            plan.reason = plan.reason or reason
        if reason or sequences.shape[0] != 1:
            # Keras' ExportArchive also traces once with batch None; only the batch-1 trace is
            # exported, and whether it fused is checked on the flatbuffer.
            return original(layer, sequences, initial_state=initial_state, mask=mask, training=training, **kwargs)
        x = tf.cast(sequences, "float32")
        length = None
        if mask is not None:  # right padding: run the op over the real steps only
            mask = mask[0] if isinstance(mask, (list, tuple)) else mask
            length = tf.reduce_sum(tf.cast(mask[0], "int32"))
            x = x[:, :length]
            plan.masked = True
        kernel, recurrent, bias = _traced_weights(plan)
        if not plan.fingerprint:
            with tf.init_scope():  # eager: the values the converter will freeze
                _record_extras(plan, *(w.numpy() for w in _traced_weights(plan)[:2]))
        zeros = tf.zeros([1, plan.units])
        fused = _fused_function(x.shape[-1], plan.units, layer.go_backwards)
        last, sequence, _, _, _ = fused(x, zeros, zeros, kernel, recurrent, bias)
        plan.calls += 1
        if plan.kind == "projection":  # the op carries the unprojected h; project its outputs
            projection = tf.convert_to_tensor(layer.cell.projection_kernel.value)
            last, sequence = tf.matmul(last, projection), tf.einsum("bth,hp->btp", sequence, projection)
        if not layer.return_sequences:
            return last
        return sequence if length is None else _padded_like_keras(layer, sequence, tf.shape(sequences)[1] - length)

    return call


def _padded_like_keras(layer, sequence, padding):
    """The outputs Keras gives a masked RNN at the padded steps, around the real steps' outputs.

    Backwards, the padding comes first in processing order, before any state: zeros. Forwards,
    zeros with ``zero_output_for_mask`` (Bidirectional sets it), else the last real output repeated.
    """
    import tensorflow as tf

    if layer.go_backwards:
        return tf.pad(sequence, [[0, 0], [padding, 0], [0, 0]])
    if layer.zero_output_for_mask:
        return tf.pad(sequence, [[0, 0], [0, padding], [0, 0]])
    return tf.concat([sequence, tf.tile(sequence[:, -1:], tf.stack([1, padding, 1]))], axis=1)


@contextmanager
def fused_lstm_functions(model):
    """Swap supported layers' ``call`` for fused-op functions while tracing; always restores them.

    Yields ``(plans, fallbacks)``; after tracing, plans with ``reason`` set (a call-time fallback)
    or no ``calls`` did not become fused ops.
    """
    import keras

    plans, fallbacks = plan_layers(model)
    wrappers = [layer for layer in model._flatten_layers(include_self=False)
                if isinstance(layer, keras.layers.Bidirectional)]
    for plan in plans:
        plan.layer.call = _fused_call(plan)
    for wrapper in wrappers:  # Keras' own fused bidirectional path would bypass the halves
        wrapper._can_attempt_fused_lstm = lambda *args, **kwargs: False
    try:
        yield plans, fallbacks
    finally:
        for plan in plans:
            del plan.layer.call
        for wrapper in wrappers:
            del wrapper._can_attempt_fused_lstm


# -- flatbuffer surgery ---------------------------------------------------------------------


def patch(flatbuffer, plans, quantize=None):
    """Set cell_clip=0 on every fused op and add each layer's variant inputs -> (bytes, op count).

    Raises RuntimeError when an op matches no plan or a plan no op.

    ``plans`` are the layers that were traced as fused functions.
    """
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(flatbuffer))
    fused_code = schema.BuiltinOperator.UNIDIRECTIONAL_SEQUENCE_LSTM
    count, matched = 0, set()
    for graph_index, graph in enumerate(model.subgraphs):
        producers = {out: op for op in graph.operators for out in op.outputs}
        for op in graph.operators:
            code = model.operatorCodes[op.opcodeIndex]
            if max(code.builtinCode, code.deprecatedBuiltinCode) != fused_code:
                continue
            count += 1
            op.builtinOptions.cellClip = 0.0
            plan = _match(model, graph, producers, op, plans)
            matched.add(plan.index)
            _add_variant_inputs(model, graph, op, plan, quantize, schema)
            _private_states(model, graph, op, schema)
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
    from tensorflow.lite.python import schema_py_generated as schema

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


def _private_states(model, graph, op, schema):
    """Give the op its own h/c variable tensors.

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
        clone.name = f"{_name(original)}/state{slot}"
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


def _name(tensor):
    return tensor.name.decode() if isinstance(tensor.name, bytes) else str(tensor.name)


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
