"""Streaming ("stateful") deployment: the model as ONE time step, states in and states out.

A sequence model exported whole (``export.savedmodel`` / ``tflite`` / ``onnx``) needs the entire
window at every call. A device that receives one value at a time wants instead
``y_t, states_t = step(x_t, states_{t-1})``, carrying the states itself. ``step_model`` builds that
step as a Keras functional model from the SAME layer and cell objects (no weight copies):

* inputs ``x_t`` (batch, *features) (or (batch,) int tokens) and, for every recurrent layer k in
  order, its states ``h_k``, ``c_k`` (a one-state cell has ``h_k`` only; more states: ``s_k_0``..);
* outputs ``y_t`` and the new states ``h_k_out``, ``c_k_out``... Feed ``*_out`` back as ``*``.

Starting from zero states (the RNN default), ``y_t`` after x_1..x_t is what the full model gives:
for a recurrent layer with ``return_sequences=False`` its output on the prefix x_1..x_t, with
``return_sequences=True`` its output at position t.

Supported: a chain from the single input to the single output of per-step layers (Dense,
Standardize, Normalization, Activation, the Dropout family, Embedding, Masking (skipped: a
streamed step is never padding), LayerNormalization / BatchNormalization / Softmax off the time
axis, TimeDistributed, elementwise activations) and forward ``keras.layers.RNN`` layers (zoo
``LSTM`` with any zoo cell, ``keras.layers.LSTM``/``GRU``/``SimpleRNN``), nested models included.
Anything that looks at other time steps raises ``ValueError("not streamable: ...")``.

Masks are not streamed: a Masking layer is skipped and an ``Embedding(mask_zero=True)`` mask is
ignored, because a streamed step is never padding. Feeding a step that the full model would
mask (all ``mask_value``, or token 0) therefore updates the states where Keras would skip it.

``write_streaming`` has every export format (``export.formats``) write the step model into its
``step_filename``: ``saved_model_step/`` (signature ``step``, dynamic batch),
``model.step.tflite`` (batch 1, builtins only, through a SavedModel as ``export.tflite`` does) and
``model.step.onnx`` (tf2onnx, opset 18, dynamic batch). ``StepRunner`` / ``run_steps`` feed a
sequence through any of them step by step, in the format's own runner; ``verify_streaming``
checks them against Keras on every prefix.
"""

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from zoo.export.formats import FORMATS as REGISTRY
from zoo.export.formats import detect
from zoo.export.runtime import artifact_size
from zoo.export.verify import compare
from zoo.compat import inbound_node, keras_history

FORMATS = tuple(REGISTRY)  # every export format writes a step artifact
FILENAMES = {name: fmt.step_filename for name, fmt in REGISTRY.items()}
SIGNATURE = "step"
INPUT = "x_t"
OUTPUT = "y_t"
OUT_SUFFIX = "_out"
RTOL = ATOL = 1e-4
#: verify_streaming runs the full model on every prefix only up to this many steps ("if cheap").
MAX_PREFIX_STEPS = 64


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


# -- 2. writing the artifacts -----------------------------------------------------------------


def write_streaming(model, directory, formats=FORMATS, opset=None):
    """Write the step artifacts into ``directory`` -> {format: {path, bytes, inputs, outputs}}.

    ``opset``: for ONNX (default: ``export.onnx.DEFAULT_OPSET``)."""
    formats = list(formats)
    unknown = [f for f in formats if f not in REGISTRY]
    if unknown:
        raise ValueError(f"unknown streaming format(s) {unknown}; choose from {', '.join(FORMATS)}")
    if opset is None:
        from zoo.export.onnx import DEFAULT_OPSET as opset
    step = step_model(model)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    report = {}
    for name in formats:
        fmt = REGISTRY[name]
        path = directory / fmt.step_filename
        try:
            found_inputs, found_outputs = fmt.write_step(step, path, opset=opset)
            inputs = _ordered(found_inputs, step.streaming["inputs"])
            outputs = _ordered(found_outputs, step.streaming["outputs"])
        except Exception:  # never leave half an artifact behind
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
            raise
        report[name] = {"path": str(path), "bytes": artifact_size(path), "inputs": inputs, "outputs": outputs}
    return report


def _ordered(found, expected):
    """The artifact's names in the step model's order; a missing or extra name is an error."""
    if sorted(found) != sorted(expected):
        raise RuntimeError(f"the artifact's names {sorted(found)} differ from the step model's {sorted(expected)}")
    return list(expected)


# -- running an artifact step by step -------------------------------------------------------


def artifact_kind(path):
    fmt = detect(path) if Path(path).exists() else None
    if fmt is None:
        raise ValueError(f"{path}: not a step artifact (one of: {', '.join(FILENAMES.values())})")
    return fmt.name


