"""Sequence layers over zoo cells: one layer owns the loop, masks, state and direction.

``LSTM`` is ``keras.layers.RNN`` with a cell chosen by name, so masking, ``go_backwards``,
``stateful``, initial states and ``return_*`` behave exactly as in Keras. ``bidirectional`` and
``stacked`` are the two compositions every model here uses; ``Standardize`` is the scaler the
models carry inside them.
"""

import keras
import numpy as np
from keras import ops

from zoo.cells import LSTMCell, get_cell_class
from zoo.kernel import dispatch
from zoo.kernel.dispatch import CUDNN, KERNEL, NO_GPU, XLA

#: TFLite's integer LSTM kernel (8-bit activations, 16-bit cell) holds each gate's input
#: contribution x·W + b in Q3.12 and saturates it at ±8 before it adds the recurrent part h·R, so a
#: large input contribution of one sign and a recurrent one of the other come out wrong (the
#: released char-lm's int8 artifact: 1.48 -> 1.54 nats on a test subset). Training with
#: ``integer_gate_range=INTEGER_GATE_RANGE`` penalises contributions beyond it.
INTEGER_GATE_RANGE = 8.0

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
    ``integer_gate_range`` > 0 adds a training loss on input contributions beyond it (see
    ``INTEGER_GATE_RANGE``); the model computes exactly as without it.
    """

    def __init__(self, units=None, cell="lstm", integer_gate_range=0.0, **kwargs):
        self.integer_gate_range = float(integer_gate_range)
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

    def call(self, sequences, initial_state=None, mask=None, training=False):
        """Project the inputs of all time steps in one matmul, then loop over the recurrent part;
        training through cuDNN or the fused kernel (``training_path``), the raw inputs go to them,
        which multiply by the kernel themselves."""
        cell = self.cell
        if training and 0.0 < cell.dropout < 1.0:  # one mask per sequence, as Keras' cells use
            sequences = sequences * ops.expand_dims(cell.get_dropout_mask(sequences[:, 0]), 1)
        path, why = self.training_path() if training else (None, "")
        if training and path != CUDNN and why != NO_GPU and not getattr(self, "_path_logged", False):
            import logging  # a GPU is there but this cell cannot use cuDNN: say so once per layer

            logging.getLogger("zoo").warning("%s trains with %s, not cuDNN: %s", self.name, path, why)
            self._path_logged = True
        if path in (CUDNN, KERNEL):
            if self.integer_gate_range > 0:
                self.add_loss(self._integer_range_penalty(cell.project_inputs(sequences)))
            self._raw_inputs_path = path  # what inner_loop hands the raw inputs to
            try:
                return super().call(sequences, initial_state=initial_state, mask=mask, training=training)
            finally:
                self._raw_inputs_path = None
        projected = cell.project_inputs(sequences)
        if training and self.integer_gate_range > 0:
            self.add_loss(self._integer_range_penalty(projected))
        cell.inputs_projected = True
        try:
            return super().call(projected, initial_state=initial_state, mask=mask, training=training)
        finally:
            cell.inputs_projected = False

    def _integer_range_penalty(self, projected):
        """Mean squared excess of x·W + b over ±integer_gate_range (0 inside the range)."""
        contribution = ops.add(projected, self.cell.bias) if self.cell.use_bias else projected
        excess = ops.relu(ops.abs(contribution) - self.integer_gate_range)
        return ops.mean(ops.square(excess))

    def get_config(self):
        config = super().get_config()
        if self.integer_gate_range:
            config["integer_gate_range"] = self.integer_gate_range
        return config

    @property
    def supports_jit(self):
        """Keras reads this when compiling; XLA can compile neither the fused kernel's op nor cuDNN's."""
        return self._supports_jit and self.training_path()[0] == XLA

    def training_path(self):
        """How training runs this layer -> (path, why not a faster one); see ``zoo.kernel.dispatch``."""
        return dispatch.training_path(self)

    def trains_with_fused_kernel(self):
        return dispatch.trains_with_fused_kernel(self)

    @supports_jit.setter
    def supports_jit(self, value):
        self._supports_jit = value

    def inner_loop(self, sequences, initial_state, mask, training=False):
        """Training may take cuDNN or the fused kernel; inference always runs Keras' loop, the
        graph every exporter recognises. ``sequences`` arrive already multiplied by the kernel,
        except on those two paths (``call``)."""
        path = getattr(self, "_raw_inputs_path", None)
        if isinstance(mask, (list, tuple)) and path is not None:
            mask = mask[0]
        if path == CUDNN:
            from zoo.compat import cudnn_lstm

            cell = self.cell
            try:
                return cudnn_lstm(sequences, initial_state[0], initial_state[1], mask, cell.kernel,
                                  cell.recurrent_kernel, cell.bias, self.go_backwards)
            except NotImplementedError:  # e.g. a mask that is not right padding: Keras' loop
                self._raw_inputs_path = None
                cell.inputs_projected = True
                try:
                    return super().inner_loop(cell.project_inputs(sequences), initial_state, mask, training=training)
                finally:
                    cell.inputs_projected = False
        if path != KERNEL:
            return super().inner_loop(sequences, initial_state, mask, training=training)
        return dispatch.run_fused(self, sequences, initial_state, mask)




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


@keras.saving.register_keras_serializable(package="zoo")
class Standardize(keras.layers.Layer):
    """(x - mean) / std per feature, or its inverse: the scaler that travels inside a model.

    Unlike ``keras.layers.Normalization`` it is XLA-compilable (training runs with
    ``jit_compile``), masks pass through it, and its statistics are weights, so every exporter
    sees constants rather than captured tensors.
    """

    def __init__(self, mean=0.0, std=1.0, invert=False, **kwargs):
        super().__init__(**kwargs)
        self.mean = [float(v) for v in np.atleast_1d(mean)]
        self.std = [float(v) for v in np.atleast_1d(std)]
        if any(v <= 0 for v in self.std):
            raise ValueError("std must be positive")
        self.invert = invert
        self.supports_masking = True

    def build(self, input_shape):
        constant = keras.initializers.Constant
        self.shift = self.add_weight(shape=(len(self.mean),), initializer=constant(self.mean),
                                     trainable=False, name="mean")
        self.scale = self.add_weight(shape=(len(self.std),), initializer=constant(self.std),
                                     trainable=False, name="std")

    def call(self, inputs):
        if self.invert:
            return inputs * self.scale + self.shift
        return (inputs - self.shift) / self.scale

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "std": self.std, "invert": self.invert}


def word_sequence_encoder(token_ids, vocabulary, embedding, units, cell="lstm", dropout=0.0):
    """Token ids -> embedding (0 masked as padding) -> bidirectional LSTM over every position: the
    backbone the text models share. Dropout drops whole channels: element-wise masks on
    (batch, time, features) made a training step 8x slower under XLA on CPU (measured)."""
    x = keras.layers.Embedding(vocabulary, embedding, mask_zero=True, name="embedding")(token_ids)
    x = keras.layers.SpatialDropout1D(dropout, name="embedding_dropout")(x)
    return bidirectional(units, cell=cell, return_sequences=True, name="bilstm")(x)
