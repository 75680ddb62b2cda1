"""How training runs a zoo ``LSTM`` layer: cuDNN, the fused kernel, or Keras' loop under XLA.

The choice sits here, beside the kernel, so the layer (``zoo.layers.LSTM``) only asks. What a
cell's equations allow is the table's answer (``zoo.cells.backends``); what the layer adds
(a visible GPU, ``unroll``, recurrent dropout, the dtype) is checked here.
"""

from keras import ops

from zoo import kernel
from zoo.cells.backends import why_not
from zoo.cells.lowering import describe

#: ``training_path``'s answers.
CUDNN, KERNEL, XLA = "cudnn", "kernel", "xla"
NO_GPU = "no GPU visible"


def training_path(layer):
    """How training runs ``layer`` -> (path, why not a faster one):

    - ``"cudnn"``: a GPU is visible and the cell is the standard one (tanh/sigmoid, bias, no
      peepholes, projection, coupling or norm; no recurrent dropout; float32), as
      ``keras.layers.LSTM`` decides;
    - ``"kernel"``: on the CPU, cells ``zoo.kernel`` computes;
    - ``"xla"``: Keras' loop, compiled by XLA, with the reason.
    """
    reason = cudnn_refusal(layer)
    if not reason:
        return CUDNN, ""
    if trains_with_fused_kernel(layer):
        return KERNEL, reason
    return XLA, reason


def _layer_refusal(layer):
    cell = layer.cell
    if layer.unroll or 0.0 < cell.recurrent_dropout < 1.0 or cell.compute_dtype != "float32":
        return "unroll, recurrent dropout or a non-float32 dtype"
    return ""


def cudnn_refusal(layer):
    """'' when cuDNN can train ``layer``, else why not."""
    from zoo.compat import gpu_visible

    if not gpu_visible():
        return NO_GPU
    if why_not("cudnn", describe(layer.cell)):
        return f"cuDNN computes the standard LSTM only, not {type(layer.cell).__name__}"
    return _layer_refusal(layer)


def trains_with_fused_kernel(layer):
    """Cells whose lowering the kernel computes, in float32, train through ``zoo.kernel``'s op."""
    return why_not("kernel", describe(layer.cell)) is None and not _layer_refusal(layer) and kernel.enabled()


def run_fused(layer, sequences, initial_state, mask):
    """The whole sequence through ``zoo.kernel``'s op -> (last output, outputs, [h, c]); the raw
    inputs go in, and the op multiplies them by the kernel itself."""
    cell, lowering = layer.cell, describe(layer.cell)
    layer_norm = _packed_norm(cell, lowering) if lowering.gate_norm is not None else None
    bias = getattr(cell, lowering.bias) if lowering.bias and layer_norm is None else None
    outputs, h, c = kernel.lstm_sequence(
        sequences, getattr(cell, lowering.kernel), cell.recurrent_kernel, initial_state[0], initial_state[1], bias=bias,
        mask=mask, zero_output_for_mask=layer.zero_output_for_mask, go_backwards=layer.go_backwards,
        layer_norm=layer_norm, peephole=_packed_peepholes(cell, lowering),
        projection=getattr(cell, lowering.projection) if lowering.projection else None,
        coupled=lowering.coupled_input_forget,
    )
    # Unmasked, the last output is the last h: no slice, and no scatter of its gradient.
    return (h if mask is None else outputs[:, -1]), outputs, [h, c]


def _packed_norm(cell, lowering):
    """A gate-normalised cell's weights as the kernel takes them: [γ | b | γ_c | β_c]."""
    width = len(lowering.gates) * lowering.units
    bias = getattr(cell, lowering.bias) if lowering.bias else ops.zeros((width,))
    cell_norm = lowering.cell_norm
    if cell_norm is not None:
        cell_gamma, cell_beta = getattr(cell, cell_norm.gamma), getattr(cell, cell_norm.beta)
    else:  # unused by the kernel, but the layout is fixed
        cell_gamma, cell_beta = ops.ones((lowering.units,)), ops.zeros((lowering.units,))
    norm = ops.concatenate([getattr(cell, lowering.gate_norm.gamma), bias, cell_gamma, cell_beta], axis=0)
    return norm, cell_norm is not None, lowering.gate_norm.epsilon


def _packed_peepholes(cell, lowering):
    """The peephole weights as the kernel takes them, [p_i | p_f | p_o] (zeros for a gate that
    has none), or None for a cell without peepholes."""
    if not lowering.peepholes:
        return None
    parts = [getattr(cell, lowering.peephole(gate)) if lowering.peephole(gate) else ops.zeros((lowering.units,))
             for gate in ("input", "forget", "output")]
    return ops.concatenate(parts, axis=0)
