"""Any Keras model built from zoo cells exports to all three formats and matches Keras."""

import keras
import pytest

from conftest import CELL_NAMES
from zoo.export.formats import parse_formats
from zoo.export.onnx_lstm import why_not_native
from zoo.export.pipeline import export_checkpoint
from zoo.export.tflite_lstm import why_not_fused
from zoo.layers import LSTM, bidirectional


def save(model, tmp_path):
    path = tmp_path / "model.keras"
    model.save(path)
    return path


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_each_cell_exports_and_verifies(cell, tmp_path):
    layer = LSTM(6, cell=cell)
    model = keras.Sequential([keras.Input((None, 3)), layer, keras.layers.Dense(2)])
    report = export_checkpoint(save(model, tmp_path), tmp_path / "out", parse_formats("savedmodel,tflite,onnx"))
    assert report["ok"], report
    assert report["test_inputs"]["source"] == "random normal"
    onnx_ops, tflite_ops = report["formats"]["onnx"]["ops"], report["formats"]["tflite"]["ops"]
    assert not any(op.startswith("Flex") for op in tflite_ops)
    # The cell's lowering decides: one native op where it fits, the generic loop otherwise.
    if why_not_native(layer) is None:
        assert onnx_ops.get("LSTM") == 1 and "Loop" not in onnx_ops
    else:
        assert "LSTM" not in onnx_ops and onnx_ops.get("Loop") == 1
    if why_not_fused(layer) is None:
        assert tflite_ops.get("UNIDIRECTIONAL_SEQUENCE_LSTM") == 1 and "WHILE" not in tflite_ops
    else:
        assert "UNIDIRECTIONAL_SEQUENCE_LSTM" not in tflite_ops and tflite_ops.get("WHILE") == 1


def test_the_classic_cells_lower_natively():
    """Guards the descriptions: the layer-norm cell (cell-normalised) is the one on the loop paths."""
    native = {cell for cell in CELL_NAMES if why_not_native(LSTM(6, cell=cell)) is None}
    fused = {cell for cell in CELL_NAMES if why_not_fused(LSTM(6, cell=cell)) is None}
    assert {"lstm", "peephole", "cifg", "projection"} <= native and "layer_norm" not in native
    assert {"lstm", "peephole", "cifg", "projection"} <= fused and "layer_norm" not in fused


def test_stacked_bidirectional_model_exports(tmp_path):
    inputs = keras.Input((None, 2))
    x = bidirectional(4, return_sequences=True)(inputs)
    x = LSTM(3, cell="cifg")(x)
    model = keras.Model(inputs, keras.layers.Dense(1)(x))
    report = export_checkpoint(save(model, tmp_path), tmp_path / "out", parse_formats("onnx,tflite"))
    assert report["ok"], report


def test_failed_format_is_reported_and_leaves_no_file(tmp_path, monkeypatch):
    from zoo.export import pipeline

    def broken(*args, **kwargs):
        raise RuntimeError("converter crashed")

    monkeypatch.setitem(pipeline.WRITERS, "tflite", broken)
    model = keras.Sequential([keras.Input((None, 3)), LSTM(4), keras.layers.Dense(1)])
    report = export_checkpoint(save(model, tmp_path), tmp_path / "out", parse_formats("tflite,onnx"))
    assert not report["ok"] and "converter crashed" in report["formats"]["tflite"]["error"]
    assert report["formats"]["onnx"]["ok"]
    assert not (tmp_path / "out" / "model.tflite").exists()
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert leftovers == []  # the staging directory was moved into place, nothing else left
