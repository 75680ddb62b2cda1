"""What a model's full-integer TFLite graph is traced with, where the Keras graph quantizes badly.

Each rewrite was found on a released model (measured in the issue-16 note):

- **Softmax head → log-softmax, then one float ``EXP``.** An int8 softmax output has steps of
  1/256, so every probability below ~0.004 reads as 0: char-lm's nats/char went from 1.58 to
  2.03. LiteRT's int8 ``LOG_SOFTMAX`` has a fixed step of 1/16 nat over [-16, 0], which keeps
  small probabilities. ``append_exp`` then adds one float ``EXP`` after the output's
  ``DEQUANTIZE``, so the artifact still returns probabilities like every other artifact; an
  integer-only target can drop it and read log-probabilities.
- **Attention's padding offset.** Keras subtracts 1e9 from masked scores; the int8 scale of the
  scores tensor then spans 1e9 and every real score rounds to zero (g2p's int8 WER was 0.997).
  Masked scores are set to ``-MASKED_SCORE`` instead: with scores scaled as dot-product
  attention makes them, e^-30 is nothing, and the int8 range stays small.
- **Embedding as a plain ``GATHER``.** Keras' ``take`` wraps negative ids (``LESS`` +
  ``SELECT_V2`` on int32), which TFLite Micro cannot run and which the 16x8 quantizer refuses.
  Token ids are never negative here (the tokenizers map anything unknown to an id >= 0).
- **RepeatVector as ``BROADCAST_TO``** instead of ``TILE``, which TFLite Micro lacks (anomaly's
  decoder input).
"""

from contextlib import contextmanager

#: A masked attention score in the integer graph (see the module docstring).
MASKED_SCORE = 30.0


@contextmanager
def integer_friendly(model):
    """Apply the rewrites while the model is traced; yields whether the output is now
    log-probabilities (then ``append_exp`` must run on the converted flatbuffer)."""
    import keras

    from zoo.compat import flatten_layers

    layers = flatten_layers(model)
    patched = []
    for layer in layers:
        if isinstance(layer, keras.layers.Embedding):
            layer.call = _plain_gather(layer)
            patched.append(layer)
        elif isinstance(layer, keras.layers.RepeatVector):
            layer.call = _broadcast_repeat(layer)
            patched.append(layer)
        elif isinstance(layer, keras.layers.Attention):
            layer._apply_scores = _bounded_mask_scores(layer)
            patched.append(layer)
    head = _softmax_head(model)
    if head is not None:
        head.activation = keras.activations.log_softmax
    try:
        yield head is not None
    finally:
        for layer in patched:
            layer.__dict__.pop("call", None)
            layer.__dict__.pop("_apply_scores", None)
        if head is not None:
            head.activation = keras.activations.softmax


def _softmax_head(model):
    """The output Dense layer when it ends in softmax (every classifier and language model here)."""
    import keras

    from zoo.compat import keras_history

    if len(model.outputs) != 1:
        return None
    layer = keras_history(model.outputs[0]).operation
    if isinstance(layer, keras.layers.Dense) and layer.activation is keras.activations.softmax:
        return layer
    return None


def _plain_gather(layer):
    def call(inputs):
        import tensorflow as tf

        return tf.cast(tf.gather(layer.embeddings, tf.cast(inputs, "int32")), layer.compute_dtype)

    return call


def _broadcast_repeat(layer):
    def call(inputs):
        import tensorflow as tf

        shape = tf.stack([tf.shape(inputs)[0], layer.n, tf.shape(inputs)[1]])
        return tf.broadcast_to(tf.expand_dims(inputs, 1), shape)

    return call


def _bounded_mask_scores(layer):
    def apply_scores(scores, value, scores_mask=None, training=False):
        from keras import ops

        if scores_mask is not None:
            keep = ops.cast(scores_mask, scores.dtype)
            if len(keep.shape) == 2:
                keep = ops.expand_dims(keep, axis=-2)
            scores = scores * keep - MASKED_SCORE * (1.0 - keep)
        weights = ops.softmax(scores, axis=-1)
        return ops.matmul(weights, value), weights

    return apply_scores


def append_exp(flatbuffer):
    """One float ``EXP`` after the (single) output's ``DEQUANTIZE``: log-probabilities back to
    probabilities. The output tensor keeps its index, name and signature entry."""
    from zoo.compat import tflite_schema

    schema, flatbuffer_utils = tflite_schema()
    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(flatbuffer))
    graph = model.subgraphs[0]
    (output,) = graph.outputs
    producer = next(op for op in graph.operators if output in op.outputs)
    code = model.operatorCodes[producer.opcodeIndex]
    if max(code.builtinCode, code.deprecatedBuiltinCode) != schema.BuiltinOperator.DEQUANTIZE:
        raise RuntimeError("the int8 graph's output is not a DEQUANTIZE; cannot append EXP")
    original = graph.tensors[output]
    log_probabilities = schema.TensorT()
    log_probabilities.shape = list(original.shape)
    log_probabilities.shapeSignature = None if original.shapeSignature is None else list(original.shapeSignature)
    log_probabilities.type = schema.TensorType.FLOAT32
    log_probabilities.name = f"{original.name}/log_probabilities"
    log_probabilities.buffer = 0  # buffer 0 is the converter's empty sentinel
    graph.tensors.append(log_probabilities)
    middle = len(graph.tensors) - 1
    producer.outputs = [middle if t == output else t for t in producer.outputs]
    exp = schema.OperatorT()
    exp.opcodeIndex = _opcode(model, schema, schema.BuiltinOperator.EXP)
    exp.inputs, exp.outputs = [middle], [output]
    exp.builtinOptionsType = schema.BuiltinOptions.ExpOptions
    exp.builtinOptions = schema.ExpOptionsT()
    graph.operators.append(exp)
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def _opcode(model, schema, builtin):
    for index, code in enumerate(model.operatorCodes):
        if max(code.builtinCode, code.deprecatedBuiltinCode) == builtin:
            return index
    code = schema.OperatorCodeT()
    code.builtinCode, code.deprecatedBuiltinCode, code.version = builtin, min(builtin, 127), 1
    model.operatorCodes.append(code)
    return len(model.operatorCodes) - 1
