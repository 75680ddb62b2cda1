"""Run any artifact the way a deployment would: Keras, TensorFlow, LiteRT or ONNX Runtime.

One runner class per runtime; each export format (``export.formats``) says which one runs it.
Every runner takes a batch (B, T, F), or token ids (B, T), and returns a numpy array. TFLite artifacts are
batch 1, so the runner resizes the time axis and feeds the batch one sequence at a time.

Artifacts with several named inputs and outputs (the streaming step artifacts) run through the
same runners: ``specs`` gives each input's (shape, numpy dtype), ``feed({name: array})`` returns
every output by name, and ``reset()`` zeroes any state the runtime keeps between calls.
"""

from pathlib import Path

import numpy as np

from zoo.console import muted_stderr
from zoo.errors import UserError


class Runner:
    kind = ""

    def __init__(self, path):
        self.path = Path(path)

    @property
    def n_features(self):
        raise NotImplementedError

    @property
    def takes_tokens(self):
        """True when the input is integer token ids (B, T) rather than features (B, T, F)."""
        raise NotImplementedError

    def __call__(self, x):
        raise NotImplementedError

    @property
    def time_steps(self):
        """The input's fixed number of time steps, or None where any length runs."""
        return None

    @property
    def vocabulary_size(self):
        """Token ids must be below this (the first Embedding's rows), or None where the runtime
        does not say; ids beyond it are a user error, not a runtime crash or a silent clamp."""
        return None

    @property
    def specs(self):
        """Input name -> (shape with None for a free axis, numpy dtype)."""
        raise NotImplementedError

    def feed(self, inputs):
        """{input name: array} -> {output name: array}."""
        raise NotImplementedError

    @property
    def metadata(self):
        """Deployment facts the artifact carries itself (ONNX's metadata_props); {} for most."""
        return {}

    def reset(self):
        """Forget any state the runtime carries from one call to the next (none by default)."""


class KerasRunner(Runner):
    kind = "keras"

    def __init__(self, path):
        import tensorflow as tf

        from zoo.export.signature import input_spec
        from zoo.checkpoints import load_model

        super().__init__(path)
        self.model = load_model(path)
        # One traced graph for every batch and length: ~100x cheaper per call than model.predict.
        self._call = tf.function(
            lambda inputs: self.model(inputs, training=False),
            input_signature=[input_spec(self.model)],
        )

    @property
    def n_features(self):
        return self.model.inputs[0].shape[-1]

    @property
    def takes_tokens(self):
        return "int" in str(self.model.inputs[0].dtype)

    @property
    def time_steps(self):
        return _fixed(self.model.inputs[0].shape)

    @property
    def vocabulary_size(self):
        import keras

        from zoo.compat import flatten_layers

        sizes = [layer.input_dim for layer in flatten_layers(self.model) if isinstance(layer, keras.layers.Embedding)]
        # One size (a word embedding, or two reading the same ids) bounds the ids; different sizes
        # (the tagger's words and characters packed in one input) give no one bound.
        return sizes[0] if sizes and len(set(sizes)) == 1 else None

    def __call__(self, x):
        return self._call(x).numpy()


class SavedModelRunner(Runner):
    kind = "savedmodel"

    def __init__(self, path):
        import tensorflow as tf

        from zoo.export.savedmodel import SIGNATURE

        super().__init__(path)
        try:
            loaded = tf.saved_model.load(str(path))
        except Exception as error:
            raise UserError(f"{path} is not a readable SavedModel ({first_line(error)})") from None
        self._loaded = loaded  # keeps the variables alive
        signatures = loaded.signatures
        # A step artifact's only endpoint, ``step``, is its serving_default too.
        self._fn = signatures.get(SIGNATURE) or signatures.get("serving_default")
        if self._fn is None:
            raise UserError(f"{path} has no serving signature")
        self._inputs = self._fn.structured_input_signature[1]
        self._input_name, self._spec = next(iter(self._inputs.items()))  # the one input of a whole model
        self._output_name = next(iter(self._fn.structured_outputs))

    @property
    def n_features(self):
        return self._spec.shape[-1]

    @property
    def takes_tokens(self):
        return self._spec.dtype.is_integer

    @property
    def time_steps(self):
        return _fixed(self._spec.shape.as_list())

    def __call__(self, x):
        import tensorflow as tf

        return self._fn(**{self._input_name: tf.constant(x)})[self._output_name].numpy()

    @property
    def specs(self):
        return {name: (tuple(spec.shape.as_list()), spec.dtype.as_numpy_dtype) for name, spec in self._inputs.items()}

    def feed(self, inputs):
        import tensorflow as tf

        return {k: v.numpy() for k, v in self._fn(**{k: tf.constant(v) for k, v in inputs.items()}).items()}


