"""Layer-normalised LSTM (Ba, Kiros & Hinton 2016, "Layer Normalization", section 3.1 and A.2).

Each gate's pre-activation is normalised over its units before the bias, and the cell state is
normalised before the output squashing. This keeps the gates in their sensitive range however
the input is scaled, which speeds up and steadies training on long sequences. The gate part is the
layout of TFLite's layer-norm LSTM (per-gate coefficients, bias added after the norm).
"""

from keras import ops

from zoo.cells.lowering import LayerNorm, standard
from zoo.cells.lstm import LSTMCell
from zoo.cells.registry import register_cell


@register_cell("layer_norm")
class LayerNormLSTMCell(LSTMCell):
    """a_k = γ_k ⊙ LN(x·W_k + h·R_k) + b_k for each gate k; h = o ⊙ tanh(γ_c ⊙ LN(c) + β_c)."""

    def __init__(self, units, epsilon=1e-5, normalize_cell=True, **kwargs):
        super().__init__(units, **kwargs)
        self.epsilon = epsilon
        self.normalize_cell = normalize_cell

    def _build_extra_weights(self):
        width = self.units * len(self.gate_names)
        self.gate_gamma = self.add_weight(shape=(width,), name="gate_gamma", initializer="ones")
        if self.normalize_cell:
            self.cell_gamma = self.add_weight(
                shape=(self.units,), name="cell_gamma", initializer="ones"
            )
            self.cell_beta = self.add_weight(
                shape=(self.units,), name="cell_beta", initializer="zeros"
            )

    def _normalize(self, x):
        mean, variance = ops.moments(x, axes=[-1], keepdims=True)
        return (x - mean) * ops.rsqrt(variance + self.epsilon)

    def _preactivations(self, projected, h_tm1):
        z = projected + ops.matmul(h_tm1, self.recurrent_kernel)
        blocks = ops.split(z, len(self.gate_names), axis=-1)
        z = ops.concatenate([self._normalize(block) for block in blocks], axis=-1)
        z = z * self.gate_gamma
        return z + self.bias if self.use_bias else z

    def _shown_cell(self, c):
        if not self.normalize_cell:
            return c
        return self.cell_gamma * self._normalize(c) + self.cell_beta

    def lowering(self):
        cell_norm = LayerNorm(self.epsilon, "cell_gamma", "cell_beta") if self.normalize_cell else None
        return standard(self, self.cell_name, gate_norm=LayerNorm(self.epsilon, "gate_gamma"), cell_norm=cell_norm)

    def get_config(self):
        return {
            **super().get_config(),
            "epsilon": self.epsilon,
            "normalize_cell": self.normalize_cell,
        }
