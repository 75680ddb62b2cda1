"""``zoo.optimizers.FusedAdam`` trains exactly as ``keras.optimizers.Adam`` (its reason to exist is
speed, measured in ``benchmarks/train_speed.py``) and saves and loads like any Keras optimizer."""

import keras
import numpy as np
import pytest

from zoo.optimizers import FusedAdam


def trained_weights(optimizer, steps=6):
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((5, 3)), keras.layers.LSTM(4), keras.layers.Dense(2)])
    model.compile(optimizer=optimizer, loss="mse", jit_compile=False)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, 5, 3)).astype("float32"), rng.normal(size=(8, 2)).astype("float32")
    for _ in range(steps):
        model.train_on_batch(x, y)
    return model.get_weights(), [v.numpy() for v in model.optimizer.variables]


@pytest.mark.parametrize("arguments", [{"learning_rate": 0.01}, {"learning_rate": 0.05, "clipnorm": 0.1},
                                       {"learning_rate": 0.01, "amsgrad": True}])
def test_fused_adam_updates_as_keras_adam(arguments):
    fused, fused_state = trained_weights(FusedAdam(**arguments))
    plain, plain_state = trained_weights(keras.optimizers.Adam(**arguments))
    assert len(fused_state) == len(plain_state)  # the same moments: checkpoints interchange
    for a, b in zip(fused + fused_state, plain + plain_state):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)  # float rounding, one op against fifteen


def test_fused_adam_round_trips_through_a_saved_model(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer=FusedAdam(0.02, beta_2=0.99), loss="mse")
    model.train_on_batch(np.ones((2, 3), "float32"), np.ones((2, 1), "float32"))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.optimizer, FusedAdam)
    assert loaded.optimizer.get_config()["beta_2"] == pytest.approx(0.99)
    assert int(loaded.optimizer.iterations.numpy()) == 1
