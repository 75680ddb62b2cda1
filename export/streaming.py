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

``write_streaming`` writes ``saved_model_step/`` (signature ``step``, dynamic batch),
``model.step.tflite`` (batch 1, builtins only, through a SavedModel as ``export.tflite`` does) and
``model.step.onnx`` (tf2onnx, opset 18, dynamic batch). ``StepRunner`` / ``run_steps`` feed a
sequence through any of them step by step; ``verify_streaming`` checks them against Keras on
every prefix.
"""

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from zoo.export.runtime import artifact_size
from zoo.export.verify import compare

FORMATS = ("savedmodel", "tflite", "onnx")
FILENAMES = {"savedmodel": "saved_model_step", "tflite": "model.step.tflite", "onnx": "model.step.onnx"}
SIGNATURE = "step"
INPUT = "x_t"
OUTPUT = "y_t"
OUT_SUFFIX = "_out"
DEFAULT_OPSET = 18
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
        operation, node_index, tensor_index = tensor._keras_history
        if isinstance(operation, keras.layers.InputLayer):
            if tensor is not inputs[0] and operation is not inputs[0]._keras_history[0]:
                raise ValueError("not streamable: the output does not come from the model's input")
            break
        node = operation._inbound_nodes[node_index]
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


def _specs(step, batch):
    import tensorflow as tf

    info = step.streaming
    specs = [tf.TensorSpec([batch, *info["input_shape"]], info["input_dtype"], name=INPUT)]
    specs += [tf.TensorSpec([batch, *shape], dtype, name=name) for name, shape, dtype in info["states"]]
    return specs


def _step_function(step):
    names = step.streaming["inputs"]
    order = step.streaming["outputs"]

    def run(*tensors):
        result = step(dict(zip(names, tensors)), training=False)
        return {name: result[name] for name in order}

    return run


# -- 2. writing the artifacts -----------------------------------------------------------------


def write_streaming(model, directory, formats=FORMATS, opset=DEFAULT_OPSET):
    """Write the step artifacts into ``directory`` -> {format: {path, bytes, inputs, outputs}}."""
    formats = list(formats)
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown streaming format(s) {unknown}; choose from {', '.join(FORMATS)}")
    step = step_model(model)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    writers = {"savedmodel": _write_savedmodel, "tflite": _write_tflite,
               "onnx": lambda s, p: _write_onnx(s, p, opset)}
    report = {}
    for fmt in formats:
        path = directory / FILENAMES[fmt]
        try:
            inputs, outputs = writers[fmt](step, path)
        except Exception:  # never leave half an artifact behind
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
            raise
        report[fmt] = {"path": str(path), "bytes": artifact_size(path), "inputs": inputs, "outputs": outputs}
    return report


def _write_savedmodel(step, path, batch=None):
    import keras

    archive = keras.export.ExportArchive()
    archive.track(step)
    archive.add_endpoint(name=SIGNATURE, fn=_step_function(step), input_signature=_specs(step, batch))
    archive.write_out(str(path), verbose=False)
    return list(step.streaming["inputs"]), list(step.streaming["outputs"])


def _write_tflite(step, path):
    import tensorflow as tf

    with tempfile.TemporaryDirectory(prefix="zoo-step-tflite-") as workdir:
        saved = Path(workdir) / "saved_model"
        _write_savedmodel(step, saved, batch=1)
        converter = tf.lite.TFLiteConverter.from_saved_model(str(saved), signature_keys=[SIGNATURE])
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        flatbuffer = converter.convert()
    Path(path).write_bytes(flatbuffer)
    from ai_edge_litert.interpreter import Interpreter

    signature = Interpreter(model_content=flatbuffer).get_signature_list()[SIGNATURE]
    return _ordered(signature["inputs"], step.streaming["inputs"]), _ordered(
        signature["outputs"], step.streaming["outputs"])


def _ordered(found, expected):
    """The artifact's names in the step model's order; a missing or extra name is an error."""
    if sorted(found) != sorted(expected):
        raise RuntimeError(f"the artifact's names {sorted(found)} differ from the step model's {sorted(expected)}")
    return list(expected)


def _write_onnx(step, path, opset):
    import tensorflow as tf
    from onnx import checker

    from zoo.export.onnx import convert_function

    proto = convert_function(tf.function(_step_function(step)), _specs(step, None), opset)
    entry = proto.metadata_props.add()
    entry.key, entry.value = "zoo.streaming", "feed each *_out output back as the input of the same name"
    checker.check_model(proto, full_check=True)
    Path(path).write_bytes(proto.SerializeToString())
    inputs = [i.name for i in proto.graph.input]
    outputs = [o.name for o in proto.graph.output]
    return _ordered(inputs, step.streaming["inputs"]), _ordered(outputs, step.streaming["outputs"])


# -- running an artifact step by step -------------------------------------------------------


def artifact_kind(path):
    path = Path(path)
    if path.is_dir() and (path / "saved_model.pb").exists():
        return "savedmodel"
    if path.suffix in (".tflite", ".onnx"):
        return path.suffix[1:]
    raise ValueError(f"{path}: not a step artifact (a SavedModel directory, .tflite or .onnx)")


class StepRunner:
    """Runs a step artifact, carrying its states between calls (zeros after ``reset``).

    ``inputs`` / ``outputs`` are the artifact's names; every output ``NAME_out`` is fed back as
    input ``NAME`` on the next step. TFLite artifacts take batch 1.
    """

    def __init__(self, path, kind=None):
        self.path = Path(path)
        self.kind = kind or artifact_kind(path)
        backend = {"savedmodel": _SavedModelBackend, "tflite": _TFLiteBackend, "onnx": _OnnxBackend}[self.kind]
        self._backend = backend(self.path)
        self.inputs = list(self._backend.specs)
        self.state_names = [name for name in self.inputs if name != INPUT]
        self.outputs = [OUTPUT] + [name + OUT_SUFFIX for name in self.state_names]
        self.states = {}

    @property
    def batch_fixed(self):
        return self._backend.specs[INPUT][0][0]  # None when any batch goes

    def reset(self, batch=1):
        """Zero states for ``batch`` sequences (and zero the artifact's own variable tensors)."""
        self.states = {name: np.zeros((batch, *self._backend.specs[name][0][1:]), self._backend.specs[name][1])
                       for name in self.state_names}
        self._backend.reset()

    def step(self, x_t):
        """One step for a batch (B, *features) -> y_t (B, ...); the states move on."""
        x_t = np.asarray(x_t, self._backend.specs[INPUT][1])
        if not self.states or next(iter(self.states.values())).shape[0] != x_t.shape[0]:
            self.reset(x_t.shape[0])
        result = self._backend({INPUT: x_t, **self.states})
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
    rank = 1 + len(runner._backend.specs[INPUT][0][1:])  # (T, *features)
    if xs.ndim == rank + 1:
        if xs.shape[0] != 1:
            raise ValueError(f"run_steps takes one sequence; got a batch of {xs.shape[0]} (use StepRunner.run)")
        xs = xs[0]
    return runner.run(xs[None])[0]


class _SavedModelBackend:
    def __init__(self, path):
        import tensorflow as tf

        self._loaded = tf.saved_model.load(str(path))  # keeps the variables alive
        self._fn = self._loaded.signatures[SIGNATURE]
        inputs = self._fn.structured_input_signature[1]
        self.specs = {name: (tuple(spec.shape.as_list()), spec.dtype.as_numpy_dtype)
                      for name, spec in sorted(inputs.items(), key=lambda kv: _input_order(kv[0]))}

    def reset(self):
        pass

    def __call__(self, feed):
        import tensorflow as tf

        return {k: v.numpy() for k, v in self._fn(**{k: tf.constant(v) for k, v in feed.items()}).items()}


class _TFLiteBackend:
    def __init__(self, path):
        from ai_edge_litert.interpreter import Interpreter

        from zoo.console import muted_stderr

        self._interpreter = Interpreter(model_path=str(path))
        with muted_stderr():  # "INFO: Created TensorFlow Lite XNNPACK delegate"
            self._interpreter.allocate_tensors()
        runner = self._interpreter.get_signature_runner(SIGNATURE)
        inputs, outputs = runner.get_input_details(), runner.get_output_details()
        del runner  # it holds internal references that would block a later allocate_tensors
        self._in = {name: d["index"] for name, d in inputs.items()}
        self._out = {name: d["index"] for name, d in outputs.items()}
        self.specs = {name: (tuple(int(s) for s in d["shape"]), d["dtype"])
                      for name, d in sorted(inputs.items(), key=lambda kv: _input_order(kv[0]))}

    def reset(self):
        # Our states are explicit inputs, but any variable tensor the converter made must not
        # carry one sequence into the next (see export.runtime.TFLiteRunner).
        self._interpreter.reset_all_variables()

    def __call__(self, feed):
        for name, value in feed.items():
            self._interpreter.set_tensor(self._in[name], np.ascontiguousarray(value))
        self._interpreter.invoke()
        return {name: self._interpreter.get_tensor(index).copy() for name, index in self._out.items()}


class _OnnxBackend:
    _DTYPES = {"tensor(float)": np.float32, "tensor(int32)": np.int32, "tensor(int64)": np.int64,
               "tensor(double)": np.float64, "tensor(float16)": np.float16}

    def __init__(self, path):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.intra_op_num_threads = 1
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.specs = {i.name: (tuple(d if isinstance(d, int) else None for d in i.shape), self._DTYPES[i.type])
                      for i in sorted(self._session.get_inputs(), key=lambda i: _input_order(i.name))}

    def reset(self):
        pass

    def __call__(self, feed):
        names = [o.name for o in self._session.get_outputs()]
        return dict(zip(names, self._session.run(names, feed)))


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
