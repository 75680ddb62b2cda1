"""g2p's own layer: the decoder sees the spelling's summary beside every step."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="zoo")
class WithContext(keras.layers.Layer):
    """``[sequence (B, T, F), vector (B, C)] -> (B, T, F + C)``: a fixed context beside every step.

    How a decoder sees its encoder without taking the encoder's states as its initial state,
    which keeps it a plain sequence layer (TFLite fuses it; a given initial state it cannot).
    The sequence's mask passes through.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs):
        sequence, vector = inputs
        steps = ops.shape(sequence)[1]
        tiled = ops.repeat(ops.expand_dims(vector, 1), steps, axis=1)
        return ops.concatenate([sequence, ops.cast(tiled, sequence.dtype)], axis=-1)

    def compute_mask(self, inputs, mask=None):
        return mask[0] if isinstance(mask, (list, tuple)) else mask

    def compute_output_shape(self, input_shapes):
        sequence, vector = input_shapes
        return (*sequence[:-1], sequence[-1] + vector[-1])
