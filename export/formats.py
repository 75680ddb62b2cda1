"""The format registry: one plug-in object per export format, and everything else reads it.

A format owns four things, and nothing outside its plug-in and the modules it names knows them:

1. writing: the whole model (``write``) and the single-step model of ``export.streaming``
   (``write_step``), into the file names ``filename`` and ``step_filename``;
2. running: ``runner(path)``, the artifact in its runtime (classes in ``export.runtime``), for
   whole and step artifacts alike, and ``recognizes(path)`` to tell its artifacts apart;
3. its operator census: ``op_census(path)`` (None where the format has none) and ``key_ops``,
   the operators the tables name; ``inspect(path)`` adds what else the report says about it;
4. its quantization: the modes in ``quantize`` and ``write_quantized``.

Plus the table's data: the runtime that runs it, which batch sizes it takes and its verification
tolerances. The pipeline (``zoo export``), streaming, ``zoo bench``, ``zoo generate`` and the CLI
iterate over ``FORMATS``; a new format is a plug-in class here and one line in the registry.
Heavy imports (TensorFlow, tf2onnx, LiteRT) happen inside the methods.
"""

import difflib
from dataclasses import dataclass
from pathlib import Path

from zoo.errors import UserError


@dataclass(frozen=True)
class Format:
    name: str
    title: str  # the format's name in messages
    filename: str  # inside the export directory
    step_filename: str  # the streaming (single-step) artifact, inside the export directory
    runtime: str  # what runs it in verification and `zoo predict`
    batch: str  # which batch sizes the artifact takes
    rtol: float  # allowed max |artifact - keras| relative to max |keras|...
    atol: float  # ...plus this absolute slack
    quantize: tuple = ()  # the --quantize modes this format takes: declared here only (its writer implements them)
    suffix: str = ""  # a file artifact's extension; "" for a directory format
    key_ops: tuple = ()  # operators the tables name, from the census, in this order
    takes_providers: bool = False  # `zoo predict --provider` applies
    default: bool = True  # written by `zoo export` without --format, and benchmarked by `zoo bench`

    # -- 1. writing -------------------------------------------------------------------------

    def write(self, model, path, *, opset, metadata):
        """Write the whole model to ``path`` -> what the writer reports (a dict, or None)."""
        raise NotImplementedError

    def write_quantized(self, mode, model, path, *, float_path, calibration=None):
        """Write the ``mode``-quantized artifact; ``float_path`` is the float one, written first."""
        raise ValueError(f"{self.name} takes no quantization mode ({mode!r} asked)")

    def write_step(self, step, path, *, opset):
        """Write ``export.streaming``'s step model -> the artifact's (input names, output names)."""
        raise NotImplementedError

    def preflight(self):
        """Refuse, before any conversion, an export this machine cannot finish (a missing tool)."""

    # -- 2. running -------------------------------------------------------------------------

    def runner(self, path, *, provider=None, threads=None):
        """The artifact in its runtime (an ``export.runtime.Runner``)."""
        raise NotImplementedError

    def recognizes(self, path):
        """True when ``path`` (which exists) holds an artifact of this format."""
        return bool(self.suffix) and Path(path).suffix == self.suffix and not Path(path).is_dir()

    # -- 3. operator census -----------------------------------------------------------------

    def op_census(self, path):
        """Operator name -> count, as the runtime will execute it; None: this format has no census."""
        return None

    def inspect(self, path):
        """More report entries about a written artifact (beside its census)."""
        return {}


@dataclass(frozen=True)
class SavedModelFormat(Format):
    def write(self, model, path, *, opset, metadata):
        from zoo.export import savedmodel

        return savedmodel.write(model, path)

    def write_step(self, step, path, *, opset):
        from zoo.export import savedmodel

        return savedmodel.write_step(step, path)

    def runner(self, path, *, provider=None, threads=None):
        from zoo.export.runtime import SavedModelRunner

        check_provider(provider, path, self.name)
        return SavedModelRunner(path)

    def recognizes(self, path):
        return Path(path).is_dir() and (Path(path) / "saved_model.pb").exists()


