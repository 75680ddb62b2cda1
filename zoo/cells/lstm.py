"""The standard LSTM cell, written from its gates.

The weights have Keras' names, shapes and gate order (i, f, c, o), so weights move freely between
this cell and ``keras.layers.LSTM``. The pre-activation is computed exactly as Keras does it
(``x·W + h·R``, then the bias through ``ops.add``, a TF BiasAdd): tf2onnx's LSTM rewriter matches
that pattern and turns the whole loop into one ONNX ``LSTM`` node instead of a slow ``Loop``.
"""

import keras
from keras import activations, constraints, initializers, ops, regularizers

from zoo.cells.lowering import standard
from zoo.cells.registry import register_cell
from zoo.compat import dropout_rnn_cell


@register_cell("lstm")
class LSTMCell(keras.layers.Layer, dropout_rnn_cell()):
    """One LSTM step: gates decide what the long-term memory forgets, stores and shows.

    - forget gate  f = σ(x·W_f + h·R_f + b_f): how much of c(t-1) to keep
    - input gate   i = σ(x·W_i + h·R_i + b_i): how much new memory to write
    - candidate    g = tanh(x·W_c + h·R_c + b_c): the new memory itself
    - cell state   c = f ⊙ c(t-1) + i ⊙ g: the long-term memory
    - output gate  o = σ(x·W_o + h·R_o + b_o); h = o ⊙ tanh(c)

    Variants subclass this and override only what their equations change: ``gate_names`` (the
    blocks of the kernel), ``_build_extra_weights``, ``_preactivations``, ``_gates`` or
    ``_shown_cell``; each declares its own ``lowering()`` (``zoo.cells.lowering``), or runs the
    generic loop in every exporter.
    """

    gate_names = ("input", "forget", "candidate", "output")

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias=True,
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        **kwargs,
    ):
        if not isinstance(units, int) or units <= 0:
            raise ValueError(f"units must be a positive integer, got {units!r}")
        super().__init__(**kwargs)
        self.units = units
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.unit_forget_bias = unit_forget_bias
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.dropout = min(1.0, max(0.0, dropout))
        self.recurrent_dropout = min(1.0, max(0.0, recurrent_dropout))
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed=seed)

    # -- sizes -------------------------------------------------------------------------------
    @property
    def output_units(self):
        """Width of h, the state fed back into the next step (differs only with a projection)."""
        return self.units

    @property
    def state_size(self):
        return [self.output_units, self.units]

    @property
    def output_size(self):
        return self.output_units

    # -- weights -----------------------------------------------------------------------------
    def build(self, input_shape):
        width = self.units * len(self.gate_names)
        self.kernel = self.add_weight(
            shape=(input_shape[-1], width),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.output_units, width),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(width,),
                name="bias",
                initializer=self._bias_initializer(),
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        self._build_extra_weights()
        self.built = True

    def _bias_initializer(self):
        """With ``unit_forget_bias`` the forget block starts at 1, so memory is kept early on."""
        if not self.unit_forget_bias:
            return self.bias_initializer
        forget = self.gate_names.index("forget")
        blocks = len(self.gate_names)
        base = self.bias_initializer

        def initializer(shape, dtype=None):
            parts = [
                initializers.get("ones")((self.units,), dtype=dtype)
                if k == forget
                else base((self.units,), dtype=dtype)
                for k in range(blocks)
            ]
            return ops.concatenate(parts)

        return initializer

    def _build_extra_weights(self):
        """Variants add their own weights (peepholes, norms, projection) here."""

    def lowering(self):
        """The standard formula of ``zoo.cells.lowering``: every fast path runs this cell."""
        return standard(self, self.cell_name)

    # -- the step ----------------------------------------------------------------------------
    #: Set by ``zoo.layers.LSTM`` while it runs the cell over inputs it already multiplied by
    #: ``kernel`` (one matmul for all time steps); the cell then adds only the recurrent part.
    inputs_projected = False

    def call(self, inputs, states, training=False):
        h_tm1, c_tm1 = states[0], states[1]
        if self.inputs_projected:
            projected = inputs  # input dropout, if any, was applied before the projection
        else:
            if training and 0.0 < self.dropout < 1.0:
                inputs = inputs * self.get_dropout_mask(inputs)
            projected = self.project_inputs(inputs)
        if training and 0.0 < self.recurrent_dropout < 1.0:
            h_tm1 = h_tm1 * self.get_recurrent_dropout_mask(h_tm1)
        h, c = self._gates(self._preactivations(projected, h_tm1), c_tm1)
        return h, [h, c]

    def project_inputs(self, inputs):
        """x·W for every gate; works on one step (B, I) or a whole sequence (B, T, I)."""
        return ops.matmul(inputs, self.kernel)

    def _preactivations(self, projected, h_tm1):
        """x·W + h·R + b for all gates at once, with the bias through ``ops.add`` (a BiasAdd)."""
        z = ops.add(projected, ops.matmul(h_tm1, self.recurrent_kernel))
        if self.use_bias:
            z = ops.add(z, self.bias)
        return z

    def _gates(self, z, c_tm1):
        """Pre-activations of all gates (B, 4H) and the old cell -> new (h, c)."""
        z_i, z_f, z_c, z_o = ops.split(z, 4, axis=-1)
        i = self.recurrent_activation(z_i)
        f = self.recurrent_activation(z_f)
        c = f * c_tm1 + i * self.activation(z_c)
        o = self.recurrent_activation(z_o)
        return o * self.activation(self._shown_cell(c)), c

    def _shown_cell(self, c):
        """What of the cell the output gate squashes and shows (the layer-norm cell rescales it)."""
        return c

    def get_initial_state(self, batch_size=None):
        return [
            ops.zeros((batch_size, size), dtype=self.compute_dtype) for size in self.state_size
        ]

    def get_config(self):
        config = {
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "unit_forget_bias": self.unit_forget_bias,
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "recurrent_constraint": constraints.serialize(self.recurrent_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }
        return {**super().get_config(), **config}
