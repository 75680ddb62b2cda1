"""LSTM model zoo: cells written from the gate equations, models trained on real data, and
exports to SavedModel, TFLite and ONNX that are checked in the runtimes they deploy to.

``import zoo`` is cheap: the cells, layers and models load TensorFlow only when first used.
"""

from zoo.registry import create_model, get_recipe, list_models, register_model

__version__ = "0.1.0"

__all__ = ["create_model", "get_recipe", "list_models", "register_model", "__version__"]
