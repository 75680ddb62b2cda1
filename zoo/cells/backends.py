"""Which backend runs which cell natively: one table, read by every backend.

Each fast path implements the fixed LSTM formula of ``zoo.cells.lowering`` with some of its
extras. A backend's rule reads only a cell's lowering and answers ``None`` (the cell runs on the
fast path) or why not (the cell runs the generic loop there: Keras' loop under XLA in training,
ONNX ``Loop``, TFLite ``WHILE``). Layer-level conditions (a visible GPU, ``stateful``, the dtype,
recurrent dropout, ``return_state``) are each backend's own, checked after its rule.

A new cell variant that needs a new rule changes this table and the backends that implement
the variant, nothing else. ``zoo list --cells`` prints the table (``support_table``).
"""

from dataclasses import dataclass

from zoo.cells.lowering import COUPLED_GATES, STANDARD_GATES

#: The peephole gates every native op takes together (ONNX ``P``, TFLite's three cell-to-gate inputs).
ALL_PEEPHOLES = ("input", "forget", "output")


def _formula(lowering):
    """Reasons every native path shares: a description at all, and the kernel's gate blocks."""
    if not lowering.native:
        return lowering.reason
    if lowering.gates != (COUPLED_GATES if lowering.coupled_input_forget else STANDARD_GATES):
        return f"gate blocks {lowering.gates}"
    return None


def _training_kernel(lowering):
    """``zoo.kernel``: tanh/sigmoid, any of peepholes (subset), coupling, projection, gate norm
    with or without the cell norm (one epsilon for both)."""
    reason = _formula(lowering)
    if reason:
        return reason
    allowed = {"forget", "output"} if lowering.coupled_input_forget else set(ALL_PEEPHOLES)
    if not {gate for gate, _ in lowering.peepholes} <= allowed:
        return f"peepholes on {sorted(dict(lowering.peepholes))}"
    if (lowering.activation, lowering.recurrent_activation) != ("tanh", "sigmoid"):
        return f"activations {lowering.activation!r}/{lowering.recurrent_activation!r}"
    if lowering.cell_norm is not None and (
            lowering.gate_norm is None or lowering.cell_norm.epsilon != lowering.gate_norm.epsilon):
        return "a cell norm without gate norms of the same epsilon"
    return None


def _cudnn(lowering):
    """cuDNN computes the standard LSTM only, with its bias (as ``keras.layers.LSTM`` decides)."""
    reason = _training_kernel(lowering)
    if reason or lowering.variants or lowering.bias is None:
        return f"cuDNN computes the standard LSTM only: {reason or ', '.join(lowering.variants) or 'no bias'}"
    return None


def _onnx(lowering):
    """The ONNX ``LSTM`` node: peepholes on all three gates, coupling or projection, one at a time."""
    reason = _formula(lowering)
    if reason:
        return reason
    if lowering.gate_norm is not None or lowering.cell_norm is not None:
        return "layer normalisation"
    if lowering.peepholes and sorted(dict(lowering.peepholes)) != sorted(ALL_PEEPHOLES):
        return f"peepholes on {sorted(dict(lowering.peepholes))}"
    if len(lowering.variants) > 1:
        return f"{' and '.join(lowering.variants)} together (not verified against the op)"
    return None


def _tflite(lowering):
    """TFLite's ``UNIDIRECTIONAL_SEQUENCE_LSTM``: peepholes on all three gates, coupling,
    projection, per-gate layer norm (epsilon > 0); no cell norm."""
    return _tflite_structure(lowering) or _tflite_norm(lowering)


def _tflite_structure(lowering):
    reason = _formula(lowering)
    if reason:
        return reason
    if lowering.peepholes and sorted(dict(lowering.peepholes)) != sorted(ALL_PEEPHOLES):
        return f"peepholes on {sorted(dict(lowering.peepholes))}"
    if lowering.gate_norm is None and lowering.cell_norm is not None:
        return "a cell norm without gate norms"
    if len(lowering.variants) > 1 and lowering.variants != ("gate layer norm", "cell layer norm"):
        return f"{' and '.join(lowering.variants)} together (not verified against the op)"
    return None


def _tflite_norm(lowering):
    """The fused op's layer-norm limits."""
    if lowering.cell_norm is not None:
        return "cell normalisation: TFLite's kernel cannot normalise the cell state before the output tanh"
    if lowering.gate_norm is not None and not lowering.gate_norm.epsilon > 0:
        return f"layer-norm epsilon {lowering.gate_norm.epsilon} (must be > 0 to match TFLite's 1e-8)"
    return None


def _int8(lowering):
    """Full-integer TFLite needs every recurrent layer fused (calibrating a ``WHILE`` loop crashes
    the converter); every fused cell quantizes."""
    return _tflite(lowering)


def _tflm(lowering):
    """TFLM's integer LSTM kernel takes the standard cell only; the projection cell runs, as the
    zoo exports it as a standard LSTM and a matmul."""
    reason = _int8(lowering)
    if reason:
        return reason
    extras = [name for name in lowering.variants if name != "projection"]
    return f"TFLM's integer LSTM takes the standard cell only, not {' and '.join(extras)}" if extras else None


@dataclass(frozen=True)
class Backend:
    name: str  # the key every backend asks with
    title: str  # the table's column
    rule: object  # lowering -> None, or why the cell runs the generic loop there
    fallback: str  # what runs the cell otherwise


BACKENDS = {backend.name: backend for backend in (
    Backend("kernel", "training kernel", _training_kernel, "Keras' loop under XLA"),
    Backend("cudnn", "cuDNN", _cudnn, "the training kernel or XLA"),
    Backend("onnx", "ONNX LSTM", _onnx, "ONNX Loop"),
    Backend("tflite", "TFLite fused op", _tflite, "TFLite WHILE"),
    Backend("int8", "int8", _int8, "refused (int8 needs every LSTM fused)"),
    Backend("tflm", "TFLM", _tflm, "does not run"),
)}


def why_not(backend, lowering):
    """None when ``backend`` runs the cell described by ``lowering`` natively, else why not."""
    return BACKENDS[backend].rule(lowering)


def support_table(units=4):
    """[(cell name, {backend: None or reason})] for every registered cell and Keras' own."""
    import keras

    from zoo.cells.registry import CELLS
    from zoo.cells.lowering import describe

    cells = [(name, cls(units)) for name, cls in CELLS.items()]
    cells.append(("keras.layers.LSTMCell", keras.layers.LSTMCell(units)))
    return [(name, {key: why_not(key, describe(cell)) for key in BACKENDS}) for name, cell in cells]


def support_markdown(rows=None):
    """``support_table`` as a Markdown table: ✓, or ✗ with a numbered reason listed below it."""
    rows = support_table() if rows is None else rows
    reasons = []
    lines = ["| cell | " + " | ".join(b.title for b in BACKENDS.values()) + " |",
             "| --- |" + " --- |" * len(BACKENDS)]
    for name, answers in rows:
        marks = []
        for key in BACKENDS:
            reason = answers[key]
            if reason is None:
                marks.append("✓")
                continue
            if reason not in reasons:
                reasons.append(reason)
            marks.append(f"✗ ({reasons.index(reason) + 1})")
        lines.append(f"| `{name}` | " + " | ".join(marks) + " |")
    lines.append("")
    lines += [f"{number}. {reason}" for number, reason in enumerate(reasons, 1)]
    lines.append("")
    lines.append("Where a cell is ✗, it runs as: " + "; ".join(f"{b.title}: {b.fallback}" for b in BACKENDS.values()) + ".")
    return "\n".join(lines)