class StepRunner:
    """Runs a step artifact in its format's runner, carrying its states between calls (zeros
    after ``reset``).

    ``inputs`` / ``outputs`` are the artifact's names; every output ``NAME_out`` is fed back as
    input ``NAME`` on the next step. TFLite artifacts take batch 1.
    """

    def __init__(self, path, kind=None):
        self.path = Path(path)
        self.kind = kind or artifact_kind(path)
        self._runner = REGISTRY[self.kind].runner(self.path, threads=1)  # one step is too small to split
        self.specs = dict(sorted(self._runner.specs.items(), key=lambda kv: _input_order(kv[0])))
        self.inputs = list(self.specs)
        self.state_names = [name for name in self.inputs if name != INPUT]
        self.outputs = [OUTPUT] + [name + OUT_SUFFIX for name in self.state_names]
        self.states = {}

    @property
    def batch_fixed(self):
        return self.specs[INPUT][0][0]  # None when any batch goes

    def reset(self, batch=1):
        """Zero states for ``batch`` sequences (and zero the artifact's own variable tensors)."""
        self.states = {name: np.zeros((batch, *self.specs[name][0][1:]), self.specs[name][1])
                       for name in self.state_names}
        # Our states are explicit inputs, but any variable tensor a converter made must not
        # carry one sequence into the next (see export.runtime.TFLiteRunner).
        self._runner.reset()

    def step(self, x_t):
        """One step for a batch (B, *features) -> y_t (B, ...); the states move on."""
        x_t = np.asarray(x_t, self.specs[INPUT][1])
        if not self.states or next(iter(self.states.values())).shape[0] != x_t.shape[0]:
            self.reset(x_t.shape[0])
        result = self._runner.feed({INPUT: x_t, **self.states})
        self.states = {name: np.array(result[name + OUT_SUFFIX]) for name in self.state_names}
        return np.array(result[OUTPUT])

    def run(self, xs):
        """A batch of sequences (B, T, *features) from zero states -> outputs (B, T, ...)."""
        xs = np.asarray(xs)
        fixed = self.batch_fixed
        if fixed is not None and xs.shape[0] != fixed:  # TFLite: one sequence at a time
            return np.concatenate([self.run(xs[k:k + fixed]) for k in range(0, len(xs), fixed)])
        self.reset(xs.shape[0])
        return np.stack([self.step(xs[:, t]) for t in range(xs.shape[1])], axis=1)


def run_steps(path_or_runner, xs, kind=None):
    """Feed one sequence (1, T, *features) or (T, *features) through a step artifact from zero
    states -> the per-step outputs (T, ...)."""
    runner = path_or_runner if isinstance(path_or_runner, StepRunner) else StepRunner(path_or_runner, kind)
    xs = np.asarray(xs)
    rank = 1 + len(runner.specs[INPUT][0][1:])  # (T, *features)
    if xs.ndim == rank + 1:
        if xs.shape[0] != 1:
            raise ValueError(f"run_steps takes one sequence; got a batch of {xs.shape[0]} (use StepRunner.run)")
        xs = xs[0]
    return runner.run(xs[None])[0]


def _input_order(name):
    """x_t first, then states by layer index and position (h before c)."""
    if name == INPUT:
        return (-1, 0, "")
    parts = name.split("_")
    try:
        layer = int(parts[-1] if parts[0] in ("h", "c") else parts[1])
    except (IndexError, ValueError):
        return (10**9, 0, name)
    return (layer, {"h": 0, "c": 1}.get(parts[0], 2), name)


# -- 3. verification ------------------------------------------------------------------------


def reference_outputs(model, xs, prefixes="auto"):
    """The full model's outputs per step (B, T, ...) and which steps they cover.

    A per-step output (return_sequences to the end) is the full model's output at each position.
    Otherwise step t's reference is the full model on the prefix x_1..x_t: every prefix when
    ``prefixes`` is True (or "auto" and T <= MAX_PREFIX_STEPS), else only the last step.
    -> (reference (B, T', ...), step indices covered).
    """
    xs = np.asarray(xs)
    steps = xs.shape[1]
    _, per_step_output = plan(model)
    if per_step_output:
        return np.asarray(model(xs, training=False)), list(range(steps))
    if prefixes == "auto":
        prefixes = steps <= MAX_PREFIX_STEPS
    covered = list(range(steps)) if prefixes else [steps - 1]
    reference = [np.asarray(model(xs[:, : t + 1], training=False)) for t in covered]
    return np.stack(reference, axis=1), covered


def verify_streaming(model, directory, sample_inputs, formats=None, prefixes="auto"):
    """Run every step artifact in ``directory`` over ``sample_inputs`` (B, T, *features) and
    compare with the full Keras model -> {format: {max_abs_diff, final_max_abs_diff, tolerance,
    ok, steps_checked, sequences}}, plus "ok" over all."""
    directory = Path(directory)
    xs = np.asarray(sample_inputs)
    if xs.ndim == len(model.inputs[0].shape) - 1:  # one sequence without a batch axis
        xs = xs[None]
    xs = xs.astype(model.inputs[0].dtype)
    reference, covered = reference_outputs(model, xs, prefixes)
    formats = formats or [f for f in FORMATS if (directory / FILENAMES[f]).exists()]
    report = {}
    for fmt in formats:
        runner = StepRunner(directory / FILENAMES[fmt], fmt)
        actual = runner.run(xs)[:, covered]
        diff, tolerance, ok = compare(reference, actual, rtol=RTOL, atol=ATOL)
        final, _, final_ok = compare(reference[:, -1], actual[:, -1], rtol=RTOL, atol=ATOL)
        report[fmt] = {"max_abs_diff": diff, "final_max_abs_diff": final, "tolerance": tolerance,
                       "ok": ok and final_ok, "steps_checked": len(covered), "sequences": len(xs)}
    report["ok"] = bool(report) and all(entry["ok"] for entry in report.values())
    return report
