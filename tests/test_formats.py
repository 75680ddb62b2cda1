"""Every format in the registry writes, runs, counts its operators and quantizes: a new format
added to ``export.formats.FORMATS`` is held to all of it here without a new test."""

import re
from pathlib import Path

import keras
import numpy as np
import pytest

from zoo.export.formats import FORMATS, QUANTIZE_MODES, QUANTIZED_RTOL, Format, detect, key_ops, quantized_filename
from zoo.export.onnx import DEFAULT_OPSET
from zoo.export.formats import artifact_kind
from zoo.export.runtime import Runner
from zoo.export.streaming import FILENAMES, StepRunner, verify_streaming, write_streaming
from zoo.export.verify import compare
from zoo.layers import LSTM

ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((None, 3))
    return keras.Model(inputs, keras.layers.Dense(2)(LSTM(4)(inputs)))


@pytest.fixture(scope="module")
def inputs():
    return np.random.default_rng(0).standard_normal((3, 6, 3)).astype("float32")


def _overrides(fmt, method):
    return getattr(type(fmt), method) is not getattr(Format, method)


@pytest.mark.parametrize("name", FORMATS)
def test_a_format_declares_its_data_and_its_four_capabilities(name):
    fmt = FORMATS[name]
    assert fmt.name == name and fmt.title and fmt.runtime and fmt.batch
    assert fmt.filename and fmt.step_filename and fmt.filename != fmt.step_filename
    assert 0 < fmt.rtol < QUANTIZED_RTOL and fmt.atol > 0
    for method in ("write", "write_step", "runner"):  # writing (whole and step) and running
        assert _overrides(fmt, method), f"{name} lacks {method}"
    assert set(fmt.quantize) <= set(QUANTIZE_MODES)  # quantization: its modes, and the writer for them
    assert not fmt.quantize or _overrides(fmt, "write_quantized")
    assert set(fmt.key_ops) <= set(key_ops())  # the census' key operators are in every table
    assert not fmt.key_ops or _overrides(fmt, "op_census")
    assert len({f.filename for f in FORMATS.values()}) == len(FORMATS)
    assert len({f.step_filename for f in FORMATS.values()}) == len(FORMATS)


def _writable(name):
    """The web format copies onnxruntime-web from npm: without it (and outside CI) its case skips."""
    import os

    from zoo.export.webpage import RUNTIME_FILES, runtime_directory

    missing = not all((runtime_directory() / f).exists() for f in RUNTIME_FILES)
    reason = "onnxruntime-web is not installed: npm ci --ignore-scripts --prefix export/web"
    skip = FORMATS[name].preflight.__func__ is not Format.preflight and missing and not os.environ.get("ZOO_REQUIRE_WEB")
    return pytest.param(name, marks=pytest.mark.skipif(skip, reason=reason))


@pytest.mark.parametrize("name", [_writable(name) for name in FORMATS])
def test_each_format_writes_runs_and_counts_a_model(name, model, inputs, tmp_path):
    fmt = FORMATS[name]
    path = tmp_path / fmt.filename
    info = fmt.write(model, path, opset=DEFAULT_OPSET, metadata={"zoo.model": "tiny"})
    assert info is None or isinstance(info, dict)
    assert path.exists() and detect(path) is fmt and artifact_kind(path) == name
    runner = fmt.runner(path)
    assert isinstance(runner, Runner) and runner.n_features == 3 and not runner.takes_tokens
    expected = np.asarray(model(inputs))
    diff, tolerance, ok = compare(expected, runner(inputs), rtol=fmt.rtol, atol=fmt.atol)
    assert ok, (diff, tolerance)
    ops = fmt.op_census(path)
    assert ops is None or (isinstance(ops, dict) and all(v > 0 for v in ops.values()) and ops)
    assert isinstance(fmt.inspect(path), dict)
    for mode in fmt.quantize:
        target = tmp_path / quantized_filename(fmt, mode)
        fmt.write_quantized(mode, model, target, float_path=path, calibration=inputs)
        assert detect(target) is fmt
        # A tiny random model is no quantization benchmark (int8 weights of 4 units are coarse):
        # the artifact runs, and errs less than the outputs' scale; the pipeline's tests hold the bound.
        diff, tolerance, ok = compare(expected, fmt.runner(target)(inputs), rtol=1.0, atol=fmt.atol)
        assert ok, (mode, diff, tolerance)
    with pytest.raises(ValueError):
        fmt.write_quantized("no-such-mode", model, tmp_path / "x", float_path=path)


@pytest.mark.parametrize("name", FORMATS)
def test_each_format_writes_and_runs_the_step_model(name, model, inputs, tmp_path):
    written = write_streaming(model, tmp_path, [name])
    assert Path(written[name]["path"]) == tmp_path / FORMATS[name].step_filename and FILENAMES[name] == FORMATS[name].step_filename
    assert StepRunner(written[name]["path"]).kind == name  # told apart by the format's recognizes()
    report = verify_streaming(model, tmp_path, inputs)
    assert report["ok"] and report[name]["steps_checked"] == inputs.shape[1], report


def test_no_module_branches_on_a_format_name():
    """Format knowledge lives in the plug-ins: nothing compares a format's name to a literal."""
    names = "|".join(FORMATS)
    pattern = re.compile(rf"""(==|!=)\s*["']({names})["']|["']({names})["']\s*(==|!=)""")
    offenders = [f"{path.relative_to(ROOT)}:{number}"
                 for folder in ("zoo", "export") for path in sorted((ROOT / folder).rglob("*.py"))
                 for number, line in enumerate(path.read_text().splitlines(), 1) if pattern.search(line)]
    assert offenders == []


def test_quantization_modes_are_declared_once_on_the_formats_and_each_writer_implements_its_own():
    """``QUANTIZE_MODES`` is read off the formats; each format's writer takes exactly the modes it
    declares (an undeclared one is refused there, not silently written as float)."""
    from zoo.export import onnx, tflite

    assert QUANTIZE_MODES == tuple(dict.fromkeys(m for f in FORMATS.values() for m in f.quantize))
    import tensorflow as tf

    for mode in FORMATS["tflite"].quantize:
        tflite._converter_settings(mode, tf)
    with pytest.raises(ValueError, match="no quantization mode"):
        tflite._converter_settings("int4", tf)
    with pytest.raises(ValueError, match="no quantization mode"):
        onnx.quantize("int8", "unused.onnx", "unused.int8.onnx")  # ONNX declares dynamic and float16 only
