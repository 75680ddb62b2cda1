"""The one serving function every format is made from: named input ``inputs``, output ``outputs``.

Batch and time stay dynamic unless a format needs them fixed (TFLite builtins need batch 1).
"""


def input_spec(model, batch=None, steps=None):
    """The model's input, batch fixed to ``batch`` and, for a runtime without dynamic shapes
    (TFLite Micro), time to ``steps``."""
    import tensorflow as tf

    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise NotImplementedError("export handles models with one input and one output")
    shape = list(model.inputs[0].shape)
    shape[0] = batch
    if steps is not None and len(shape) > 1:
        if shape[1] is not None and shape[1] != steps:
            raise ValueError(f"the model takes {shape[1]} steps, not {steps}")
        shape[1] = steps
    return tf.TensorSpec(shape, model.inputs[0].dtype, name="inputs")


def serving_function(model):
    """model(inputs) with the output under a stable name, in inference mode."""

    def serve(inputs):
        return {"outputs": model(inputs, training=False)}

    return serve
