"""LSTM model zoo: cells written from the gate equations, models trained on real data, and
exports to SavedModel, TFLite and ONNX that are checked in the runtimes they deploy to.

``import zoo`` is cheap: the cells, layers and models load TensorFlow only when first used, and
``zoo.load`` (over exported artifacts) needs no TensorFlow at all.

    import zoo
    model = zoo.create_model("tagger", pretrained=True)   # the released Keras model
    tagger = zoo.load("exports/tagger")                   # a predictor in ONNX Runtime or LiteRT
"""

from zoo.kernel import pool_cpu_memory

pool_cpu_memory()  # before TensorFlow's first op, which fixes its CPU allocator

import zoo.models  # noqa: E402,F401  (the zoo's recipes register themselves; no TensorFlow is loaded)
from zoo.factory import create_model  # noqa: E402
from zoo.registry import get_recipe, list_models, register_model  # noqa: E402
from zoo.version import __version__  # noqa: E402

__all__ = ["create_model", "get_recipe", "list_models", "load", "register_model", "__version__"]


def load(target, runtime=None, provider=None):
    """A ``zoo.predictor.Predictor`` over a model's name, a run, an export directory or a file:
    ``predict`` on raw inputs, ``generate`` for char-lm, ``runtime``, ``metadata``, and with
    TensorFlow installed ``export`` and ``evaluate``."""
    from zoo.predictor import load as load_predictor

    return load_predictor(target, runtime=runtime, provider=provider)
