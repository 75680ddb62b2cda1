"""Adam as one fused op per weight on TensorFlow: the same update as ``keras.optimizers.Adam``.

Why: Keras writes Adam's update as about fifteen small ops per weight (moments, bias
correction, square root, division, three assignments). On the CPU a small LSTM's training step
then spends a millisecond or more just running them; TensorFlow's ``ResourceApplyAdam`` does
the update of one weight in one op, with the same formula:
m += (g - m)(1 - β1), v += (g² - v)(1 - β2), w -= lr·sqrt(1 - β2^t)/(1 - β1^t) · m / (sqrt(v) + ε).
Other backends, AMSGrad and distributed training with more than one replica take Keras' update.
"""

import keras

from zoo.compat import adam_moments


@keras.saving.register_keras_serializable(package="zoo")
class FusedAdam(keras.optimizers.Adam):
    """``keras.optimizers.Adam`` (every argument the same) with each weight's update fused."""

    def update_step(self, gradient, variable, learning_rate):
        import tensorflow as tf

        if keras.backend.backend() != "tensorflow" or self.amsgrad or _replicas() > 1:
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        step = tf.cast(self.iterations + 1, dtype)
        m, v = adam_moments(self, variable)
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle, m=m.handle, v=v.handle,
            beta1_power=tf.pow(tf.cast(self.beta_1, dtype), step), beta2_power=tf.pow(tf.cast(self.beta_2, dtype), step),
            lr=tf.cast(learning_rate, dtype), beta1=tf.cast(self.beta_1, dtype), beta2=tf.cast(self.beta_2, dtype),
            epsilon=tf.cast(self.epsilon, dtype), grad=tf.cast(gradient, dtype), use_locking=False)


def _replicas():
    import tensorflow as tf

    return tf.distribute.get_strategy().num_replicas_in_sync
