"""TFLite flatbuffer with builtin ops only, runnable in the LiteRT interpreter (``ai_edge_litert``).

Every LSTM layer the fused ``UNIDIRECTIONAL_SEQUENCE_LSTM`` kernel can express becomes one such op
(see ``export.tflite_lstm``): vanilla, peephole, CIFG, layer-norm without cell norm, and Keras'
own LSTM and the projection cell (as a plain LSTM over the unprojected state, W_p folded into
the recurrent kernel, then one matmul), forwards, backwards, bidirectional, stacked or masked (read as right padding: the op
runs over the first ``sum(mask)`` steps, which batch 1 makes exact). Everything else is lowered to a builtin
``WHILE`` loop, and the returned report says why, layer by layer. The fused op keeps its h/c
state in variable tensors, so a runtime must call ``reset_all_variables()`` before each sequence
(``export.runtime.TFLiteRunner`` does).

Why batch 1: a dynamic batch makes the converter keep ``TensorListReserve`` as a Flex op, which
LiteRT's interpreter cannot run, and the fused op needs static state shapes; the time axis stays
resizable. Why through a SavedModel: ``from_concrete_functions`` can keep variable
ops that fail or silently return garbage at run time.

Quantization: ``"dynamic"`` (int8 weights, float activations; only weight matrices with more than
1024 elements are quantized), ``"float16"`` (float16 weights), ``"int8"`` (full integer inside, float
input and output; needs ``representative_inputs``; traced with ``export.integer_graph``'s
rewrites, so a softmax model ends in int8 ``LOG_SOFTMAX`` and one float ``EXP``). For int8 the
graph is converted in float, patched, and only then calibrated and quantized
(``zoo.compat.tflite_calibrate_and_quantize``), so the calibrator runs the variant inputs too:
every fused cell (peephole, CIFG, layer norm, projection) converts. Calibration starts each
sequence from zero state, and each fused layer's cell-state range is measured in Keras over every
step (``tflite_lstm.cell_state_peaks``), because the calibrator only sees final states. Full-int8
calibration of a ``WHILE`` loop crashes the converter process, so int8 is refused unless every
recurrent layer is fused.
"""

from contextlib import nullcontext
from pathlib import Path

import numpy as np

from zoo.compat import tflite_calibrate_and_quantize
from zoo.export import savedmodel
from zoo.export.integer_graph import append_exp, integer_friendly
from zoo.export.tflite_flatbuffer import cell_state_name, patch
from zoo.export.tflite_lstm import cell_state_peaks, fused_lstm_functions
from zoo.files import scratch_directory

#: int8: the cell state's int16 range is the calibration peak times this (rounded up to a power of
#: two by the quantizer), so a test sequence that goes a little further is not clipped. At most
#: one bit of an int16 range: steps of 2^-14 still, for a cell within ±2.
CELL_STATE_HEADROOM = 1.25
#: ... and at most this: the integer kernel's int16 cell has at most 6 integer bits (scale 2^-9;
#: TFLM refuses more, and LiteRT's tanh of a wider cell is garbage: the 2-layer char-lm's cells
#: reach ±93, and its int8 artifact scored 5.6 nats/char with that range). Beyond ±64 tanh(c)
#: is 1 anyway; clipping char-lm's cell at ±16 cost under 0.001 nats/char.
CELL_STATE_LIMIT = 64.0


