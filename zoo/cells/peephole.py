"""LSTM with peephole connections (Gers & Schmidhuber 2000).

The input and forget gates look at the old cell c(t-1), the output gate at the new cell c(t):
the gates can time their decisions on the memory itself, not only on h. Same layout as the ONNX
``LSTM`` op's ``P`` input and TFLite's cell-to-gate weights.
"""

from keras import ops

from zoo.cells.lowering import standard
from zoo.cells.lstm import LSTMCell
from zoo.cells.registry import register_cell


@register_cell("peephole")
class PeepholeLSTMCell(LSTMCell):
    """i = σ(z_i + p_i ⊙ c(t-1)), f = σ(z_f + p_f ⊙ c(t-1)), o = σ(z_o + p_o ⊙ c(t))."""

    def _build_extra_weights(self):
        def peephole(name):
            return self.add_weight(
                shape=(self.units,), name=name, initializer=self.kernel_initializer
            )

        self.input_peephole = peephole("input_peephole")
        self.forget_peephole = peephole("forget_peephole")
        self.output_peephole = peephole("output_peephole")

    def lowering(self):
        peepholes = (("input", "input_peephole"), ("forget", "forget_peephole"), ("output", "output_peephole"))
        return standard(self, self.cell_name, peepholes=peepholes)

    def _gates(self, z, c_tm1):
        z_i, z_f, z_c, z_o = ops.split(z, 4, axis=-1)
        i = self.recurrent_activation(z_i + self.input_peephole * c_tm1)
        f = self.recurrent_activation(z_f + self.forget_peephole * c_tm1)
        c = f * c_tm1 + i * self.activation(z_c)
        o = self.recurrent_activation(z_o + self.output_peephole * c)
        return o * self.activation(c), c
