"""Sequence layers over zoo cells: one layer owns the loop, masks, state and direction.

``LSTM`` is ``keras.layers.RNN`` with a cell chosen by name, so masking, ``go_backwards``,
``stateful``, initial states and ``return_*`` behave exactly as in Keras. ``bidirectional`` and
``stacked`` are the two compositions every model here uses.
"""

import keras

from zoo.cells import LSTMCell, get_cell_class

# Arguments that belong to the layer (the loop); every other keyword configures the cell.
_LAYER_ARGS = {
    "return_sequences", "return_state", "go_backwards", "stateful", "unroll",
    "zero_output_for_mask", "name", "dtype", "trainable", "input_shape", "batch_size",
}


@keras.saving.register_keras_serializable(package="zoo")
class LSTM(keras.layers.RNN):
    """An LSTM layer over any zoo cell.

    ``LSTM(64, cell="peephole", dropout=0.1, return_sequences=True)`` or
    ``LSTM(PeepholeLSTMCell(64))``. Keywords that are not layer arguments go to the cell.
    """

    def __init__(self, units=None, cell="lstm", **kwargs):
        if isinstance(units, keras.layers.Layer):  # RNN.from_config passes the cell first
            units, cell = None, units
        layer_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if k in _LAYER_ARGS}
        if isinstance(cell, str):
            if units is None:
                raise ValueError("LSTM needs `units` when the cell is given by name")
            for shared in ("dtype", "trainable"):  # the cell computes in the layer's precision
                if shared in layer_kwargs:
                    kwargs.setdefault(shared, layer_kwargs[shared])
            cell = get_cell_class(cell)(units, **kwargs)
        elif not isinstance(cell, LSTMCell):
            raise ValueError(f"cell must be a zoo cell name or instance, got {cell!r}")
        elif kwargs:
            raise ValueError(f"cell options {sorted(kwargs)} given with a cell instance")
        super().__init__(cell, **layer_kwargs)

    @property
    def units(self):
        return self.cell.units


def bidirectional(units, cell="lstm", merge_mode="concat", **kwargs):
    """A forward and a backward LSTM over the same sequence, outputs merged."""
    return keras.layers.Bidirectional(LSTM(units, cell=cell, **kwargs), merge_mode=merge_mode)


def stacked(units, cell="lstm", return_sequences=False, bidirectional_layers=False, **kwargs):
    """Layers for a stack of LSTMs: every layer but the last returns its whole sequence.

    ``units`` is one width per layer, e.g. ``[128, 64]``. Returns a list to apply in order, so the
    stack stays flat in the model (one node per layer, which exporters handle best).
    """
    make = bidirectional if bidirectional_layers else LSTM
    last = len(units) - 1
    return [
        make(width, cell=cell, return_sequences=(k < last) or return_sequences, **kwargs)
        for k, width in enumerate(units)
    ]
