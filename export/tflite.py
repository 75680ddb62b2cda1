"""TFLite flatbuffer with builtin ops only, runnable in the LiteRT interpreter (``ai_edge_litert``).

Why batch 1: a dynamic batch makes the converter keep ``TensorListReserve`` as a Flex op, which
LiteRT's interpreter cannot run; with batch 1 the LSTM loop lowers to a builtin ``WHILE`` and the
time axis stays resizable. Why through a SavedModel: ``from_concrete_functions`` can keep variable
ops that fail or silently return garbage at run time.
"""

import tempfile
from pathlib import Path

from export import savedmodel


def write(model, path):
    import tensorflow as tf

    with tempfile.TemporaryDirectory(prefix="zoo-tflite-") as workdir:
        saved = Path(workdir) / "saved_model"
        savedmodel.write(model, saved, batch=1)
        converter = tf.lite.TFLiteConverter.from_saved_model(
            str(saved), signature_keys=[savedmodel.SIGNATURE]
        )
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        flatbuffer = converter.convert()
    Path(path).write_bytes(flatbuffer)


def op_census(path):
    """Operator name -> count in the flatbuffer, to show what the runtime will execute."""
    from ai_edge_litert.interpreter import Interpreter

    counts = {}
    for op in Interpreter(model_path=str(path))._get_ops_details():
        counts[op["op_name"]] = counts.get(op["op_name"], 0) + 1
    return counts
