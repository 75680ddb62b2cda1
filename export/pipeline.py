"""``zoo export``: every requested format, each run in its runtime and checked against Keras.

All files are written into a staging directory that replaces the target only when complete, so
an interrupted or failed export never leaves half an artifact. Beside the artifacts:
``test_data/inputs.npy`` and ``expected.npy`` (Keras' outputs) let a deployment check itself;
``deployment.json`` holds what an app needs to feed the model (input scaling, vocabularies, labels);
with ``streaming``, single-step artifacts (``*.step.*``) carry the LSTM state through the app;
and ``report.json`` says per artifact: path, bytes, max_abs_diff, tolerance, ok, ops, latency
and, for a training run, the task metric on the whole test split next to Keras'.
"""

import shutil
import time
from pathlib import Path

import numpy as np

from zoo.export import onnx as onnx_format
from zoo.export.formats import FORMATS, QUANTIZED_RTOL, check_quantize, key_ops, quantized_filename
from zoo.export.runtime import KerasRunner, artifact_size, first_line
from zoo.export.timing import latency_ms
from zoo.export.verify import compare
from zoo.checkpoints import CALIBRATION_INPUTS_NAME, TEST_INPUTS_NAME, load_run_config, resolve
from zoo.errors import UserError
from zoo.files import atomic_directory, write_json
from zoo.progress import stage
from zoo.release import format_number
from zoo.registry import get_recipe

#: Each format's whole-model writer, straight from the registry: the one place the pipeline
#: looks it up, so a test can put a failing converter in for one format.
WRITERS = {name: fmt.write for name, fmt in FORMATS.items()}


def sample_inputs(model, run_dir, count=8, steps=24, seed=0):
    """Real test vectors from the run when there are any, otherwise seeded noise (token ids 0-1
    for integer inputs, which every vocabulary has)."""
    dtype = model.inputs[0].dtype
    if run_dir is not None and (Path(run_dir) / TEST_INPUTS_NAME).exists():
        return np.load(Path(run_dir) / TEST_INPUTS_NAME)[:count].astype(dtype), "test split"
    shape = list(model.inputs[0].shape)
    shape[0] = count
    shape[1] = shape[1] or steps
    rng = np.random.default_rng(seed)
    if np.issubdtype(np.dtype(dtype), np.integer):
        return rng.integers(0, 2, size=shape).astype(dtype), "random tokens"
    return rng.standard_normal(shape).astype(dtype), "random normal"


def calibration_inputs(run_dir, headroom=1.0):
    """Training windows saved by ``zoo train`` (int8 ranges come from the model's own data); with
    ``headroom`` > 1 (``Recipe.calibration_headroom``) also the same windows spread that much about
    their mean, for real-valued inputs. Token ids are calibrated as they are."""
    path = Path(run_dir) / CALIBRATION_INPUTS_NAME if run_dir else None
    if path is None or not path.exists():
        raise UserError(
            "--quantize int8 calibrates on the model's training data: export a run directory made "
            f"by `zoo train` (it holds {CALIBRATION_INPUTS_NAME})"
        )
    inputs = np.load(path)
    if headroom == 1.0 or not np.issubdtype(inputs.dtype, np.floating):
        return inputs
    mean = inputs.reshape(-1, inputs.shape[-1]).mean(axis=0)
    return np.concatenate([inputs, mean + headroom * (inputs - mean)]).astype(inputs.dtype)


class RunnerAsModel:
    """Lets a recipe score any runtime with the code it scores Keras with (``model.predict``)."""

    def __init__(self, runner):
        self.runner = runner

    def predict(self, x, batch_size=256, verbose=0):
        x = np.asarray(x)
        return np.concatenate([self.runner(x[k : k + batch_size]) for k in range(0, len(x), batch_size)])


def metric_judge(run_dir, config):
    """-> (metric name, function runner -> metric on the test split), or (None, None) off a run."""
    if not config or "model" not in config:
        return None, None
    recipe = get_recipe(config["model"])
    split = recipe.load_data(config["config"], **config.get("data_options", {}))
    metric = recipe.metric_for(config["config"])[0]

    def judge(runner):
        metrics = recipe.evaluate(RunnerAsModel(runner), split, config["config"])
        return metrics["test"][metric]

    return metric, judge


