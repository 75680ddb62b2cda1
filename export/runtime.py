"""Run any artifact the way a deployment would: Keras, TensorFlow, LiteRT or ONNX Runtime.

Every runner takes a batch (B, T, F), or token ids (B, T), and returns a numpy array. TFLite artifacts are
batch 1, so the runner resizes the time axis and feeds the batch one sequence at a time.
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
        self._fn = signatures.get(SIGNATURE) or signatures.get("serving_default")
        if self._fn is None:
            raise UserError(f"{path} has no serving signature")
        (self._input_name, spec), = self._fn.structured_input_signature[1].items()
        self._spec = spec
        self._output_name = next(iter(self._fn.structured_outputs))

    @property
    def n_features(self):
        return self._spec.shape[-1]

    @property
    def takes_tokens(self):
        return self._spec.dtype.is_integer

    def __call__(self, x):
        import tensorflow as tf

        return self._fn(**{self._input_name: tf.constant(x)})[self._output_name].numpy()


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

    @property
    def n_features(self):
        return int(self._input["shape"][-1])

    @property
    def takes_tokens(self):
        return np.issubdtype(self._input["dtype"], np.integer)

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


class OnnxRunner(Runner):
    kind = "onnx"

    def __init__(self, path, providers=("CPUExecutionProvider",)):
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
        try:
            self._session = ort.InferenceSession(str(path), options, providers=list(providers))
        except Exception as error:  # ORT raises its own Fail/InvalidGraph/... types
            raise UserError(f"{path} is not a readable ONNX model ({first_line(error)})") from None
        self._input = self._session.get_inputs()[0]

    @property
    def n_features(self):
        return self._input.shape[-1]

    @property
    def takes_tokens(self):
        return "int" in self._input.type

    def __call__(self, x):
        return self._session.run(None, {self._input.name: x})[0]


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


def artifact_kind(path):
    """What a path holds, from its name and contents."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"no such file or directory: {path}")
    if path.is_dir():
        if (path / "saved_model.pb").exists():
            return "savedmodel"
        if (path / "model.keras").exists():
            return "keras"
        found = [name for name in ("model.onnx", "model.tflite", "saved_model") if (path / name).exists()]
        hint = f"; pick one of its artifacts: {', '.join(str(path / f) for f in found)}" if found else ""
        raise UserError(f"{path} is neither a SavedModel nor a training run{hint}")
    kinds = {".keras": "keras", ".tflite": "tflite", ".onnx": "onnx"}
    if path.suffix in kinds:
        return kinds[path.suffix]
    raise UserError(f"{path}: unknown artifact type (expected .keras, .tflite, .onnx, a SavedModel or run directory)")


RUNNERS = {r.kind: r for r in (KerasRunner, SavedModelRunner, TFLiteRunner, OnnxRunner)}

#: ``zoo predict --provider``: ONNX Runtime execution providers, each falling back to the CPU.
PROVIDERS = {
    "cpu": ("CPUExecutionProvider",),
    "cuda": ("CUDAExecutionProvider", "CPUExecutionProvider"),
    "tensorrt": ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"),
}


def load_runner(path, provider=None):
    kind = artifact_kind(path)
    if provider is not None:
        if kind != "onnx":
            raise UserError(f"--provider applies to .onnx artifacts; {path} is a {kind} artifact")
        return OnnxRunner(path, providers=PROVIDERS[provider])
    return RUNNERS[kind](path)
