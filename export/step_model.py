"""The step-model contract: a sequence model as ONE time step, states in and states out.

``step_model`` builds ``y_t, states_t = step(x_t, states_{t-1})`` as a Keras functional model from
the SAME layer and cell objects (no weight copies); ``plan`` says which layers stream and why
others cannot; ``step_specs`` / ``step_function`` are what every format's writer traces. The
names (``SIGNATURE``, ``INPUT``, ``OUTPUT``, ``OUT_SUFFIX``) are the contract every runtime keeps.
Writing and verifying step artifacts in each format is ``export.streaming``'s job (see its doc
for what streams).
"""

from dataclasses import dataclass, field

from zoo.compat import inbound_node, keras_history

SIGNATURE = "step"
INPUT = "x_t"
OUTPUT = "y_t"
OUT_SUFFIX = "_out"

# -- the plan: which layers, in which mode ----------------------------------------------------


@dataclass
class _Entry:
    layer: object
    kind: str  # "recurrent" | "step" (per-step, rank-free) | "wrap" (per-step, needs its rank) | "skip"
    sequence: bool  # the layer's input still has a time axis
    return_sequences: bool = False
    state_names: list = field(default_factory=list)
    state_shapes: list = field(default_factory=list)
    state_dtype: str = "float32"


def _not_streamable(layer, reason):
    name = getattr(layer, "name", "?")
    return ValueError(f"not streamable: {type(layer).__name__} {reason} (layer {name!r})")


def _chain(model):
    """The model's layers from its input to its output, nested models flattened -> [(layer, node)]."""
    import keras

    try:
        inputs, outputs = model.inputs, model.outputs
    except (AttributeError, ValueError):
        inputs = outputs = None
    if not inputs:
        raise ValueError("not streamable: the model has no known inputs; build it with keras.Input")
    if len(inputs) != 1:
        raise ValueError(f"not streamable: the model has {len(inputs)} inputs (one input stream is needed)")
    if len(outputs) != 1:
        raise ValueError(f"not streamable: the model has {len(outputs)} outputs (one is supported)")
    chain, tensor = [], outputs[0]
    while True:
        operation, node_index, tensor_index = keras_history(tensor)
        if isinstance(operation, keras.layers.InputLayer):
            if tensor is not inputs[0] and operation is not keras_history(inputs[0])[0]:
                raise ValueError("not streamable: the output does not come from the model's input")
            break
        node = inbound_node(operation, node_index)
        _check_known_blockers(operation)
        source = _main_input(operation, node)
        if tensor_index != 0:
            raise _not_streamable(operation, f"output #{tensor_index} is used (only the main output streams)")
        if isinstance(operation, keras.Model):
            chain.extend(reversed(_chain(operation)))
        else:
            chain.append((operation, node))
        tensor = source
    return list(reversed(chain))


def _rank_free():
    """Layers that act on each step on their own and give the same result at any input rank."""
    import keras

    from zoo.layers import Standardize

    L = keras.layers
    return (L.Dense, Standardize, L.Activation, L.Dropout, L.GaussianNoise, L.GaussianDropout,
            L.AlphaDropout, L.SpatialDropout1D, L.Embedding, L.ReLU, L.LeakyReLU, L.ELU, L.Identity,
            L.Rescaling, L.ActivityRegularization)


def _main_input(operation, node):
    """The one tensor a chain layer reads; a mask is allowed beside it (and ignored)."""
    import keras

    args, kwargs = node.arguments.args, node.arguments.kwargs
    extra = [f"argument #{k}" for k, a in enumerate(args[1:], 1) if _has_tensor(a)]
    extra += [f"{name}=" for name, a in kwargs.items() if name != "mask" and _has_tensor(a)]
    main = args[0] if args else None
    if isinstance(main, (list, tuple, dict)):
        extra.append(f"{len(keras.tree.flatten(main))} tensors as its input")
    if extra or not isinstance(main, keras.KerasTensor):
        detail = ", ".join(extra) or "no tensor input"
        raise _not_streamable(operation, f"takes more than one tensor ({detail}); the graph must be a chain")
    return main


def _has_tensor(value):
    import keras

    return any(isinstance(v, keras.KerasTensor) for v in keras.tree.flatten(value))


