"""Export zoo models to SavedModel, TFLite and ONNX, and prove each artifact in its own runtime.

One module per format (``savedmodel``, ``tflite``, ``onnx``), ``runtime`` to run any artifact,
``verify`` to compare it with Keras, and ``pipeline`` to do all of it atomically into one folder.
"""
