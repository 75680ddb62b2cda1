"""The fused training kernel (zoo/kernel): it is built and used here, and it computes exactly what
Keras' loop computes, values and gradients, in every layout the layer supports."""

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import CELL_NAMES
from zoo import kernel
from zoo.cells import CELLS as REGISTERED
from zoo.cells.layer_norm import LayerNormLSTMCell
from zoo.cells.lowering import COUPLED_GATES, describe
from zoo.cells.backends import why_not
from zoo.kernel.dispatch import KERNEL
from zoo.layers import LSTM, bidirectional
from zoo.training import default_jit_compile

pytestmark = pytest.mark.slow  # the kernel build and trainings through it

B, T, F, H = 5, 9, 4, 6


def test_kernel_builds_and_is_used_on_this_machine():
    """CI must prove the fast path, not silently fall back to the slower loop."""
    assert kernel.enabled()
    assert kernel.ops() is not None


def sequences(seed=0, padded=False):
    x = np.random.default_rng(seed).normal(size=(B, T, F)).astype("float32")
    if padded:  # post-padding, pre-padding and a gap, as masks meet them
        x[0, 6:] = 0
        x[1, :3] = 0
        x[2, 4:6] = 0
        x[3, :] = 0
    return x


def with_kernel(monkeypatch, on):
    monkeypatch.setattr(kernel, "enabled", lambda: on)


def forward_and_gradients(layer, x, mask, initial_state):
    with tf.GradientTape() as tape:
        tape.watch(x)
        kwargs = {"mask": mask} if mask is not None else {}
        if initial_state is not None:
            tape.watch(initial_state)
            kwargs["initial_state"] = initial_state
        result = layer(x, training=True, **kwargs)
        results = list(result) if isinstance(result, (list, tuple)) else [result]
        loss = sum(tf.reduce_sum(tf.sin(3.0 * r)) for r in results)
    sources = [x, *layer.trainable_weights, *(initial_state or [])]
    return [r.numpy() for r in results], [g.numpy() for g in tape.gradient(loss, sources)]


LAYOUTS = [
    {},
    {"return_sequences": True},
    {"go_backwards": True, "return_sequences": True},
    {"return_state": True},
    {"return_sequences": True, "zero_output_for_mask": True},
    {"go_backwards": True, "return_state": True, "zero_output_for_mask": True},
]


class EveryVariantCell(LayerNormLSTMCell):
    """Coupled gates, peepholes on f and o, layer norm and a projection at once: the kernel
    computes any combination the lowering describes, not only the registered cells."""

    gate_names = COUPLED_GATES

    def _build_extra_weights(self):
        super()._build_extra_weights()
        self.forget_peephole = self.add_weight(shape=(self.units,), name="forget_peephole")
        self.output_peephole = self.add_weight(shape=(self.units,), name="output_peephole")
        self.projection_kernel = self.add_weight(shape=(self.units, self.output_units), name="projection_kernel")

    @property
    def output_units(self):
        return self.units - 2

    def _gates(self, z, c_tm1):
        z_f, z_c, z_o = keras.ops.split(z, 3, axis=-1)
        f = keras.ops.sigmoid(z_f + self.forget_peephole * c_tm1)
        c = f * c_tm1 + (1.0 - f) * keras.ops.tanh(z_c)
        o = keras.ops.sigmoid(z_o + self.output_peephole * c)
        return keras.ops.matmul(o * keras.ops.tanh(self._shown_cell(c)), self.projection_kernel), c

    def lowering(self):
        return dataclasses.replace(
            LayerNormLSTMCell.lowering(self), name="every-variant", coupled_input_forget=True,
            projection="projection_kernel", peepholes=(("forget", "forget_peephole"), ("output", "output_peephole")))


# Every registered cell whose lowering the kernel computes, plus option variants that change it.
CELLS = {name: {"cell": name} for name in CELL_NAMES if why_not("kernel", describe(REGISTERED[name](H))) is None}
CELLS["layer_norm-gates_only"] = {"cell": "layer_norm", "normalize_cell": False}
CELLS["every-variant"] = {"cell": lambda: EveryVariantCell(H)}
assert {"lstm", "layer_norm", "peephole", "cifg", "projection"} <= set(CELLS)  # guards the descriptions
assert why_not("kernel", describe(EveryVariantCell(H))) is None


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("masked", [False, True], ids=["unmasked", "masked"])
@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda kw: "-".join(kw) or "last")
def test_kernel_matches_keras_loop_in_values_and_gradients(monkeypatch, layout, masked, cell):
    x = tf.constant(sequences(padded=masked))
    mask = tf.reduce_any(x != 0, axis=-1) if masked else None
    options = {k: v() if callable(v) else v for k, v in CELLS[cell].items()}  # a fresh cell instance
    layer = LSTM(H, **options, **layout)
    layer(x)
    rng = np.random.default_rng(1)
    layer.set_weights([rng.normal(0, 0.5, w.shape).astype("float32") + (1.0 if "gamma" in w.path else 0.0)
                       for w in layer.weights])
    state = None
    if layout.get("return_state"):  # a given initial state gets its gradient too
        state = [tf.constant(rng.normal(size=(B, size)).astype("float32")) for size in layer.cell.state_size]
    with_kernel(monkeypatch, True)
    assert layer.training_path()[0] == KERNEL
    fused_out, fused_grads = forward_and_gradients(layer, x, mask, state)
    with_kernel(monkeypatch, False)
    loop_out, loop_grads = forward_and_gradients(layer, x, mask, state)
    for a, b in zip(fused_out, loop_out):
        np.testing.assert_allclose(a, b, atol=2e-6)
    for a, b in zip(fused_grads, loop_grads):
        # float32 sums in another order: gradients summed over 96 steps and rows reach |4|, where
        # 2e-5 is 5 float32 ulps; one element of the masked, backwards layer-norm case measured
        # 3.5e-5 on this machine (at eb898df too), so the bound is 5e-5
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=5e-5)