def export_checkpoint(checkpoint, out_dir, formats, force=False, opset=onnx_format.DEFAULT_OPSET,
                      quantize=None, evaluate=True, streaming=False, judge=None):
    """``judge``: a ``metric_judge`` result to reuse (the benchmark has one already)."""
    modes = quantize_modes(quantize)
    for mode in modes:
        check_quantize(formats, mode)
    for fmt in formats:
        fmt.preflight()
    checkpoint, run_dir = resolve(checkpoint)
    config = load_run_config(run_dir) or {}
    headroom = get_recipe(config["model"]).calibration_headroom if "model" in config else 1.0
    calibration = calibration_inputs(run_dir, headroom) if "int8" in modes else None
    with atomic_directory(out_dir, force=force) as staging:  # checks --force before the work
        keras_runner = KerasRunner(checkpoint)
        model = keras_runner.model
        if streaming:
            _check_streamable(model)
        inputs, source = sample_inputs(model, run_dir)
        expected = keras_runner(inputs)
        (staging / "test_data").mkdir()
        np.save(staging / "test_data" / "inputs.npy", inputs)
        np.save(staging / "test_data" / "expected.npy", expected)
        if judge is None and evaluate and config:
            with stage("loading the test split"):
                judge = metric_judge(run_dir, config)
        metric, judge = judge or (None, None)
        report = {
            "checkpoint": str(checkpoint),
            "model": config.get("model", model.name),
            "metric": metric,
            "test_inputs": {"source": source, "shape": list(inputs.shape)},
            "keras": {"p50_ms": latency_ms(keras_runner, inputs[:1])},
            "formats": {},
        }
        budget = None
        if judge:
            with stage("keras: scoring the test split"):
                report["keras"]["metric"] = judge(keras_runner)
            recipe = get_recipe(config["model"])
            budget = {"metric": metric, "goal": recipe.metric_for(config["config"])[1], "allowed": recipe.quantized_budget,
                      "float": report["keras"]["metric"]}
            if modes:
                report["quantized_check"] = {k: v for k, v in budget.items() if k != "float"}
        metadata = _metadata(model, config)
        write_json(staging / "deployment.json", metadata)  # what ONNX carries inside, for every format
        context = {"model": model, "staging": staging, "inputs": inputs, "expected": expected,
                   "judge": judge, "opset": opset, "metadata": metadata, "budget": budget}
        for fmt in formats:
            report["formats"][fmt.name] = _export_one(fmt, context)
            for mode in modes:
                if mode in fmt.quantize:
                    report["formats"][f"{fmt.name}:{mode}"] = _export_one(fmt, context, quantize=mode,
                                                                          calibration=calibration)
        if streaming:
            with stage("streaming: writing and checking the step artifacts"):
                report["streaming"] = _export_streaming(model, staging, formats, inputs, opset)
        report["ok"] = all(entry["ok"] for entry in report["formats"].values()) and (
            not streaming or report["streaming"]["ok"])
        _set_aside_failures(staging, report["formats"])
        write_json(staging / "report.json", report)
    return report


#: Where an export keeps artifacts that failed their check (a quantized model over its metric
#: budget): out of the directory's top level, so nothing deploys or loads them by mistake, but kept
#: for a look.
FAILED_DIR = "failed"


def _set_aside_failures(staging, entries):
    for entry in entries.values():
        path = staging / entry["path"]
        if not entry["ok"] and path.exists():
            (staging / FAILED_DIR).mkdir(exist_ok=True)
            path.rename(staging / FAILED_DIR / path.name)
            entry["path"] = f"{FAILED_DIR}/{path.name}"


def _check_streamable(model):
    """--streaming on a model that must see whole windows is a user error, said before any export."""
    from zoo.export.step_model import plan

    try:
        plan(model)
    except ValueError as error:
        raise UserError(f"--streaming: {model.name} cannot run one step at a time ({error}); "
                        "export it without --streaming") from None


def _export_streaming(model, staging, formats, inputs, opset):
    """Single-step artifacts, (x_t, states...) -> (y_t, states...), checked over every prefix."""
    from zoo.export.streaming import verify_streaming, write_streaming

    try:
        written = write_streaming(model, staging, [f.name for f in formats], opset=opset)
    except ValueError as error:  # "not streamable: ..." is a finding about the model, not a crash
        return {"ok": False, "error": str(error)}
    checks = verify_streaming(model, staging, inputs[:4])
    return {
        "ok": checks["ok"],
        **{fmt: {**entry, **checks.get(fmt, {}), "path": Path(entry["path"]).name} for fmt, entry in written.items()},
    }


def _write(fmt, context, target, quantize, calibration):
    """Write one artifact; -> what the writer reports (native ops, fallbacks, quantization)."""
    model = context["model"]
    if quantize:
        return fmt.write_quantized(quantize, model, target, float_path=context["staging"] / fmt.filename,
                                   calibration=calibration)
    return WRITERS[fmt.name](model, target, opset=context["opset"], metadata=context["metadata"])


def _export_one(fmt, context, quantize=None, calibration=None):
    filename = quantized_filename(fmt, quantize) if quantize else fmt.filename
    target = context["staging"] / filename
    entry = {"path": filename, "runtime": fmt.runtime, "batch": fmt.batch}
    if quantize:
        entry["quantize"] = quantize
    label = f"{fmt.name}{f' ({quantize})' if quantize else ''}"
    started = time.perf_counter()
    try:
        with stage(f"{label}: converting"):
            entry.update(_write(fmt, context, target, quantize, calibration) or {})
    except Exception as error:  # a converter failure is reported per artifact, not fatal to the rest
        shutil.rmtree(target, ignore_errors=True) if target.is_dir() else target.unlink(missing_ok=True)
        return {**entry, "ok": False, "error": f"{type(error).__name__}: {first_line(error, 280)}"}
    entry["export_seconds"] = round(time.perf_counter() - started, 2)
    entry["bytes"] = artifact_size(target)
    with stage(f"{label}: checking against Keras in {fmt.runtime}"):
        runner = fmt.runner(target)
        actual = runner(context["inputs"])
        rtol = QUANTIZED_RTOL if quantize else fmt.rtol
        diff, tolerance, ok = compare(context["expected"], actual, rtol=rtol, atol=fmt.atol)
        entry.update(max_abs_diff=diff, tolerance=tolerance, ok=ok)
        entry["p50_ms"] = latency_ms(runner, context["inputs"][:1])
        if context["judge"]:
            entry["metric"] = context["judge"](runner)
    if quantize and context["budget"] and entry.get("metric") is not None:
        entry.update(metric_check(entry["metric"], context["budget"]))
    ops = fmt.op_census(target)
    if ops is not None:
        entry["ops"] = ops
    entry.update(fmt.inspect(target))
    return entry


