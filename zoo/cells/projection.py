"""LSTM with a recurrent projection layer (LSTMP; Sak, Senior & Beaufays 2014).

h(t) = W_p · (o ⊙ tanh c(t)): a wide memory c (``units``) behind a narrow output and recurrent
state h (``projection_units``). The recurrent matrix shrinks from 4H×H to 4H×P, which is where
most of a large LSTM's parameters and time go.
"""

from keras import constraints, initializers, ops, regularizers

from zoo.cells.lowering import standard
from zoo.cells.lstm import LSTMCell
from zoo.cells.registry import register_cell


@register_cell("projection")
class ProjectionLSTMCell(LSTMCell):
    """The standard cell, then h = (o ⊙ tanh c)·W_p with W_p of shape (units, projection_units)."""

    def __init__(
        self,
        units,
        projection_units=None,
        projection_initializer="glorot_uniform",
        projection_regularizer=None,
        projection_constraint=None,
        **kwargs,
    ):
        if projection_units is None:  # a sensible default keeps `--cell projection` one word
            projection_units = max(1, units // 2)
        if not isinstance(projection_units, int) or projection_units <= 0:
            raise ValueError(
                f"projection_units must be a positive integer, got {projection_units!r}"
            )
        super().__init__(units, **kwargs)
        self.projection_units = projection_units
        self.projection_initializer = initializers.get(projection_initializer)
        self.projection_regularizer = regularizers.get(projection_regularizer)
        self.projection_constraint = constraints.get(projection_constraint)

    @property
    def output_units(self):
        return self.projection_units

    def _build_extra_weights(self):
        self.projection_kernel = self.add_weight(
            shape=(self.units, self.projection_units),
            name="projection_kernel",
            initializer=self.projection_initializer,
            regularizer=self.projection_regularizer,
            constraint=self.projection_constraint,
        )

    def _gates(self, z, c_tm1):
        unprojected, c = super()._gates(z, c_tm1)
        return ops.matmul(unprojected, self.projection_kernel), c

    def lowering(self):
        return standard(self, self.cell_name, projection="projection_kernel")

    def get_config(self):
        return {
            **super().get_config(),
            "projection_units": self.projection_units,
            "projection_initializer": initializers.serialize(self.projection_initializer),
            "projection_regularizer": regularizers.serialize(self.projection_regularizer),
            "projection_constraint": constraints.serialize(self.projection_constraint),
        }
