"""Layers that let a forecaster hold on any series: it forecasts the correction to a naive forecast
from inputs that do not depend on the series' level.

A network fed globally scaled values meets values in the test part that it never saw when a
series trends, and its forecasts stay inside the training range. These layers make the window
relative to its own last value and add the network's output to the naive forecast, so the
level is never learned; a head that starts at zero makes the untrained network the naive
forecast itself. Every op is a slice, subtraction or product: each exporter takes them as they are.
"""

import keras
import numpy as np
from keras import ops


@keras.saving.register_keras_serializable(package="zoo")
class WindowFeatures(keras.layers.Layer):
    """(B, T, F) raw window -> its features: the target as distances from its last value in units
    of ``scale``, then (with ``level``) the target standardized by ``mean``/``std``, then the other
    columns (covariates, calendar) standardized. ``level`` gives the network the absolute level,
    which helps on series that revert to a mean and hurts on trending ones: chosen on validation.
    """

    def __init__(self, mean=(0.0,), std=(1.0,), scale=1.0, level=False, **kwargs):
        super().__init__(**kwargs)
        self.mean = [float(v) for v in np.atleast_1d(mean)]
        self.std = [float(v) for v in np.atleast_1d(std)]
        self.scale, self.level = float(scale), bool(level)
        if self.scale <= 0 or any(v <= 0 for v in self.std):
            raise ValueError("scale and std must be positive")

    def build(self, input_shape):
        constant = keras.initializers.Constant
        self.shift = self.add_weight(shape=(len(self.mean),), initializer=constant(self.mean), trainable=False,
                                     name="mean")
        self.spread = self.add_weight(shape=(len(self.std),), initializer=constant(self.std), trainable=False,
                                      name="std")

    def call(self, inputs):
        target = inputs[..., :1]
        parts = [(target - target[:, -1:, :]) / self.scale]
        standardized = (inputs - self.shift) / self.spread
        parts.append(standardized if self.level else standardized[..., 1:])
        return ops.concatenate(parts, axis=-1)

    def compute_output_shape(self, input_shape):
        features = input_shape[-1] + (1 if self.level else 0)
        return (*input_shape[:-1], features)

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "std": self.std, "scale": self.scale, "level": self.level}


@keras.saving.register_keras_serializable(package="zoo")
class NaiveForecast(keras.layers.Layer):
    """(B, T, F) raw window -> (B, horizon): the naive forecast of the next ``horizon`` values from
    the target column: its last value (``season`` 1, persistence), the same point of the last
    full season (seasonal naive; the window must hold at least one season), or with ``drift`` the
    last value plus the window's average step per step ahead (the drift method)."""

    def __init__(self, horizon=1, season=1, drift=False, **kwargs):
        super().__init__(**kwargs)
        self.horizon, self.season, self.drift = int(horizon), int(season), bool(drift)

    def call(self, inputs):
        target = inputs[..., 0]
        if self.drift:
            steps = ops.cast(ops.shape(target)[1] - 1, target.dtype)
            slope = (target[:, -1] - target[:, 0]) / steps
            return ops.stack([target[:, -1] + (step + 1) * slope for step in range(self.horizon)], axis=1)
        return ops.stack([target[:, step % self.season - self.season] for step in range(self.horizon)], axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.horizon)

    def get_config(self):
        return {**super().get_config(), "horizon": self.horizon, "season": self.season, "drift": self.drift}


@keras.saving.register_keras_serializable(package="zoo")
class ScaledResidual(keras.layers.Layer):
    """``[naive (B, H), correction (B, H)] -> naive + scale * correction``."""

    def __init__(self, scale=1.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = float(scale)

    def call(self, inputs):
        naive, correction = inputs
        return naive + self.scale * correction

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


def _level_and_scale(window):
    """A raw (B, T, 1) window's last value and mean absolute value (DeepAR's mean scaling), each
    (B, 1, 1); the scale is floored so an all-zero window divides by a tiny number, not zero."""
    last = window[:, -1:, :1]
    scale = ops.maximum(ops.mean(ops.abs(window[..., :1]), axis=1, keepdims=True), 1e-6)
    return last, scale


@keras.saving.register_keras_serializable(package="zoo")
class RelativeWindow(keras.layers.Layer):
    """(B, T, 1) raw window of a panel's series -> (x - last) / mean|x|: the same input for a
    series at level 10 and one at level 10,000, so one network learns from the whole panel."""

    def call(self, window):
        last, scale = _level_and_scale(window)
        return (window[..., :1] - last) / scale

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 1)