@dataclass(frozen=True)
class TFLiteFormat(Format):
    def write(self, model, path, *, opset, metadata):
        from zoo.export import tflite

        return tflite.write(model, path)

    def write_quantized(self, mode, model, path, *, float_path, calibration=None):
        from zoo.export import tflite

        return tflite.write(model, path, quantize=mode, representative_inputs=calibration)

    def write_step(self, step, path, *, opset):
        from zoo.export import tflite

        return tflite.write_step(step, path)

    def runner(self, path, *, provider=None, threads=None):
        from zoo.export.runtime import TFLiteRunner

        check_provider(provider, path, self.name)
        return TFLiteRunner(path, num_threads=threads)

    def op_census(self, path):
        from zoo.export import tflite

        return tflite.op_census(path)


@dataclass(frozen=True)
class OnnxFormat(Format):
    def write(self, model, path, *, opset, metadata):
        from zoo.export import onnx

        return {**(onnx.write(model, path, opset=opset, metadata=metadata) or {}), "opset": opset}

    def write_quantized(self, mode, model, path, *, float_path, calibration=None):
        from zoo.export import onnx

        return onnx.quantize(mode, float_path, path)

    def write_step(self, step, path, *, opset):
        from zoo.export import onnx

        return onnx.write_step(step, path, opset)

    def runner(self, path, *, provider=None, threads=None):
        from zoo.export.runtime import PROVIDERS, OnnxRunner

        providers = PROVIDERS[provider or "cpu"]
        return OnnxRunner(path, providers=providers, threads=threads)

    def op_census(self, path):
        from zoo.export import onnx

        return onnx.op_census(path)

    def inspect(self, path):
        from zoo.export.providers import provider_report

        return {"providers": provider_report(path)}


@dataclass(frozen=True)
class WebFormat(Format):
    """A static web page around the float ONNX model (``export.webpage``); it runs, in Python's
    verification, as that ONNX model does, and in the browser through onnxruntime-web."""

    def preflight(self):
        from zoo.export import webpage

        webpage.check_runtime()

    def write(self, model, path, *, opset, metadata):
        from zoo.export import webpage

        return webpage.write(model, path, opset, metadata)

    def write_step(self, step, path, *, opset):
        from zoo.export import webpage

        return webpage.write_step(step, path, opset)

    def runner(self, path, *, provider=None, threads=None):
        from zoo.export.runtime import OnnxRunner
        from zoo.export.webpage import MODEL_FILE

        check_provider(provider, path, self.name)
        path = Path(path)
        return OnnxRunner(path / MODEL_FILE if path.is_dir() else path, threads=threads)

    def recognizes(self, path):
        """The page folder, or its step model (``web/model.step.onnx``, which ONNX would also claim:
        the registry lists this format first)."""
        from zoo.export.webpage import MODEL_FILE, PAGE_FILE

        path = Path(path)
        if path.is_dir():
            return (path / PAGE_FILE).exists() and (path / MODEL_FILE).exists()
        return path.as_posix().endswith("/" + self.step_filename)

    def op_census(self, path):
        from zoo.export import onnx
        from zoo.export.webpage import MODEL_FILE

        return onnx.op_census(Path(path) / MODEL_FILE)


#: Quantized artifacts trade exactness for size: their check bounds the error relative to the
#: output scale, and the report gives the task metric next to the float artifact's.
QUANTIZED_RTOL = 0.1


FORMATS = {
    f.name: f
    for f in (
        SavedModelFormat("savedmodel", "SavedModel", "saved_model", "saved_model_step", "tensorflow", "any",
                         rtol=1e-6, atol=1e-5),
        TFLiteFormat("tflite", "TFLite", "model.tflite", "model.step.tflite", "ai_edge_litert",
                     "1 (time axis resizable)", rtol=1e-4, atol=1e-4, quantize=("dynamic", "float16", "int8"),
                     suffix=".tflite", key_ops=("UNIDIRECTIONAL_SEQUENCE_LSTM", "BIDIRECTIONAL_SEQUENCE_LSTM", "WHILE")),
        WebFormat("web", "web page", "web", "web/model.step.onnx", "onnxruntime", "any (onnxruntime-web in a browser)",
                  rtol=1e-4, atol=1e-4, default=False),
        OnnxFormat("onnx", "ONNX", "model.onnx", "model.step.onnx", "onnxruntime", "any", rtol=1e-4, atol=1e-4,
                   quantize=("dynamic", "float16"), suffix=".onnx",
                   key_ops=("LSTM", "DynamicQuantizeLSTM", "Loop", "Scan"), takes_providers=True),
    )
}
#: Every ``--quantize`` mode, from the formats that declare them: the one list the CLI, the help,
#: ``check_quantize`` and ``zoo bench`` read.
QUANTIZE_MODES = tuple(dict.fromkeys(mode for fmt in FORMATS.values() for mode in fmt.quantize))
#: What `zoo export` writes and `zoo bench` times when no --format is given.
DEFAULT_FORMATS = tuple(name for name, fmt in FORMATS.items() if fmt.default)


