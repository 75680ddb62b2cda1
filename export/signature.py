"""The one serving function every format is made from: named input ``inputs``, output ``outputs``.

Batch and time stay dynamic unless a format needs them fixed (TFLite builtins need batch 1).
"""


def input_spec(model, batch=None):
    import tensorflow as tf

    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise NotImplementedError("export handles models with one input and one output")
    shape = list(model.inputs[0].shape)
    shape[0] = batch
    return tf.TensorSpec(shape, model.inputs[0].dtype, name="inputs")


def serving_function(model):
    """model(inputs) with the output under a stable name, in inference mode."""

    def serve(inputs):
        return {"outputs": model(inputs, training=False)}

    return serve
