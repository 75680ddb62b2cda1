"""The LSTM cell family. Each cell is one time step; ``zoo.layers.LSTM`` runs it over a sequence."""

from zoo.cells.cifg import CIFGLSTMCell
from zoo.cells.layer_norm import LayerNormLSTMCell
from zoo.cells.lstm import LSTMCell
from zoo.cells.peephole import PeepholeLSTMCell
from zoo.cells.projection import ProjectionLSTMCell

#: Short names used by ``--cell`` and ``zoo.layers.LSTM(cell=...)``.
CELLS = {
    "lstm": LSTMCell,
    "peephole": PeepholeLSTMCell,
    "cifg": CIFGLSTMCell,
    "layer_norm": LayerNormLSTMCell,
    "projection": ProjectionLSTMCell,
}


def get_cell_class(name):
    """The cell class for a short name; a clear error lists the known names."""
    try:
        return CELLS[name]
    except KeyError:
        raise ValueError(f"unknown cell {name!r}; choose one of: {', '.join(CELLS)}") from None


__all__ = [
    "CELLS",
    "CIFGLSTMCell",
    "LSTMCell",
    "LayerNormLSTMCell",
    "PeepholeLSTMCell",
    "ProjectionLSTMCell",
    "get_cell_class",
]