def parse_formats(text):
    """'savedmodel,onnx' -> [Format, ...]; a typo gets a suggestion."""
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    if not names:
        raise UserError("no format given; choose from: " + ", ".join(FORMATS))
    chosen = []
    for name in names:
        if name not in FORMATS:
            close = difflib.get_close_matches(name, FORMATS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UserError(f"unknown format {name!r}{hint}; choose from: {', '.join(FORMATS)}")
        if FORMATS[name] not in chosen:
            chosen.append(FORMATS[name])
    return chosen


def check_provider(provider, path, kind):
    """``zoo predict --provider`` on an artifact whose runtime takes none is a user error."""
    if provider is not None and not (kind in FORMATS and FORMATS[kind].takes_providers):
        takers = ", ".join(f.suffix or f.title for f in FORMATS.values() if f.takes_providers)
        raise UserError(f"--provider applies to {takers} artifacts; {path} is a {kind} artifact")


def detect(path):
    """The format whose artifact ``path`` (which exists) is, or None."""
    return next((fmt for fmt in FORMATS.values() if fmt.recognizes(path)), None)


def key_ops():
    """Every format's key operators; an artifact's census holds only its own format's."""
    return tuple(op for fmt in FORMATS.values() for op in fmt.key_ops)


def quantize_help():
    """'TFLite: dynamic, float16, int8; ONNX: dynamic, float16': who takes which --quantize mode."""
    return "; ".join(f"{f.title}: {', '.join(f.quantize)}" for f in FORMATS.values() if f.quantize)


def check_quantize(formats, mode):
    """Refuse, before any work, a --quantize mode that none of the chosen formats takes."""
    if mode is None:
        return
    if mode not in QUANTIZE_MODES:
        raise UserError(f"unknown --quantize {mode!r}; choose from: {', '.join(QUANTIZE_MODES)}")
    takers = [f.name for f in formats if mode in f.quantize]
    if not takers:
        offers = "; ".join(f"{f.name}: {', '.join(f.quantize) or 'none'}" for f in formats)
        raise UserError(f"--quantize {mode} applies to none of the chosen formats ({offers})")


def quantized_filename(fmt, mode):
    stem, dot, suffix = fmt.filename.partition(".")
    return f"{stem}.{mode}.{suffix}"


def artifact_kind(path):
    """What a path holds, from its name and contents: "keras" or an export format's name."""
    from zoo.checkpoints import cut_path, exists, names_a_model, resolve, suggestion

    path = Path(path)
    if not exists(path):
        if len(path.parts) == 1 and names_a_model(path):
            resolve(path)  # a model's name stands for its released checkpoint (an error if it has none)
            return "keras"
        raise UserError(f"no such file or directory: {cut_path(path)}{suggestion(path)}")
    fmt = detect(path)
    if fmt is not None:
        return fmt.name
    directories = " nor a ".join(f.title for f in FORMATS.values() if not f.suffix)
    if path.is_dir():
        if (path / "model.keras").exists():
            return "keras"
        names = sorted(f.filename for f in FORMATS.values())
        found = [name for name in names if (path / name).exists()]
        hint = f"; pick one of its artifacts: {', '.join(str(path / f) for f in found)}" if found else ""
        raise UserError(f"{path} is neither a {directories} nor a training run{hint}")
    if path.suffix == ".keras":
        return "keras"
    suffixes = ", ".join([".keras"] + [f.suffix for f in FORMATS.values() if f.suffix])
    raise UserError(f"{path}: unknown artifact type (expected {suffixes}, a {directories} or run directory)")
