"""The forget-gate-only cell (JANET; van der Westhuizen & Lasenby 2018, "The unreasonable
effectiveness of the forget gate").

One gate decides both what to keep and what to write; there is no input or output gate and no
squash of the output, so it has half the LSTM's gate weights. The write gate is the forget gate
shifted by ``shift`` (β in the paper), so keeping and writing are not forced to sum to one:

    f = σ(x·W_f + h·R_f + b_f)
    c = f ⊙ c(t-1) + (1 - σ(x·W_f + h·R_f + b_f - β)) ⊙ tanh(x·W_c + h·R_c + b_c)
    h = c

The state is still the layer's (h, c) pair, with h = c, so every layer option, streaming export
and model works with it unchanged.
"""

from keras import ops

from zoo.cells.lowering import NoLowering
from zoo.cells.lstm import LSTMCell
from zoo.cells.registry import register_cell


@register_cell("forget_gate")
class ForgetGateCell(LSTMCell):
    """Kernel blocks are (f, c): the forget gate and the candidate; h = c."""

    gate_names = ("forget", "candidate")

    def __init__(self, units, shift=1.0, **kwargs):
        super().__init__(units, **kwargs)
        self.shift = float(shift)

    def _gates(self, z, c_tm1):
        z_f, z_c = ops.split(z, 2, axis=-1)
        keep = self.recurrent_activation(z_f)
        write = 1.0 - self.recurrent_activation(z_f - self.shift)
        c = keep * c_tm1 + write * self.activation(z_c)
        return c, c

    def lowering(self):
        return NoLowering("h = c with no output gate, and a shifted forget gate as the write gate; "
                          "the LSTM ops compute h = o ⊙ tanh(c)")

    def get_config(self):
        return {**super().get_config(), "shift": self.shift}
