"""The LSTM cell family. Each cell is one time step; ``zoo.layers.LSTM`` runs it over a sequence.

A cell is one module here: its class, decorated with ``@register_cell("name")``, and its
``lowering()`` (``zoo.cells.lowering``), which tells the fast paths whether they can run it.
Every module in this package is imported below, so a new cell needs no edit anywhere else.
"""

import importlib
import pkgutil

from zoo.cells.registry import CELLS, get_cell_class, register_cell

# The classic cells first, in this order (the order of ``--cell``'s choices), importable from here.
from zoo.cells.lstm import LSTMCell  # isort: skip
from zoo.cells.peephole import PeepholeLSTMCell  # isort: skip
from zoo.cells.cifg import CIFGLSTMCell  # isort: skip
from zoo.cells.layer_norm import LayerNormLSTMCell  # isort: skip
from zoo.cells.projection import ProjectionLSTMCell  # isort: skip

for _module in pkgutil.iter_modules(__path__):  # every other cell registers itself on import
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = [
    "CELLS",
    "CIFGLSTMCell",
    "LSTMCell",
    "LayerNormLSTMCell",
    "PeepholeLSTMCell",
    "ProjectionLSTMCell",
    "get_cell_class",
    "register_cell",
]
