"""``zoo.load`` with TensorFlow installed: the Keras runtime, ``export`` and ``evaluate``, and the
errors a wrong target or runtime gets. (Without TensorFlow: tests/test_runtime_only.py.)"""

import numpy as np
import pytest

import zoo
from zoo.errors import UserError


def test_a_name_loads_its_released_checkpoint_in_keras():
    forecaster = zoo.load("forecaster")
    assert forecaster.runtime == "keras" and forecaster.name == "forecaster"
    assert set(forecaster.metadata["zoo.data"]) >= {"mean", "std", "horizon"}
    window = np.load(zoo.get_recipe("forecaster").released / "test_inputs.npy")[:3]
    assert forecaster.predict(window).shape == (3, 1)


def test_text_goes_to_text_models_and_arrays_to_the_others():
    with pytest.raises(UserError, match="does not read text"):
        zoo.load("forecaster").predict("hello")
    with pytest.raises(UserError, match="does not generate text"):
        zoo.load("tagger").generate("x")
    result = zoo.load("text-classifier").predict("The striker scored twice in the final.")
    assert result["label"] == "sport" and 0.5 < result["score"] <= 1


def test_unknown_runtime_and_missing_artifact_are_one_line_errors(tmp_path):
    with pytest.raises(UserError, match="unknown runtime 'onxx'"):
        zoo.load("forecaster", runtime="onxx")
    with pytest.raises(UserError, match="has no onnx artifact"):
        zoo.load("forecaster", runtime="onnx")
    with pytest.raises(UserError, match="no such"):
        zoo.load(tmp_path / "nothing")


@pytest.mark.slow
def test_export_then_load_the_export_and_evaluate(tmp_path):
    forecaster = zoo.load("forecaster")
    report = forecaster.export(tmp_path / "export", formats=["onnx", "tflite"])
    assert report["ok"]
    exported = zoo.load(tmp_path / "export")
    assert exported.runtime in ("onnx", "tflite") and exported.name == "forecaster"
    window = np.load(tmp_path / "export" / "test_data" / "inputs.npy")
    np.testing.assert_allclose(exported.predict(window), np.load(tmp_path / "export" / "test_data" / "expected.npy"),
                               rtol=1e-4, atol=1e-3)
    keras_metrics = forecaster.evaluate()["test"]
    onnx_metrics = zoo.load(tmp_path / "export", runtime="onnx").evaluate()["test"]
    assert abs(keras_metrics["rmse"] - onnx_metrics["rmse"]) < 1e-3 * keras_metrics["rmse"]