def write(model, path, quantize=None, representative_inputs=None, steps=None):
    """Write ``path``; -> which recurrent layers became fused ops, which did not and why.
    ``steps``: a fixed time axis, every shape static (what TFLite Micro needs)."""
    import tensorflow as tf

    optimizations, supported_types = _converter_settings(quantize, tf)
    if quantize == "int8":
        representative_inputs = _checked_representative(representative_inputs, model.inputs[0].dtype)
    with scratch_directory("zoo-tflite-") as workdir:
        saved = Path(workdir) / "saved_model"
        rewrites = integer_friendly(model) if quantize == "int8" else nullcontext(False)
        with rewrites as log_probabilities, fused_lstm_functions(model) as (plans, fallbacks):
            savedmodel.write(model, saved, batch=1, steps=steps)
        fused = [plan for plan in plans if plan.calls and not plan.reason]
        while_fallback = [f"{label}: {reason}" for label, reason in fallbacks]
        while_fallback += [f"{plan.name} ({type(plan.layer.cell).__name__}): {plan.reason}"
                           for plan in plans if plan.reason]
        if quantize == "int8":
            _check_int8_possible(while_fallback)
        converter = tf.lite.TFLiteConverter.from_saved_model(
            str(saved), signature_keys=[savedmodel.SIGNATURE]
        )
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        if optimizations:
            converter.optimizations = optimizations
        if supported_types:
            converter.target_spec.supported_types = supported_types
        flatbuffer = converter.convert()
    flatbuffer, _ = patch(flatbuffer, fused, quantize)  # checks every fused layer has its op
    if quantize == "int8":  # calibrated on the patched float graph, so variant inputs are seen
        peaks = cell_state_peaks(model, fused, representative_inputs)
        ranges = {cell_state_name(name): (-bound, bound) for name, peak in peaks.items() if peak > 0
                  for bound in [min(peak * CELL_STATE_HEADROOM, CELL_STATE_LIMIT)]}
        flatbuffer = tflite_calibrate_and_quantize(flatbuffer, ([x[None]] for x in representative_inputs), ranges)
    if log_probabilities:
        flatbuffer = append_exp(flatbuffer)
    Path(path).write_bytes(flatbuffer)
    return {
        "fused_lstm": [plan.label for plan in fused],
        # Masked layers run over the first sum(mask) steps: right padding, as the zoo pads.
        "mask_as_length": [plan.label for plan in fused if plan.masked],
        "while_fallback": while_fallback,
        "quantize": quantize,
    }


def _converter_settings(quantize, tf):
    """The converter's (optimizations, supported types) for each mode the TFLite format declares
    (``export.formats``); int8 is calibrated after conversion. Another mode is a programming error."""
    if quantize in (None, "int8"):
        return [], []
    if quantize == "dynamic":
        return [tf.lite.Optimize.DEFAULT], []
    if quantize == "float16":
        return [tf.lite.Optimize.DEFAULT], [tf.float16]
    raise ValueError(f"TFLite has no quantization mode {quantize!r}")


def write_step(step, path):
    """``export.streaming``'s step model, batch 1, builtins only, through a SavedModel as ``write``
    goes -> the artifact's (input names, output names) from its ``step`` signature."""
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    from zoo.export.step_model import SIGNATURE as STEP_SIGNATURE

    with scratch_directory("zoo-step-tflite-") as workdir:
        saved = Path(workdir) / "saved_model"
        savedmodel.write_step(step, saved, batch=1)
        converter = tf.lite.TFLiteConverter.from_saved_model(str(saved), signature_keys=[STEP_SIGNATURE])
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        flatbuffer = converter.convert()
    Path(path).write_bytes(flatbuffer)
    signature = Interpreter(model_content=flatbuffer).get_signature_list()[STEP_SIGNATURE]
    return list(signature["inputs"]), list(signature["outputs"])


def _checked_representative(inputs, dtype="float32"):
    """Calibration batches in the model's input dtype: features (N, T, F), or token ids (N, T)."""
    if inputs is None:
        raise ValueError("quantize='int8' needs representative_inputs: an array (N, T, F) to calibrate on")
    tokens = np.issubdtype(np.dtype(dtype), np.integer)
    inputs = np.asarray(inputs, dtype)
    if inputs.ndim != (2 if tokens else 3) or len(inputs) == 0:
        shape = "(N, T) token ids" if tokens else "(N, T, F)"
        raise ValueError(f"representative_inputs must be a non-empty {shape} array; got shape {inputs.shape}")
    return inputs


def _check_int8_possible(while_fallback):
    if while_fallback:
        raise ValueError(
            "quantize='int8' needs every recurrent layer fused (full-int8 calibration of a WHILE loop "
            f"crashes the TFLite converter); not fused: {'; '.join(while_fallback)}"
        )


def op_census(path):
    """Operator name -> count in the flatbuffer, to show what the runtime will execute."""
    from ai_edge_litert.interpreter import Interpreter

    counts = {}
    from zoo.compat import litert_ops

    for op in litert_ops(Interpreter(model_path=str(path))):
        counts[op["op_name"]] = counts.get(op["op_name"], 0) + 1
    return counts