def _time_axes_reason(axes, rank):
    """Reason the layer touches the batch or time axis of a rank-``rank`` sequence, or None."""
    if axes is None:
        return None
    axes = [axes] if isinstance(axes, int) else list(axes)
    normal = {a % rank for a in axes}
    if 1 in normal or 0 in normal:
        return f"works along the time axis (axis={axes})"
    return None


_REASONS = (
    # (class name, reason) for the usual suspects; checked by name so optional layers need not exist
    ("Bidirectional", "needs the future"),
    ("MultiHeadAttention", "attends over the whole sequence"),
    ("Attention", "attends over the whole sequence"),
    ("AdditiveAttention", "attends over the whole sequence"),
    ("GroupQueryAttention", "attends over the whole sequence"),
    ("Conv1D", "mixes neighbouring time steps"),
    ("SeparableConv1D", "mixes neighbouring time steps"),
    ("DepthwiseConv1D", "mixes neighbouring time steps"),
    ("Conv1DTranspose", "mixes neighbouring time steps"),
    ("MaxPooling1D", "pools over time"),
    ("AveragePooling1D", "pools over time"),
    ("GlobalMaxPooling1D", "pools over the whole sequence"),
    ("GlobalAveragePooling1D", "pools over the whole sequence"),
    ("Flatten", "folds the time axis into features"),
    ("Reshape", "may reshape across the time axis"),
    ("Permute", "moves the time axis"),
    ("RepeatVector", "repeats a vector over time"),
    ("Cropping1D", "crops the time axis"),
    ("ZeroPadding1D", "pads the time axis"),
    ("UpSampling1D", "resamples the time axis"),
    ("Lambda", "is opaque (a Lambda may look at any step)"),
)


def _check_known_blockers(layer):
    for cls in type(layer).__mro__:
        reason = dict(_REASONS).get(cls.__name__)
        if reason and cls.__module__.startswith(("keras", "zoo")):
            raise _not_streamable(layer, reason)


def _normalization_reason(layer, rank):
    """Normalization broadcasts its statistics right-aligned: per-step unless they vary over time."""
    shape = list(getattr(layer, "_broadcast_shape", None) or [])
    position = 1 - (rank - len(shape))  # the time axis in the statistics' shape
    if 0 <= position < len(shape) and shape[position] not in (1, None):
        return f"has statistics per time step (shape {tuple(shape)})"
    return None


def _classify(layer, node, sequence):
    """-> _Entry for one layer of the chain, or raise ValueError with the reason."""
    import keras

    L = keras.layers
    rank = len(_main_input(layer, node).shape)
    if isinstance(layer, L.RNN):
        if not sequence:
            raise _not_streamable(layer, "gets no sequence (it follows a layer that dropped the time axis)")
        if layer.go_backwards:
            raise _not_streamable(layer, "with go_backwards reads the sequence from its end (needs the future)")
        sizes = layer.cell.state_size
        sizes = list(sizes) if isinstance(sizes, (list, tuple)) else [sizes]
        if not all(isinstance(s, int) for s in sizes):
            raise _not_streamable(layer, f"has nested or non-vector states {sizes} (stacked cells)")
        return _Entry(layer, "recurrent", sequence, return_sequences=bool(layer.return_sequences),
                      state_shapes=[(s,) for s in sizes], state_dtype=layer.compute_dtype)
    if isinstance(layer, L.Masking):
        return _Entry(layer, "skip", sequence)
    if isinstance(layer, _rank_free()):
        return _Entry(layer, "step", sequence)
    if isinstance(layer, L.Normalization):
        reason = _normalization_reason(layer, rank) if sequence else None
        if reason:
            raise _not_streamable(layer, reason)
        return _Entry(layer, "wrap", sequence)
    axis_layers = {L.LayerNormalization: "axis", L.BatchNormalization: "axis", L.Softmax: "axis",
                   L.UnitNormalization: "axis"}
    for cls, attribute in axis_layers.items():
        if isinstance(layer, cls):
            reason = _time_axes_reason(getattr(layer, attribute, None), rank) if sequence else None
            if reason:
                raise _not_streamable(layer, reason)
            return _Entry(layer, "wrap", sequence)
    if isinstance(layer, L.PReLU):
        shared = {a % rank for a in (layer.shared_axes or [])}
        if sequence and 1 not in shared:
            raise _not_streamable(layer, "has one slope per time step (shared_axes lacks the time axis)")
        return _Entry(layer, "wrap", sequence)
    if isinstance(layer, L.TimeDistributed):
        return _Entry(layer, "wrap", sequence)
    if isinstance(layer, L.Layer):
        raise _not_streamable(layer, "is not known to act on each time step separately")
    raise _not_streamable(layer, "is an operation on the whole tensor (it may mix time steps)")


