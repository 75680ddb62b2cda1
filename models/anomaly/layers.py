"""The anomaly model's own layer: each window's mean, so the network can see shapes, not levels."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="zoo")
class WindowMean(keras.layers.Layer):
    """(B, T, F) -> (B, 1, F): each window's mean over its steps (broadcasts back over T)."""

    def call(self, inputs):
        return ops.mean(inputs, axis=1, keepdims=True)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1, input_shape[2])
