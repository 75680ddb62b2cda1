"""Each cell against a NumPy reference of its equations, against Keras' own LSTM, through
serialisation and gradients, and its declared lowering against its weights."""

import keras
import numpy as np
import pytest

from conftest import CELL_NAMES
from reference import run
from zoo.cells import CELLS, CIFGLSTMCell, LSTMCell, PeepholeLSTMCell, ProjectionLSTMCell, register_cell
from zoo.cells.lowering import STANDARD_GATES, describe
from zoo.layers import LSTM, bidirectional, stacked

B, T, F, H = 3, 7, 4, 5


def randomize(layer, scale=0.5, seed=0):
    """Non-trivial weights (the initial peepholes, norms and biases are too regular to test with)."""
    rng = np.random.default_rng(seed)
    layer.set_weights([rng.normal(0, scale, w.shape).astype("float32") + (1.0 if "gamma" in w.path else 0.0)
                       for w in layer.weights])


def cell_weights(layer):
    return {w.name: np.asarray(w.numpy(), dtype="float64") for w in layer.cell.weights}


def inputs(seed=1):
    return np.random.default_rng(seed).normal(size=(B, T, F)).astype("float32")


@pytest.mark.parametrize("kind", CELL_NAMES)
def test_cell_matches_numpy_reference(kind):
    layer = LSTM(H, cell=kind, return_sequences=True, return_state=True)
    x = inputs()
    layer(x)
    randomize(layer)
    outputs, h, c = (np.asarray(t) for t in layer(x))
    size_h = layer.cell.state_size[0]
    ref_out, ref_h, ref_c = run(kind, cell_weights(layer), x.astype("float64"),
                                np.zeros((B, size_h)), np.zeros((B, H)))
    np.testing.assert_allclose(outputs, ref_out, atol=1e-5)
    np.testing.assert_allclose(h, ref_h, atol=1e-5)
    np.testing.assert_allclose(c, ref_c, atol=1e-5)


@pytest.mark.parametrize("kind", CELL_NAMES)
def test_cell_masked_backwards_with_initial_state_matches_reference(kind):
    layer = LSTM(H, cell=kind, return_sequences=True, return_state=True, go_backwards=True)
    x = inputs(2)
    mask = np.ones((B, T), bool)
    mask[0, 4:] = False
    mask[2, 1:3] = False
    size_h = layer.cell.state_size[0]
    rng = np.random.default_rng(3)
    h0 = rng.normal(size=(B, size_h)).astype("float32")
    c0 = rng.normal(size=(B, H)).astype("float32")
    layer(x, initial_state=[h0, c0], mask=mask)
    randomize(layer, seed=4)
    outputs, h, c = (np.asarray(t) for t in layer(x, initial_state=[h0, c0], mask=mask))
    _, ref_h, ref_c = run(kind, cell_weights(layer), x.astype("float64"), h0, c0,
                          mask=mask, go_backwards=True)
    np.testing.assert_allclose(h, ref_h, atol=1e-5)
    np.testing.assert_allclose(c, ref_c, atol=1e-5)


def keras_pair(**kwargs):
    reference = keras.layers.LSTM(H, **kwargs)
    ours = LSTM(H, **kwargs)
    x = inputs()
    reference(x)
    ours(x)
    randomize(reference, seed=5)
    ours.set_weights(reference.get_weights())
    return reference, ours, x


@pytest.mark.parametrize("options", [
    {"return_sequences": True},
    {"return_sequences": True, "go_backwards": True},
    {"return_state": True},
])
def test_lstm_cell_reproduces_keras_lstm(options):
    reference, ours, x = keras_pair(**options)
    for a, b in zip(keras.tree.flatten(reference(x)), keras.tree.flatten(ours(x))):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5)


def test_lstm_cell_reproduces_keras_lstm_masked_and_initial_state():
    reference, ours, x = keras_pair(return_sequences=True)
    x[1, 5:] = 0.0
    masked = keras.layers.Masking(0.0)
    state = [np.full((B, H), 0.3, "float32"), np.full((B, H), -0.2, "float32")]
    expected = reference(masked(x), initial_state=state)
    actual = ours(masked(x), initial_state=state)
    np.testing.assert_allclose(np.asarray(actual), np.asarray(expected), atol=1e-5)