@keras.saving.register_keras_serializable(package="zoo")
class QuantileForecast(keras.layers.Layer):
    """``[raw window (B, T, 1), network output (B, H * Q)] -> (B, H, Q)`` raw quantile forecasts:
    last value + mean|x| * output, the inverse of ``RelativeWindow``."""

    def __init__(self, horizon=1, quantiles=1, **kwargs):
        super().__init__(**kwargs)
        self.horizon, self.quantiles = int(horizon), int(quantiles)

    def call(self, inputs):
        window, output = inputs
        last, scale = _level_and_scale(window)
        return last + scale * ops.reshape(output, (-1, self.horizon, self.quantiles))

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], self.horizon, self.quantiles)

    def get_config(self):
        return {**super().get_config(), "horizon": self.horizon, "quantiles": self.quantiles}


@keras.saving.register_keras_serializable(package="zoo")
class PinballLoss(keras.losses.Loss):
    """Mean pinball (quantile) loss of (B, H, Q) forecasts against (B, H) values: trained with it,
    output q estimates the q-quantile (Koenker & Bassett 1978); q = 0.5 gives half the MAE.
    A NaN value is unknown (past a series' end) and adds nothing.
    ``quantiles`` (Q) is repeated over a last axis of K ensemble members."""

    def __init__(self, quantiles=(0.5,), name="pinball", **kwargs):
        super().__init__(name=name, **kwargs)
        self.quantiles = [float(q) for q in quantiles]

    def call(self, y_true, y_pred):
        """``y_pred`` (B, H, Q), or (B, H, Q, K) for K ensemble members, each scored on its own."""
        levels = ops.convert_to_tensor(self.quantiles, dtype=y_pred.dtype)
        y_true = ops.cast(y_true, y_pred.dtype)
        known = ops.cast(ops.isfinite(y_true), y_pred.dtype)  # NaN: a step past the series' end
        known = ops.expand_dims(known, -1)
        error = ops.expand_dims(ops.where(ops.isfinite(y_true), y_true, 0.0), -1)
        if len(y_pred.shape) == 4:
            levels, error, known = levels[:, None], error[..., None], known[..., None]
        error = error - y_pred
        loss = ops.maximum(levels * error, (levels - 1) * error) * known
        return ops.mean(loss, axis=tuple(range(1, len(y_pred.shape))))

    def get_config(self):
        return {**super().get_config(), "quantiles": self.quantiles}


@keras.saving.register_keras_serializable(package="zoo")
class LastSteps(keras.layers.Layer):
    """(B, T, F) -> (B, steps, F): the window's last ``steps`` values (an ensemble member that
    looks less far back)."""

    def __init__(self, steps=1, **kwargs):
        super().__init__(**kwargs)
        self.steps = int(steps)

    def call(self, window):
        return window[:, -self.steps:, :]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.steps, input_shape[2])

    def get_config(self):
        return {**super().get_config(), "steps": self.steps}


@keras.saving.register_keras_serializable(package="zoo")
class Members(keras.layers.Layer):
    """K member forecasts (B, H, Q) -> (B, H, Q, K): each member keeps its own loss in training
    (an ensemble of independently trained networks), and the forecast is their mean."""

    def call(self, members):
        return ops.stack(members, axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[0], len(input_shape))


@keras.saving.register_keras_serializable(package="zoo")
class FixedWindow(keras.layers.Layer):
    """(B, T, F) window of any length -> (B, steps, 1): its target's last ``steps`` values, a
    shorter window left-padded with its first value (as a panel pads a short series): what a
    pretrained panel network reads from a single-series forecaster's window."""

    def __init__(self, steps=1, **kwargs):
        super().__init__(**kwargs)
        self.steps = int(steps)

    def call(self, window):
        target = window[..., :1]
        first = ops.repeat(target[:, :1, :], self.steps, axis=1)
        return ops.concatenate([first, target], axis=1)[:, -self.steps:, :]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.steps, 1)

    def get_config(self):
        return {**super().get_config(), "steps": self.steps}


@keras.saving.register_keras_serializable(package="zoo")
class PointForecast(keras.layers.Layer):
    """(B, H, Q, K) quantile forecasts of K members -> (B, horizon): the members' mean of
    quantile ``point`` (the median) over the first ``horizon`` steps."""

    def __init__(self, horizon=1, point=0, **kwargs):
        super().__init__(**kwargs)
        self.horizon, self.point = int(horizon), int(point)

    def call(self, forecasts):
        return ops.mean(forecasts[:, :self.horizon, self.point, :], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.horizon)

    def get_config(self):
        return {**super().get_config(), "horizon": self.horizon, "point": self.point}
