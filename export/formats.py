"""The formats table: one row per export format drives parsing, file names, runtimes and tolerances."""

import difflib
from dataclasses import dataclass

from zoo.errors import UserError


@dataclass(frozen=True)
class Format:
    name: str
    filename: str  # inside the export directory
    runtime: str  # what runs it in verification and `zoo predict`
    batch: str  # which batch sizes the artifact takes
    rtol: float  # allowed max |artifact - keras| relative to max |keras|...
    atol: float  # ...plus this absolute slack
    quantize: tuple = ()  # the --quantize modes this format takes


#: Quantized artifacts trade exactness for size: their check bounds the error relative to the
#: output scale, and the report gives the task metric next to the float artifact's.
QUANTIZED_RTOL = 0.1
QUANTIZE_MODES = ("dynamic", "float16", "int8")


FORMATS = {
    f.name: f
    for f in (
        Format("savedmodel", "saved_model", "tensorflow", "any", rtol=1e-6, atol=1e-5),
        Format("tflite", "model.tflite", "ai_edge_litert", "1 (time axis resizable)", rtol=1e-4, atol=1e-4,
               quantize=("dynamic", "float16", "int8")),
        Format("onnx", "model.onnx", "onnxruntime", "any", rtol=1e-4, atol=1e-4, quantize=("dynamic", "float16")),
    )
}


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