def plan(model):
    """-> the chain of layers as _Entry objects, with state names; raises ValueError if not streamable."""
    chain = _chain(model)
    input_shape = model.inputs[0].shape
    if len(input_shape) < 2:
        raise ValueError(f"not streamable: the input {tuple(input_shape)} has no time axis")
    entries, sequence, index = [], True, 0
    for layer, node in chain:
        entry = _classify(layer, node, sequence)
        if entry.kind == "recurrent":
            n = len(entry.state_shapes)
            entry.state_names = ([f"h_{index}", f"c_{index}"][:n] if n <= 2
                                 else [f"s_{index}_{j}" for j in range(n)])
            index += 1
            sequence = entry.return_sequences
        entries.append(entry)
    return entries, sequence


# -- 1. the step model ----------------------------------------------------------------------


def step_model(model):
    """A functional Keras model for one time step of ``model`` (see the module doc).

    Inputs and outputs are dicts keyed by name: ``x_t``, ``h_0``, ``c_0``, ... ->
    ``y_t``, ``h_0_out``, ``c_0_out``, ... The attribute ``streaming`` holds the names, the
    state shapes and whether the full model's output has a time axis (``per_step_output``).
    """
    import keras
    from keras import ops

    entries, per_step_output = plan(model)
    source = model.inputs[0]
    x_t = keras.Input(tuple(source.shape[2:]), dtype=source.dtype, name=INPUT)
    inputs, outputs, states_in, state_specs = {INPUT: x_t}, {}, {}, []
    for entry in entries:
        for name, shape in zip(entry.state_names, entry.state_shapes):
            states_in[name] = keras.Input(shape, dtype=entry.state_dtype, name=name)
            state_specs.append((name, shape, entry.state_dtype))
    inputs.update(states_in)

    x, new_states = x_t, {}
    for entry in entries:
        layer = entry.layer
        if entry.kind == "skip":
            continue
        if entry.kind == "recurrent":
            states = [states_in[name] for name in entry.state_names]
            output, new = layer.cell(x, states if len(states) > 1 else states[0], training=False)
            new = list(new) if isinstance(new, (list, tuple)) else [new]
            for name, tensor in zip(entry.state_names, new):
                new_states[name + OUT_SUFFIX] = tensor
            x = output
        elif entry.kind == "wrap" and entry.sequence:  # the layer was built for (batch, time, ...)
            x = ops.squeeze(_inference_call(layer, ops.expand_dims(x, 1)), 1)
        else:
            x = _inference_call(layer, x)
    outputs[OUTPUT] = x
    outputs.update(new_states)
    step = keras.Model(inputs, outputs, name=f"{model.name}_step")
    step.streaming = {
        "inputs": [INPUT] + [name for name, _, _ in state_specs],
        "outputs": [OUTPUT] + [name + OUT_SUFFIX for name, _, _ in state_specs],
        "states": state_specs,
        "per_step_output": per_step_output,
        "input_shape": tuple(source.shape[2:]),
        "input_dtype": source.dtype,
    }
    return step


def _inference_call(layer, x):
    """layer(x) in inference mode (dropout and noise off, batch norm on its moving statistics)."""
    import inspect

    try:
        takes_training = "training" in inspect.signature(layer.call).parameters
    except (TypeError, ValueError):
        takes_training = False
    return layer(x, training=False) if takes_training else layer(x)


def step_specs(step, batch):
    """The step model's input signature, ``batch`` fixed or None: what every format traces."""
    import tensorflow as tf

    info = step.streaming
    specs = [tf.TensorSpec([batch, *info["input_shape"]], info["input_dtype"], name=INPUT)]
    specs += [tf.TensorSpec([batch, *shape], dtype, name=name) for name, shape, dtype in info["states"]]
    return specs


def step_function(step):
    """The step model as a function of positional tensors -> outputs by name, in order."""
    names = step.streaming["inputs"]
    order = step.streaming["outputs"]

    def run(*tensors):
        result = step(dict(zip(names, tensors)), training=False)
        return {name: result[name] for name in order}

    return run