def test_lstm_cell_reproduces_keras_lstm_stateful():
    reference = keras.layers.LSTM(H, stateful=True, return_sequences=True)
    ours = LSTM(H, stateful=True, return_sequences=True)
    x = inputs()
    reference(x[:, :3])
    ours(x[:, :3])
    randomize(reference, seed=6)
    ours.set_weights(reference.get_weights())
    reference.reset_state()
    ours.reset_state()
    for chunk in (x[:, :3], x[:, 3:]):  # state carries over between calls
        np.testing.assert_allclose(np.asarray(ours(chunk)), np.asarray(reference(chunk)), atol=1e-5)
    ours.reset_state()
    reference.reset_state()
    np.testing.assert_allclose(np.asarray(ours(x)), np.asarray(reference(x)), atol=1e-5)


def test_keras_weight_layout_and_forget_bias():
    layer = LSTM(H)
    layer(inputs())
    kernel, recurrent, bias = layer.get_weights()
    assert (kernel.shape, recurrent.shape, bias.shape) == ((F, 4 * H), (H, 4 * H), (4 * H,))
    np.testing.assert_array_equal(bias, np.r_[np.zeros(H), np.ones(H), np.zeros(2 * H)])
    cifg = LSTM(H, cell="cifg")
    cifg(inputs())
    assert cifg.cell.kernel.shape == (F, 3 * H)
    np.testing.assert_array_equal(cifg.cell.bias.numpy(), np.r_[np.ones(H), np.zeros(2 * H)])


@pytest.mark.parametrize("kind", CELL_NAMES)
def test_keras_file_round_trip(kind, tmp_path):
    model = keras.Sequential([keras.Input((None, F)), LSTM(H, cell=kind), keras.layers.Dense(2)])
    randomize(model.layers[0], seed=7)
    x = inputs()
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert type(loaded.layers[0].cell) is CELLS[kind]
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), atol=1e-6)


@pytest.mark.parametrize("kind", CELL_NAMES)
def test_cell_config_round_trip(kind):
    cell = CELLS[kind](H, dropout=0.25, recurrent_dropout=0.1, unit_forget_bias=False)
    clone = CELLS[kind].from_config(cell.get_config())
    assert clone.get_config() == cell.get_config()


@pytest.mark.parametrize("kind", CELL_NAMES)
def test_gradients_match_finite_differences(kind):
    import tensorflow as tf

    layer = LSTM(3, cell=kind, dtype="float64")
    x = np.random.default_rng(8).normal(size=(2, 4, 2))
    layer(x)
    randomize(layer, seed=9)
    kernel = layer.cell.kernel
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x) ** 2)
    analytic = tape.gradient(loss, kernel.value).numpy()
    assert np.isfinite(analytic).all()
    base, eps = kernel.numpy().copy(), 1e-6
    for index in [(0, 0), (1, 2), (0, kernel.shape[1] - 1)]:
        shifted = base.copy()
        shifted[index] += eps
        kernel.assign(shifted)
        up = float(np.sum(np.asarray(layer(x)) ** 2))
        shifted[index] -= 2 * eps
        kernel.assign(shifted)
        down = float(np.sum(np.asarray(layer(x)) ** 2))
        kernel.assign(base)
        assert abs((up - down) / (2 * eps) - analytic[index]) < 1e-6 * max(1.0, abs(analytic[index]))


@pytest.mark.parametrize("kind", CELL_NAMES)
def test_dropout_only_in_training(kind):
    layer = LSTM(H, cell=kind, dropout=0.5, recurrent_dropout=0.5, seed=1)
    x = inputs()
    inference = np.asarray(layer(x))
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), inference)
    assert not np.allclose(np.asarray(layer(x, training=True)), inference)


def test_projection_shapes_and_cifg_has_no_input_gate():
    layer = LSTM(8, cell=ProjectionLSTMCell(8, projection_units=3), return_state=True)
    out, h, c = layer(inputs())
    assert out.shape == (B, 3) and h.shape == (B, 3) and c.shape == (B, 8)
    assert LSTM(8, cell="projection").cell.projection_units == 4
    assert CIFGLSTMCell.gate_names == ("forget", "candidate", "output")


def test_layer_argument_errors():
    with pytest.raises(ValueError, match="unknown cell 'gru'"):
        LSTM(4, cell="gru")
    with pytest.raises(ValueError, match="needs `units`"):
        LSTM(cell="lstm")
    with pytest.raises(ValueError, match="cell options"):
        LSTM(cell=LSTMCell(4), dropout=0.1)
    with pytest.raises(ValueError, match="positive integer"):
        LSTMCell(0)


