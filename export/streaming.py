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
from pathlib import Path

import numpy as np

from zoo.export.formats import FORMATS as REGISTRY
from zoo.export.formats import detect
from zoo.export.runtime import artifact_size
from zoo.export.step_model import INPUT, OUT_SUFFIX, OUTPUT, plan, step_model
from zoo.export.verify import compare

FORMATS = tuple(REGISTRY)  # every export format writes a step artifact
FILENAMES = {name: fmt.step_filename for name, fmt in REGISTRY.items()}
RTOL = ATOL = 1e-4
#: verify_streaming runs the full model on every prefix only up to this many steps ("if cheap").
MAX_PREFIX_STEPS = 64


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


def _step_format(path):
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
        self.kind = kind or _step_format(path)
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
