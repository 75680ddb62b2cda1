"""``zoo bench``: export every format, run each in its runtime, and time it against the anchors.

Per model and artifact: status, size, the task metric on the test split, p50/p90 latency at
batch 1 on a 100-step sequence (a fixed-window model: its window), throughput at batch 32, and the ratio to Keras (a compiled ``tf.function``) measured in
the same run. The anchors, measured alongside: Keras' own ``model.export(format="onnx")`` and
``model.export(format="litert")`` of the same model, and a hand-built ONNX graph holding only
the native ``LSTM`` op with the model's first LSTM layer's weights (the floor for ONNX Runtime).
Medians over repeats, because this machine is noisy; ratios, because absolute times are not
comparable across machines.
"""

import platform
import tempfile
from pathlib import Path

import numpy as np

from zoo.export.formats import DEFAULT_FORMATS, FORMATS, key_ops
from zoo.export.pipeline import export_checkpoint, metric_judge
from zoo.export.runtime import KerasRunner, first_line
from zoo.export.timing import timings
from zoo.checkpoints import load_run_config, resolve
from zoo.files import scratch_directory, write_json, write_text
from zoo.progress import stage


STEPS = 100
#: Keras' own exporters, the anchors: (its format name, the zoo format whose runtime runs the result).
KERAS_EXPORTERS = (("onnx", "onnx"), ("litert", "tflite"))
#: The hand-built floor is a graph of the ONNX LSTM op: it is compared with this artifact.
HAND_BUILT_FLOOR_OF = "onnx"


