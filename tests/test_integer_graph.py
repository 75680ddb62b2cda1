"""Full-int8 TFLite of token models: the softmax head becomes int8 LOG_SOFTMAX + one float EXP (small
probabilities survive), attention's padding offset stays in int8 range, embeddings are a plain
GATHER (no LESS/SELECT_V2, which TFLite Micro lacks), and the Keras model is left as it was."""

import keras
import numpy as np
import pytest

from zoo.export import tflite
from zoo.export.integer_graph import MASKED_SCORE, append_exp
from zoo.export.runtime import TFLiteRunner
from zoo.layers import LSTM

pytestmark = pytest.mark.slow

VOCAB, T = 12, 10


def ids(count, seed, pad=0):
    x = np.random.default_rng(seed).integers(1, VOCAB, size=(count, T)).astype("int32")
    if pad:
        x[:, T - pad:] = 0  # right padding, as the zoo pads
    return x


def language_model():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(VOCAB, 8)(inputs)
    x = LSTM(16, cell="lstm", return_sequences=True)(x)
    return keras.Model(inputs, keras.layers.Dense(VOCAB, activation="softmax")(x))


def attention_model():
    keras.utils.set_random_seed(1)
    inputs = keras.Input((T,), dtype="int32")
    x = keras.layers.Embedding(VOCAB, 8, mask_zero=True)(inputs)
    encoded = LSTM(16, cell="lstm", return_sequences=True)(x)
    attention = keras.layers.Attention(use_scale=True)
    model = keras.Model(inputs, attention([encoded, encoded]))  # the context vectors themselves
    attention.scale.assign(20.0)  # peaked, as trained attention is: uniform weights would differ
    return model


def int8(model, path, calibration):
    report = tflite.write(model, path, quantize="int8", representative_inputs=calibration)
    return report, tflite.op_census(path)


def test_softmax_head_ends_in_log_softmax_and_exp(tmp_path):
    model = language_model()
    before = [layer.activation for layer in model.layers if hasattr(layer, "activation")]
    report, ops = int8(model, tmp_path / "lm.tflite", ids(32, 0))
    assert report["quantize"] == "int8"
    assert ops.get("LOG_SOFTMAX") == 1 and ops.get("EXP") == 1 and "SOFTMAX" not in ops
    assert not {"LESS", "SELECT_V2", "SELECT"} & set(ops)  # the embedding is one plain GATHER
    x = ids(6, 1)
    expected = np.asarray(model(x))
    got = TFLiteRunner(tmp_path / "lm.tflite")(x)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got.sum(-1), 1.0, atol=0.05)  # probabilities, as every artifact returns
    # Relative precision at every probability, the small ones included (an int8 softmax rounds
    # anything under 1/256 to zero): log-probabilities within 1/16-nat steps plus LSTM error.
    assert np.max(np.abs(np.log(got) - np.log(expected))) < 0.25
    assert [layer.activation for layer in model.layers if hasattr(layer, "activation")] == before
    np.testing.assert_array_equal(np.asarray(model(x)), expected)  # the Keras model is untouched


def test_masked_attention_stays_in_int8_range(tmp_path):
    model = attention_model()
    calibration = np.concatenate([ids(16, 2), ids(16, 3, pad=4)])
    _, ops = int8(model, tmp_path / "attention.tflite", calibration)
    assert "LESS" not in ops
    x = ids(8, 4, pad=3)
    expected = np.asarray(model(x))
    got = TFLiteRunner(tmp_path / "attention.tflite")(x)
    assert np.max(np.abs(got - expected)) < 0.05
    layer = next(layer for layer in model.layers if isinstance(layer, keras.layers.Attention))
    assert "_apply_scores" not in vars(layer)
    assert MASKED_SCORE > 20  # e^-MASKED_SCORE must be negligible next to real scores


def test_append_exp_wants_a_dequantized_output(tmp_path):
    model = language_model()
    tflite.write(model, tmp_path / "float.tflite")
    with pytest.raises(RuntimeError, match="not a DEQUANTIZE"):
        append_exp((tmp_path / "float.tflite").read_bytes())


def test_released_g2p_int8_keeps_its_word_error_rate(tmp_path):
    """Keras' 1e9 padding offset gave the released g2p an int8 WER of 0.997 (every real score
    rounded to zero); with the bounded offset int8 decodes like float."""
    import json
    from pathlib import Path

    from zoo.export.pipeline import RunnerAsModel
    from zoo.factory import create_model
    from zoo.registry import get_recipe

    released = Path(__file__).parents[1] / "models" / "released" / "g2p"
    recipe = get_recipe("g2p")
    config = dict(json.loads((released / "config.json").read_text())["config"], beam=1)
    split = recipe.load_data(config)
    every = len(split.extra["test_words"]) // 200
    for key in ("test_words", "test_references"):
        split.extra[key] = split.extra[key][::every][:200]
    split.extra["baselines"] = {}
    model = create_model("g2p", pretrained=True)
    tflite.write(model, tmp_path / "g2p.tflite", quantize="int8",
                 representative_inputs=np.load(released / "calibration_inputs.npy"))
    quantized = recipe.evaluate(RunnerAsModel(TFLiteRunner(tmp_path / "g2p.tflite")), split, config)["test"]
    float_wer = recipe.evaluate(model, split, config)["test"]["wer"]
    assert quantized["wer"] <= float_wer + 0.02