def quantize_modes(quantize):
    """``--quantize``: None, one mode, or several ("dynamic,int8", or a sequence) -> a tuple."""
    if not quantize:
        return ()
    parts = quantize.split(",") if isinstance(quantize, str) else list(quantize)
    return tuple(dict.fromkeys(part.strip() for part in parts if part.strip()))


def metric_check(value, budget):
    """A quantized artifact passes when its metric on the test split is at most ``allowed``
    (relative) worse than the float model's: the check a user cares about, where an elementwise
    tolerance would let a 7% regression pass. -> entry fields, ``ok`` included."""
    reference = budget["float"]
    change = (value - reference) / abs(reference) if reference else value - reference
    worse = change if budget["goal"] == "min" else -change
    return {"ok": bool(worse <= budget["allowed"] + 1e-9), "check": "metric budget",
            "metric_change": round(float(change), 6), "budget": budget["allowed"]}


def _metadata(model, config):
    from zoo.version import __version__

    cells = sorted({type(layer.cell).__name__ for layer in _rnn_layers(model)})
    data = config.get("config", {}).get("data", {})
    # What an app needs from the training data to feed the model and read its output (input
    # scaling; for text models the vocabularies and label names): each recipe names its keys.
    keep = get_recipe(config["model"]).deployment_keys if "model" in config else ()
    return {
        "zoo.version": __version__,
        "zoo.model": config.get("model", model.name),
        "zoo.cells": ",".join(cells),
        "zoo.input": _input_description(model),
        "zoo.data": {k: v for k, v in data.items() if k in keep},
    }


def _input_description(model):
    """The input as deployment.json states it; ``ids_below`` bounds token ids (the Embedding's
    rows), so every runtime can refuse an id beyond it as the Keras path does."""
    tensor = model.inputs[0]
    if "int" in str(tensor.dtype):
        import keras

        from zoo.compat import flatten_layers

        sizes = {layer.input_dim for layer in flatten_layers(model) if isinstance(layer, keras.layers.Embedding)}
        bound = {"ids_below": sizes.pop()} if len(sizes) == 1 else {}
        return {"name": "inputs", "shape": ["batch", "time"], "dtype": str(tensor.dtype), "meaning": "token ids",
                **bound}
    return {"name": "inputs", "shape": ["batch", "time", tensor.shape[-1]], "dtype": "float32"}


def _rnn_layers(model):
    import keras

    from zoo.compat import flatten_layers

    for layer in flatten_layers(model):
        if isinstance(layer, keras.layers.RNN):
            yield layer


def format_table(report):
    """The report as a fixed-width table for the terminal."""
    metric = report.get("metric")
    header = ("artifact", "file", "size", "max|diff|", "tolerance", "ok", "p50 ms", *((metric,) if metric else ()), "ops")
    rows = [header]
    for name, entry in report["formats"].items():
        if "error" in entry:
            rows.append((name, entry["path"], "-", "-", "-", "FAIL", "-", *(("-",) if metric else ()), entry["error"][:70]))
            continue
        rows.append((
            name,
            entry["path"],
            _human(entry["bytes"]),
            f"{entry['max_abs_diff']:.2e}",
            _tolerance(entry, metric),
            "ok" if entry["ok"] else "FAIL",
            f"{entry['p50_ms']:.3f}",
            *((format_number(entry['metric']),) if metric else ()),
            _ops_summary(entry.get("ops")),
        ))
    keras_metric = (format_number(report['keras']['metric']),) if metric else ()
    rows.append(("keras", "(reference)", "-", "-", "-", "-", f"{report['keras']['p50_ms']:.3f}", *keras_metric, "tf.function"))
    widths = [max(len(str(row[k])) for row in rows) for k in range(len(rows[0]))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows)


def _tolerance(entry, metric):
    """The check's bound: the elementwise tolerance, or a quantized artifact's metric budget."""
    if entry.get("check") == "metric budget":
        return f"{metric} {entry['metric_change']:+.1%} (budget {entry['budget']:.0%})"
    return f"{entry['tolerance']:.1e}"


def _human(size):
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024


def _ops_summary(ops):
    if not ops:
        return "-"
    key = [k for k in key_ops() if k in ops]
    return ", ".join(f"{k}x{ops[k]}" for k in key) + f" ({sum(ops.values())} ops)"