def timing_inputs(inputs, steps=STEPS):
    """Test vectors at least ``steps`` long: whole test rows repeated along time, never cut (a
    tagger row is words of 1 + max_word_chars ids each; a cut one is no input) -> one sequence,
    and a batch of 32."""
    inputs = np.asarray(inputs)
    stretched = np.concatenate([inputs] * -(-steps // inputs.shape[1]), axis=1)
    return stretched[:1], np.resize(stretched, (32,) + stretched.shape[1:])


def bench_model(target, work_dir, repeats=100, quantize="dynamic"):
    """Benchmark one checkpoint (name, run directory or .keras) -> list of result rows."""
    checkpoint, run_dir = resolve(target)
    name = (load_run_config(run_dir) or {}).get("model", Path(checkpoint).stem)
    export_dir = Path(work_dir) / name
    judge = metric_judge(run_dir, load_run_config(run_dir))  # data and baselines, loaded once
    report = export_checkpoint(checkpoint, export_dir, [FORMATS[name] for name in DEFAULT_FORMATS], force=True,
                               quantize=quantize, judge=judge)
    _, judge = judge
    inputs = np.load(export_dir / "test_data" / "inputs.npy")
    keras_runner = KerasRunner(checkpoint)
    # A model with a fixed window (the anomaly autoencoder) is timed at its own length.
    one, batch = timing_inputs(inputs, keras_runner.model.inputs[0].shape[1] or STEPS)

    reference = timings(keras_runner, one, batch, repeats)
    rows = [{"model": name, "artifact": "keras (tf.function)", "status": "ok", "bytes": Path(checkpoint).stat().st_size,
             "metric": report["keras"].get("metric"), **reference}]
    for artifact, entry in report["formats"].items():
        row = {"model": name, "artifact": artifact, "bytes": entry.get("bytes"), "metric": entry.get("metric"),
               "ops": _ops(entry.get("ops"))}
        over_budget = not entry["ok"] and entry.get("check") == "metric budget"
        if not entry["ok"] and not over_budget:
            rows.append({**row, "status": "FAIL: " + entry.get("error", f"max|diff| {entry.get('max_abs_diff')}")})
            continue
        status = (f"over budget: {report['metric']} {entry['metric_change']:+.1%} (budget {entry['budget']:.0%})"
                  if over_budget else "ok")  # still timed: size and speed are worth knowing
        runner = FORMATS[artifact.split(":")[0]].runner(export_dir / entry["path"])
        rows.append({**row, "status": status, **timings(runner, one, batch, repeats)})
    rows += _anchors(keras_runner.model, name, inputs, one, batch, judge, repeats)
    for row in rows:
        if "p50_ms" in row:
            row["ratio_to_keras"] = round(row["p50_ms"] / reference["p50_ms"], 4)
    native = next((r for r in rows if r["artifact"] == HAND_BUILT_FLOOR_OF), None)
    floor = next((r for r in rows if r["artifact"].startswith("anchor: hand-built")), None)
    if native and floor and "p50_ms" in native and "p50_ms" in floor:
        native["ratio_to_hand_built"] = round(native["p50_ms"] / floor["p50_ms"], 3)
    return rows


def _anchors(model, name, inputs, one, batch, judge, repeats):
    rows = []
    with scratch_directory("zoo-bench-") as tmp:
        model(inputs[:2])  # Keras' exporters refuse a model that has never been called
        for keras_format, zoo_format in KERAS_EXPORTERS:
            fmt = FORMATS[zoo_format]
            path = Path(tmp) / f"keras{fmt.suffix}"
            row = {"model": name, "artifact": f"anchor: keras model.export({keras_format})"}
            try:
                model.export(str(path), format=keras_format, verbose=False)
                row["bytes"] = path.stat().st_size
                runner = fmt.runner(path)
                expected = model(inputs).numpy()
                diff = float(np.max(np.abs(runner(inputs) - expected)))
                row.update(status="ok", max_abs_diff=diff, **timings(runner, one, batch, repeats))
                row["ops"] = _ops(fmt.op_census(path))
                if judge:
                    row["metric"] = judge(runner)
            except Exception as error:  # the anchor's failure is the finding
                row["status"] = "fails: " + first_line(error, 160)
            rows.append(row)
        hand_built = _hand_built_lstm(model, Path(tmp) / "hand.onnx")
        if hand_built is not None:
            runner = FORMATS[HAND_BUILT_FLOOR_OF].runner(hand_built)
            core = {"model": name, "artifact": "anchor: hand-built ONNX LSTM op (first layer only)",
                    "status": "ok", "bytes": hand_built.stat().st_size, "ops": "LSTMx1"}
            rows.append({**core, **timings(runner, one, batch, repeats)})
    return rows


def _hand_built_lstm(model, path):
    """X [B, T, I] -> Transpose -> LSTM -> Y_h: just the native op with the first layer's weights."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from zoo.export.onnx_lstm import plan_layers

    plans, _ = plan_layers(model)
    if len(plans) != 1 or not _reads_input_per_step(model, plans[0][0]):
        return None  # a stack, or pooling or an embedding in front: no like-for-like floor
    layer, plan = plans[0]
    features = int(plan.weights["W"].shape[-1])
    init = [numpy_helper.from_array(plan.weights[k], k) for k in ("W", "R", "B")]
    nodes = [helper.make_node("Transpose", ["inputs"], ["x"], perm=[1, 0, 2]),
             helper.make_node("LSTM", ["x", "W", "R", "B"], ["y", "y_h", "y_c"],
                              hidden_size=plan.hidden, direction=plan.direction)]
    graph = helper.make_graph(
        nodes, "hand_built_lstm",
        [helper.make_tensor_value_info("inputs", TensorProto.FLOAT, ["batch", "time", features])],
        [helper.make_tensor_value_info("y_h", TensorProto.FLOAT, None)], init)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    onnx.save(proto, str(path))
    return path


def _reads_input_per_step(model, recurrent):
    """True when only per-step scaling or masking stands between the input and ``recurrent``."""
    import keras

    from zoo.layers import Standardize

    for layer in model.layers:
        if layer is recurrent:
            return True
        if not isinstance(layer, (keras.layers.InputLayer, Standardize, keras.layers.Normalization,
                                  keras.layers.Masking)):
            return False
    return False


def _ops(ops):
    if not ops:
        return "-"
    keys = [k for k in key_ops() if k in ops]
    flex = sum(v for k, v in ops.items() if k.startswith("Flex") or k == "CUSTOM")
    text = ", ".join(f"{k}x{ops[k]}" for k in keys) or f"{sum(ops.values())} ops"
    return text + (f", Flex/custom x{flex}" if flex else "")


def run(targets, out_dir, repeats=100, quantize="dynamic"):
    import keras
    import tensorflow as tf

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="zoo-bench-exports-", dir=out_dir) as work:
        for number, target in enumerate(targets, 1):
            with stage(f"bench {number}/{len(targets)}: {target}"):
                rows += bench_model(target, work, repeats=repeats, quantize=quantize)
    result = {
        "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                    "cpus": __import__("os").cpu_count(), "tensorflow": tf.__version__, "keras": keras.__version__,
                    "onnxruntime": __import__("onnxruntime").__version__},
        "repeats": repeats,
        "rows": rows,
    }
    write_json(out_dir / "bench.json", result)
    write_text(out_dir / "bench.md", markdown(result) + "\n" + quantization_table(rows) + "\n")
    return result


def quantization_table(rows):
    """Per model and format: the float artifact beside each quantized one, size, p50 and metric
    (its change against float, and whether it is within the recipe's budget)."""
    lines = ["| model | format | float | dynamic | float16 | int8 |", "| --- | --- | --- | --- | --- | --- |"]
    by_artifact = {(row["model"], row["artifact"]): row for row in rows}
    for model in dict.fromkeys(row["model"] for row in rows):
        for fmt in DEFAULT_FORMATS:
            base = by_artifact.get((model, fmt))
            if base is None:
                continue
            cells = [_quantized_cell(base, None)]
            for mode in ("dynamic", "float16", "int8"):
                cells.append(_quantized_cell(by_artifact.get((model, f"{fmt}:{mode}")), base))
            if any(cell != "-" for cell in cells[1:]):
                lines.append(f"| {model} | {fmt} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _quantized_cell(row, base):
    if row is None:
        return "-"
    if "p50_ms" not in row:
        return row.get("status", "-")[:60]
    text = f"{row['bytes'] / 1024:.0f} KB, {row['p50_ms']:.3g} ms"
    if row.get("metric") is not None:
        text += f", {row['metric']:.4g}"
        if base is not None and base.get("metric"):
            text += f" ({(row['metric'] - base['metric']) / abs(base['metric']):+.1%})"
    if row.get("status", "ok") != "ok":
        text += " over budget"
    return text


COLUMNS = (("model", "model"), ("artifact", "artifact"), ("status", "status"), ("size", "bytes"),
           ("metric", "metric"), ("p50 ms", "p50_ms"), ("p90 ms", "p90_ms"), ("seq/s @32", "throughput_per_s"),
           ("x Keras", "ratio_to_keras"), ("x hand-built", "ratio_to_hand_built"), ("ops", "ops"))


def markdown(result):
    lines = ["| " + " | ".join(title for title, _ in COLUMNS) + " |", "|" + " --- |" * len(COLUMNS)]
    for row in result["rows"]:
        lines.append("| " + " | ".join(_cell(key, row.get(key)) for _, key in COLUMNS) + " |")
    machine = result["machine"]
    lines.append("")
    lines.append(f"{machine['cpus']} CPUs, {machine['processor']}, TF {machine['tensorflow']}, Keras {machine['keras']}, "
                 f"ONNX Runtime {machine['onnxruntime']}; "
                 f"latency: median and 90th percentile of {result['repeats']} calls on one sequence of at least "
                 f"{STEPS} steps (whole test rows repeated; a fixed-window model: its window); "
                 f"throughput: batches of 32 such sequences (TFLite runs them one by one).")
    return "\n".join(lines) + "\n"


def _cell(key, value):
    if value is None:
        return "-"
    if key == "bytes":
        return f"{value / 1024:.1f} KB"
    if isinstance(value, float):
        return f"{value:.4g}"
    text = str(value).replace("|", "/")
    return text if len(text) <= 90 else text[:87] + "..."
