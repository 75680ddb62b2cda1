"""What a cell computes, declared once: the one description every fast path reads.

The fused training kernel (``zoo.layers``), the native ONNX ``LSTM`` node (``export.onnx_lstm``)
and TFLite's fused op (``export.tflite_lstm``) each lower a cell to a fixed LSTM formula. They
read a cell's structure only from its ``lowering()``, never from its class, so a new cell gets a
fast path wherever its description fits, and the generic loop (ONNX ``Loop``, TFLite ``WHILE``,
Keras' loop in training) everywhere else.

The formula every native path implements, in the description's terms::

    z_k = x·W_k + h(t-1)·R_k                      for each gate block k in ``gates``
    z_k = γ_k ⊙ LN(z_k) + b_k  (gate_norm)   or   z_k + b_k
    i = σ(z_i + p_i ⊙ c(t-1)),  f = σ(z_f + p_f ⊙ c(t-1))      (i = 1 - f when coupled)
    c = f ⊙ c(t-1) + i ⊙ tanh(z_c)
    o = σ(z_o + p_o ⊙ c)
    h = o ⊙ tanh(γ_c ⊙ LN(c) + β_c  (cell_norm)   or   c),   then h·W_p  (projection)

with σ = ``recurrent_activation`` and tanh = ``activation``. Weights are named by the cell's
attribute names, so a lowering reads values with ``getattr(cell, name)``.
"""

from dataclasses import dataclass

#: The standard gate blocks, in Keras' kernel order.
STANDARD_GATES = ("input", "forget", "candidate", "output")
#: CIFG's kernel: no input block, i = 1 - f.
COUPLED_GATES = ("forget", "candidate", "output")


@dataclass(frozen=True)
class LayerNorm:
    """γ ⊙ (z - mean) / sqrt(var + epsilon) [+ β], per gate block or over the cell state."""

    epsilon: float
    gamma: str  # weight attribute: per-gate coefficients (all blocks concatenated) or the cell's γ
    beta: str | None = None  # the cell norm's shift; gate norms use the gate bias instead


@dataclass(frozen=True)
class Lowering:
    """A cell that is an instance of the LSTM formula above."""

    name: str  # the cell's registry name ("lstm", "peephole"...), shown in export reports
    units: int  # width of c and of each gate block
    output_units: int  # width of h: ``units``, or the projection's width
    gates: tuple = STANDARD_GATES  # the kernel's blocks, in order
    activation: str = "tanh"  # built-in Keras names; any other function is "custom NAME"
    recurrent_activation: str = "sigmoid"
    kernel: str = "kernel"  # weight attributes: [I, n·units], [output_units, n·units], [n·units]
    recurrent_kernel: str = "recurrent_kernel"
    bias: str | None = "bias"  # None: no bias
    peepholes: tuple = ()  # ((gate, weight attribute), ...): i and f see c(t-1), o sees c(t)
    coupled_input_forget: bool = False  # i = 1 - f; ``gates`` has no input block
    projection: str | None = None  # weight attribute of W_p [units, output_units]
    gate_norm: LayerNorm | None = None  # per-gate LN before the bias
    cell_norm: LayerNorm | None = None  # LN of c before the output squash

    native = True
    reason = None

    @property
    def variants(self):
        """The extras over the standard cell, by name; empty for the standard cell."""
        return tuple(name for name, present in [
            ("peepholes", bool(self.peepholes)), ("coupled input-forget gate", self.coupled_input_forget),
            ("projection", self.projection is not None), ("gate layer norm", self.gate_norm is not None),
            ("cell layer norm", self.cell_norm is not None),
        ] if present)

    def peephole(self, gate):
        """The weight attribute of ``gate``'s peephole, or None."""
        return dict(self.peepholes).get(gate)


@dataclass(frozen=True)
class NoLowering:
    """A cell whose equations are not the LSTM formula: it runs the generic loop everywhere."""

    reason: str

    native = False


def describe(cell):
    """The cell's declared lowering.

    Only a class's own ``lowering`` counts: a subclass that does not declare one may have changed
    the equations, so it gets the generic loop rather than its parent's fast path.
    """
    declared = vars(type(cell)).get("lowering")
    if declared is not None:
        return declared(cell)
    import keras

    if type(cell) is keras.layers.LSTMCell:  # Keras' own cell: the standard formula, same weights
        return standard(cell, "lstm")
    return NoLowering(f"{type(cell).__name__} declares no lowering")


def standard(cell, name, **changes):
    """The standard-formula description of a cell with Keras' attribute names and ``changes``."""
    return Lowering(
        name=name, units=cell.units, output_units=getattr(cell, "output_units", cell.units),
        gates=getattr(cell, "gate_names", STANDARD_GATES),
        activation=activation_name(cell.activation),
        recurrent_activation=activation_name(cell.recurrent_activation),
        bias="bias" if cell.use_bias else None, **changes,
    )


def activation_name(function):
    """A built-in activation's Keras name ("tanh"); any other function is named so no op matches it."""
    import keras

    name = getattr(function, "__name__", type(function).__name__)
    try:
        if keras.activations.get(name) is function:
            return name
    except ValueError:
        pass
    return f"custom {name}"