def test_bidirectional_and_stacked():
    x = inputs()
    assert bidirectional(H, cell="cifg")(x).shape == (B, 2 * H)
    y = x
    layers = stacked([6, 4], cell="peephole")
    for layer in layers:
        y = layer(y)
    assert y.shape == (B, 4) and layers[0].return_sequences and not layers[1].return_sequences


# -- lowerings: the one description every fast path reads --------------------------------------


@pytest.mark.parametrize("kind", CELL_NAMES)
def test_every_cell_declares_a_lowering_that_names_its_weights(kind):
    layer = LSTM(H, cell=kind)
    layer(inputs())
    cell, lowering = layer.cell, describe(layer.cell)
    if not lowering.native:
        assert lowering.reason, "a cell without a native lowering must say why"
        return
    assert lowering.name == kind and lowering.units == H and lowering.gates == cell.gate_names
    width = len(lowering.gates) * H
    shapes = {lowering.kernel: (F, width), lowering.recurrent_kernel: (lowering.output_units, width)}
    if lowering.bias:
        shapes[lowering.bias] = (width,)
    shapes.update({name: (H,) for _, name in lowering.peepholes})
    if lowering.projection:
        shapes[lowering.projection] = (H, lowering.output_units)
    if lowering.gate_norm:
        shapes[lowering.gate_norm.gamma] = (width,)
    if lowering.cell_norm:
        shapes[lowering.cell_norm.gamma] = shapes[lowering.cell_norm.beta] = (H,)
    for name, shape in shapes.items():
        assert tuple(getattr(cell, name).shape) == shape, name
    assert len(shapes) == len(cell.weights)  # nothing the description leaves out


def test_lowerings_of_the_classic_cells():
    def lowering(kind, **options):
        return describe(CELLS[kind](H, **options))

    assert lowering("lstm").variants == () and lowering("lstm").gates == STANDARD_GATES
    assert lowering("peephole").peephole("output") == "output_peephole"
    assert lowering("cifg").coupled_input_forget and "input" not in lowering("cifg").gates
    assert lowering("projection", projection_units=2).output_units == 2
    assert lowering("layer_norm", epsilon=1e-3).gate_norm.epsilon == 1e-3
    assert lowering("layer_norm", normalize_cell=False).cell_norm is None
    assert describe(keras.layers.LSTMCell(H)) == lowering("lstm")  # Keras' own cell: the same formula
    assert lowering("lstm", activation="relu").activation == "relu"


def test_a_subclass_that_declares_no_lowering_has_none():
    """It may have changed the equations; its parent's fast path would compute the wrong thing."""

    class Tweaked(PeepholeLSTMCell):
        pass

    lowering = describe(Tweaked(H))
    assert not lowering.native and "Tweaked declares no lowering" in lowering.reason


def test_register_cell_refuses_a_taken_name():
    with pytest.raises(ValueError, match="'lstm' is taken by LSTMCell"):
        register_cell("lstm")(type("Other", (LSTMCell,), {}))


def test_integer_gate_range_penalises_training_only():
    """``integer_gate_range`` adds a loss on x·W + b beyond the range in training and changes no output."""
    from zoo.layers import INTEGER_GATE_RANGE

    x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")
    plain, ranged = LSTM(4, cell="lstm"), LSTM(4, cell="lstm", integer_gate_range=INTEGER_GATE_RANGE)
    plain.build(x.shape)
    ranged.build(x.shape)
    kernel, recurrent, bias = plain.get_weights()
    bias[:] = 9.0  # every contribution starts near or beyond +8
    for layer in (plain, ranged):
        layer.set_weights([kernel, recurrent, bias])
    np.testing.assert_allclose(np.asarray(ranged(x, training=True)), np.asarray(plain(x, training=True)), atol=1e-6)
    contributions = x @ kernel + bias
    expected = np.mean(np.maximum(np.abs(contributions) - INTEGER_GATE_RANGE, 0) ** 2)
    assert expected > 0 and not plain.losses
    np.testing.assert_allclose(float(ranged.losses[-1]), expected, rtol=1e-5)
    assert LSTM.from_config(ranged.get_config()).integer_gate_range == INTEGER_GATE_RANGE