def test_training_with_the_kernel_gives_the_weights_keras_loop_gives(monkeypatch):
    """A masked stack of every fused cell (bidirectional, dropout) trained a few epochs: same weights."""
    x = sequences(2, padded=True)
    y = np.random.default_rng(3).normal(size=(B, 1)).astype("float32")

    def train(on):
        with_kernel(monkeypatch, on)
        keras.utils.set_random_seed(0)
        inputs = keras.Input((T, F))
        hidden = keras.layers.Masking()(inputs)
        hidden = bidirectional(H, return_sequences=True)(hidden)
        for cell in ("layer_norm", "peephole", "cifg", "projection"):
            hidden = LSTM(H, cell=cell, return_sequences=True)(hidden)
        hidden = LSTM(H, dropout=0.2)(hidden)
        model = keras.Model(inputs, keras.layers.Dense(1)(hidden))
        model.compile("adam", "mse", jit_compile=False)
        model.fit(x, y, batch_size=2, epochs=3, verbose=0, shuffle=False)
        return [w.numpy() for w in model.weights]

    for a, b in zip(train(True), train(False)):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_the_kernel_turns_xla_off_only_where_it_runs(monkeypatch):
    def model(cell):
        inputs = keras.Input((T, F))
        return keras.Model(inputs, keras.layers.Dense(1)(LSTM(H, cell=cell)(inputs)))

    assert default_jit_compile(model("lstm")) is False  # the kernel runs; XLA cannot compile it
    assert default_jit_compile(model("layer_norm")) is False
    assert default_jit_compile(model("peephole")) is False
    assert default_jit_compile(model("forget_gate")) is True  # no lowering: Keras' loop under XLA
    with_kernel(monkeypatch, False)
    assert default_jit_compile(model("lstm")) is True  # no kernel: back to XLA
    monkeypatch.setenv("ZOO_JIT_COMPILE", "0")
    assert default_jit_compile(model("forget_gate")) is False


def test_inference_graph_never_contains_the_kernel_op():
    """Exporters see Keras' loop: the op appears in training only."""
    layer = LSTM(H)
    x = tf.constant(sequences())
    layer(x)
    graph = tf.function(lambda v: layer(v, training=False)).get_concrete_function(x).graph
    assert not [op for op in graph.get_operations() if op.type.startswith("ZooLstm")]
    graph = tf.function(lambda v: layer(v, training=True)).get_concrete_function(x).graph
    assert [op for op in graph.get_operations() if op.type == "ZooLstmForward"]


def test_kernel_rejects_mismatched_shapes():
    ops, empty = kernel.ops(), tf.zeros((0,))

    def forward(h0=(2, 2), projection=empty, bias=empty, input_kernel=(4, 8)):
        # x (2, 3, 4), R (2, 8): two units, four gates
        return ops.zoo_lstm_forward(tf.zeros((2, 3, 4)), tf.zeros((2, 8)), tf.zeros(h0), tf.zeros((2, 2)),
                                    tf.ones((2, 3)), empty, empty, projection, bias, tf.zeros(input_kernel))

    forward()  # the shapes below differ from these in one place each
    for wrong in ({"h0": (2, 3)}, {"projection": tf.zeros((2, 3))}, {"bias": tf.zeros((4,))},
                  {"input_kernel": (5, 8)}):
        with pytest.raises(tf.errors.InvalidArgumentError, match="shapes do not agree"):
            forward(**wrong)


def test_a_missing_compiler_falls_back_with_one_warning(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # nothing cached: it must compile
    monkeypatch.setenv("CXX", str(tmp_path / "no-such-compiler"))
    kernel.ops.cache_clear()
    try:
        with pytest.warns(UserWarning, match="fused LSTM kernel unavailable"):
            assert kernel.ops() is None
    finally:
        kernel.ops.cache_clear()
