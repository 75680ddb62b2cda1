"""TFLite's fused ``UNIDIRECTIONAL_SEQUENCE_LSTM`` for every zoo layer the kernel can express.

Without help, the converter turns a Keras RNN into a ``WHILE`` loop over a dozen small ops: 2-6x
slower in LiteRT, and full-int8 calibration of such a loop crashes the converter process. The
converter fuses a function only when it carries the Keras contract (``api_implements="lstm_*"``,
``time_major``, ``go_backwards``; 6 arguments ``x [1,T,I], h0 [1,H], c0 [1,H], kernel [I,4H],
recurrent_kernel [H,4H], bias [4H]`` in gate order i, f, c, o; 5 results of which only the first
two are used). So while the SavedModel is traced for conversion, each supported RNN layer's
``call`` is swapped (an instance attribute, deleted afterwards) for such a function. Its body
is a plain TF loop that the converter erases.

Which layers fuse, and how, is read from the cell's lowering (``zoo.cells.lowering``), never
from its class; a cell whose description does not fit stays on the ``WHILE`` path.

The converter only emits the vanilla cell, with a hard-coded ``cell_clip=10``.
``export.tflite_flatbuffer.patch`` then edits the flatbuffer: ``cell_clip=0`` (Keras never
clips) for every fused op, and adds each variant's extra inputs:

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


@dataclass
class FusedLSTM:
    """One RNN layer (or one half of a Bidirectional) traced as a fused op."""

    index: int
    layer: object
    name: str  # "lstm_1" or "bidirectional/forward_lstm"
    kind: str  # the cell's registry name: lstm | peephole | cifg | layer_norm | projection...
    units: int
    lowering: object  # the cell's ``zoo.cells.lowering.Lowering``
    calls: int = 0  # traced batch-1 calls that became fused functions
    reason: str = ""  # set when a call had to fall back (initial state...)
    masked: bool = False  # a mask reached the layer: the op runs over the unpadded prefix
    fingerprint: list = field(default_factory=list)  # expected [H,I] and [H,H] forget blocks
    peephole: list = None  # [p_i, p_f, p_o]
    layer_norm: list = None  # [γ_i, γ_f, γ_c, γ_o]

    @property
    def cifg(self):
        return self.lowering.coupled_input_forget

    @property
    def label(self):
        return f"{self.name} ({self.kind})"


#: The op's peephole inputs, in slot order.
PEEPHOLE_GATES = ("input", "forget", "output")


def why_not_fused(layer):
    """None when the RNN ``layer`` maps onto the fused op, else the reason it does not."""
    from zoo.cells.backends import why_not
    from zoo.cells.lowering import describe

    cell = layer.cell
    lowering = describe(cell)
    unfit = why_not("tflite", lowering)
    if unfit:
        return f"{type(cell).__name__} has no counterpart in the fused LSTM op: {unfit}"
    if layer.stateful:
        return "stateful layers carry state between calls"
    if layer.return_state:
        return "return_state: the fused op's final states cannot be read out"
    names = [lowering.activation, lowering.recurrent_activation]
    if names != ["tanh", "sigmoid"]:
        return f"activations {names[0]!r}/{names[1]!r} (the fused op has tanh/sigmoid only)"
    if getattr(layer, "compute_dtype", "float32") != "float32":
        return f"dtype {layer.compute_dtype} (the fused op is traced in float32)"
    return None


def plan_layers(model):
    """-> ([FusedLSTM], [(label, reason)] for the layers that keep the WHILE path)."""
    import keras

    from zoo.cells.lowering import describe
    from zoo.compat import flatten_layers

    plans, fallbacks, seen, counter = [], [], set(), itertools.count()

    def consider(layer, name):
        reason = why_not_fused(layer)
        label = f"{name} ({type(layer.cell).__name__})"
        if reason:
            fallbacks.append((label, reason))
        else:
            lowering = describe(layer.cell)
            plans.append(FusedLSTM(next(counter), layer, name, lowering.name, lowering.units, lowering))

    for layer in flatten_layers(model):
        if isinstance(layer, keras.layers.Bidirectional):
            for half in (layer.forward_layer, layer.backward_layer):
                seen.add(id(half))
                consider(half, f"{layer.name}/{half.name}")
        elif isinstance(layer, keras.layers.RNN) and id(layer) not in seen:
            consider(layer, layer.name)
    return plans, fallbacks


def _traced_weights(plan):
    """The cell's weights in the fused op's layout: (kernel, recurrent, bias) constants.

    Computed eagerly: traced as ops on the variables, a product larger than its factors (the
    projection's W_p·R) stays a MATMUL in the flatbuffer, since constant folding will not grow the
    model, and the op then has no constant recurrent weights to match or quantize.
    """
    import tensorflow as tf

    with tf.init_scope():
        return tuple(tf.constant(w.numpy()) for w in _layout(plan))


def _layout(plan):
    import tensorflow as tf

    cell, lowering = plan.layer.cell, plan.lowering

    def value(attribute):
        return tf.convert_to_tensor(getattr(cell, attribute).value)

    kernel, recurrent = value(lowering.kernel), value(lowering.recurrent_kernel)
    width = kernel.shape[-1]
    bias = value(lowering.bias) if lowering.bias else tf.zeros([width], kernel.dtype)
    if lowering.coupled_input_forget:  # (f, c, o) -> (-f, f, c, o): σ(-z_f) = 1 - f, the CIFG input gate
        def four(matrix):
            return tf.concat([-matrix[..., : plan.units], matrix], axis=-1)

        kernel, recurrent, bias = four(kernel), four(recurrent), four(bias)
    if lowering.gate_norm is not None:
        scale = math.sqrt(TFLITE_LN_EPSILON / lowering.gate_norm.epsilon)
        kernel, recurrent = kernel * scale, recurrent * scale
    if lowering.projection:  # h_p·R = (h·W_p)·R = h·(W_p·R): a plain LSTM over the unprojected h
        recurrent = tf.matmul(value(lowering.projection), recurrent)
    return kernel, recurrent, bias


def _record_extras(plan, kernel, recurrent):
    """Expected constants for the flatbuffer match, and the variant's extra inputs."""
    units, cell, lowering = plan.units, plan.layer.cell, plan.lowering
    forget = slice(units, 2 * units)
    plan.fingerprint = [np.asarray(kernel)[:, forget].T, np.asarray(recurrent)[:, forget].T]
    if lowering.peepholes:
        plan.peephole = [np.asarray(getattr(cell, lowering.peephole(gate)).numpy(), "float32")
                         for gate in PEEPHOLE_GATES]
    if lowering.gate_norm is not None:
        gamma = np.asarray(getattr(cell, lowering.gate_norm.gamma).numpy())
        plan.layer_norm = [np.asarray(g, "float32") for g in np.split(gamma, len(lowering.gates))]


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
                _record_extras(plan, kernel.numpy(), recurrent.numpy())
        zeros = tf.zeros([1, plan.units])
        fused = _fused_function(x.shape[-1], plan.units, layer.go_backwards)
        last, sequence, _, _, _ = fused(x, zeros, zeros, kernel, recurrent, bias)
        plan.calls += 1
        if plan.lowering.projection:  # the op carries the unprojected h; project its outputs
            projection = tf.convert_to_tensor(getattr(layer.cell, plan.lowering.projection).value)
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

    from zoo.compat import flatten_layers, without_fused_bidirectional

    plans, fallbacks = plan_layers(model)
    # Keras' own fused bidirectional path would bypass the halves
    wrappers = [layer for layer in flatten_layers(model) if isinstance(layer, keras.layers.Bidirectional)]
    for plan in plans:
        plan.layer.call = _fused_call(plan)
    try:
        with without_fused_bidirectional(wrappers):
            yield plans, fallbacks
    finally:
        for plan in plans:
            del plan.layer.call


def cell_state_peaks(model, plans, inputs, batch=64):
    """Each fused layer's largest |c| over every step of ``inputs``, in Keras -> {plan.name: peak}.

    For int8, the cell state gets a power-of-two int16 scale from its calibrated range. TFLite's
    calibrator reads that range from the op's variable tensor after the op has run, so it sees
    each sequence's final state only, never the states along it. A GunPoint model's cell state
    peaked at 1.5 mid-series and ended within ±0.95, so the artifact clipped it at ±1 and its
    accuracy fell from 0.81 to 0.69. Here each layer's call is wrapped while the model runs
    eagerly, so nested layers, Bidirectional halves and masks are seen as Keras feeds them.
    """
    import keras

    from zoo.compat import flatten_layers, without_fused_bidirectional

    peaks = {plan.name: 0.0 for plan in plans}

    def probe(plan):
        layer, original = plan.layer, type(plan.layer).call

        def call(sequences, initial_state=None, mask=None, training=None, **kwargs):
            peaks[plan.name] = max(peaks[plan.name], _peak_cell_state(layer, sequences, mask))
            return original(layer, sequences, initial_state=initial_state, mask=mask, training=training, **kwargs)

        return call

    wrappers = [layer for layer in flatten_layers(model) if isinstance(layer, keras.layers.Bidirectional)]
    for plan in plans:
        plan.layer.call = probe(plan)
    try:
        with without_fused_bidirectional(wrappers):
            for start in range(0, len(inputs), batch):
                model(inputs[start : start + batch], training=False)
    finally:
        for plan in plans:
            del plan.layer.call
    return peaks


def _peak_cell_state(layer, sequences, mask):
    """max |c| over the steps a (masked) RNN layer runs its cell on; c is every zoo and Keras
    LSTM cell's second state."""
    import tensorflow as tf

    x, cell = tf.cast(sequences, "float32"), layer.cell
    states = [tf.zeros([x.shape[0], size]) for size in cell.state_size]
    if mask is not None:
        mask = tf.cast(mask[0] if isinstance(mask, (list, tuple)) else mask, bool)
    steps = range(x.shape[1])
    peak = tf.zeros([])
    for t in reversed(steps) if layer.go_backwards else steps:
        _, new = cell(x[:, t], states, training=False)
        if mask is not None:  # padded steps keep the state, as Keras' masked loop does
            new = [tf.where(mask[:, t, None], n, s) for n, s in zip(new, states)]
        states = list(new)
        peak = tf.maximum(peak, tf.reduce_max(tf.abs(states[1])))
    return float(peak)
