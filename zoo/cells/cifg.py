"""Coupled input-forget gate LSTM (CIFG; Greff et al. 2017, "LSTM: A Search Space Odyssey").

The input gate is tied to the forget gate, i = 1 - f: memory is only written where it is
forgotten. A quarter fewer gate weights and about the same accuracy; ONNX calls it
``input_forget``, TFLite runs it when the input-gate weights are absent.
"""

from keras import ops

from zoo.cells.lowering import standard
from zoo.cells.lstm import LSTMCell
from zoo.cells.registry import register_cell


@register_cell("cifg")
class CIFGLSTMCell(LSTMCell):
    """Kernel blocks are (f, c, o): there is no input-gate weight; i = 1 - f."""

    gate_names = ("forget", "candidate", "output")

    def _gates(self, z, c_tm1):
        z_f, z_c, z_o = ops.split(z, 3, axis=-1)
        f = self.recurrent_activation(z_f)
        c = f * c_tm1 + (1.0 - f) * self.activation(z_c)
        o = self.recurrent_activation(z_o)
        return o * self.activation(c), c

    def lowering(self):
        return standard(self, self.cell_name, coupled_input_forget=True)