class TFLiteRunner(Runner):
    """LiteRT interpreter, one batch-1 sequence per invoke, every sequence from zero state.

    A fused ``UNIDIRECTIONAL_SEQUENCE_LSTM`` keeps h and c in variable tensors and writes the
    final state back into them, so without ``reset_all_variables()`` the next sequence would start
    where the previous one stopped (and results would depend on call order).
    """

    kind = "tflite"

    def __init__(self, path, num_threads=None):
        from ai_edge_litert.interpreter import Interpreter

        super().__init__(path)
        try:
            self._interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
        except (ValueError, RuntimeError) as error:
            raise UserError(f"{path} is not a readable TFLite model ({first_line(error)})") from None
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        self._shape = None
        self._named = None  # (inputs, outputs): {name: details} of the one signature, for feed()

    @property
    def n_features(self):
        return int(self._input["shape"][-1])

    @property
    def takes_tokens(self):
        return np.issubdtype(self._input["dtype"], np.integer)

    @property
    def time_steps(self):
        return _fixed([int(d) if d > 0 else None for d in self._input["shape_signature"]])

    def run_one(self, sequence):
        """One sequence with a batch axis of 1 -> the output for it."""
        sequence = np.ascontiguousarray(sequence, dtype=self._input["dtype"])
        if sequence.shape != self._shape:
            self._interpreter.resize_tensor_input(self._input["index"], sequence.shape)
            with muted_stderr():  # "INFO: Created TensorFlow Lite XNNPACK delegate"
                self._interpreter.allocate_tensors()
            self._shape = sequence.shape
        self._interpreter.reset_all_variables()  # fused LSTM state: start from zeros
        self._interpreter.set_tensor(self._input["index"], sequence)
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._output["index"]).copy()

    def __call__(self, x):
        return np.concatenate([self.run_one(x[k : k + 1]) for k in range(len(x))])

    def _signature(self):
        if self._named is None:
            with muted_stderr():
                self._interpreter.allocate_tensors()
            runner = self._interpreter.get_signature_runner()  # the artifact's one signature
            self._named = runner.get_input_details(), runner.get_output_details()
            del runner  # it holds internal references that would block a later allocate_tensors
        return self._named

    @property
    def specs(self):
        inputs, _ = self._signature()
        return {name: (tuple(int(s) for s in d["shape"]), d["dtype"]) for name, d in inputs.items()}

    def feed(self, inputs):
        named_inputs, named_outputs = self._signature()
        for name, value in inputs.items():
            self._interpreter.set_tensor(named_inputs[name]["index"], np.ascontiguousarray(value))
        self._interpreter.invoke()
        return {name: self._interpreter.get_tensor(d["index"]).copy() for name, d in named_outputs.items()}

    def reset(self):
        self._interpreter.reset_all_variables()


class OnnxRunner(Runner):
    kind = "onnx"
    _DTYPES = {"tensor(float)": np.float32, "tensor(int32)": np.int32, "tensor(int64)": np.int64,
               "tensor(double)": np.float64, "tensor(float16)": np.float16}

    def __init__(self, path, providers=("CPUExecutionProvider",), threads=None):
        import onnxruntime as ort

        super().__init__(path)
        missing = [p for p in providers if p not in ort.get_available_providers()]
        if missing:
            raise UserError(
                f"this ONNX Runtime has no {', '.join(missing)} (available: "
                f"{', '.join(ort.get_available_providers())}); for GPUs install onnxruntime-gpu"
            )
        options = ort.SessionOptions()
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = threads
        try:
            self._session = ort.InferenceSession(str(path), options, providers=list(providers))
        except Exception as error:  # ORT raises its own Fail/InvalidGraph/... types
            raise UserError(f"{path} is not a readable ONNX model ({first_line(error)})") from None
        self._input = self._session.get_inputs()[0]

    @property
    def metadata(self):
        """The model's metadata_props (an export's deployment facts, JSON values decoded)."""
        import json

        found = {}
        for key, value in self._session.get_modelmeta().custom_metadata_map.items():
            try:
                found[key] = json.loads(value)
            except ValueError:
                found[key] = value
        return found

    @property
    def n_features(self):
        return self._input.shape[-1]

    @property
    def takes_tokens(self):
        return "int" in self._input.type

    @property
    def time_steps(self):
        return _fixed([d if isinstance(d, int) else None for d in self._input.shape])

    def __call__(self, x):
        return self._session.run(None, {self._input.name: x})[0]

    @property
    def specs(self):
        return {i.name: (tuple(d if isinstance(d, int) else None for d in i.shape), self._DTYPES[i.type])
                for i in self._session.get_inputs()}

    def feed(self, inputs):
        names = [o.name for o in self._session.get_outputs()]
        return dict(zip(names, self._session.run(names, inputs)))


def _fixed(shape):
    """The time axis (the second) of an input shape when it is fixed, else None."""
    shape = list(shape)
    return int(shape[1]) if len(shape) >= 2 and shape[1] is not None and int(shape[1]) > 0 else None


def first_line(error, limit=200):
    """An exception as one short line, for reports and one-line errors."""
    text = str(error).strip()
    return (text.splitlines()[0] if text else type(error).__name__)[:limit]


def artifact_size(path):
    """Bytes of a file, or of everything in a directory (a SavedModel)."""
    path = Path(path)
    if path.is_dir():
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return path.stat().st_size


#: ``zoo predict --provider``: ONNX Runtime execution providers, each falling back to the CPU.
PROVIDERS = {
    "cpu": ("CPUExecutionProvider",),
    "cuda": ("CUDAExecutionProvider", "CPUExecutionProvider"),
    "tensorrt": ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"),
}

