"""Latency of the released models where they deploy, all in one run: Keras, ONNX Runtime and
LiteRT in Python, ONNX Runtime for Node, and onnxruntime-web's WebAssembly backend in headless
Chromium (the page ``zoo export NAME --format web`` writes).

Each runtime gets the first test sequence of the export's ``test_data/inputs.npy`` at batch 1,
called ``--repeats`` times after one warm-up call; the table gives the medians and each one's
ratio to ONNX Runtime in Python, measured in the same run. The browser and Node rows need
``npm ci --ignore-scripts`` in ``export/web`` and ``benchmarks/node``, and Chromium; a missing one
leaves its column empty and says why.

    python benchmarks/deploy_latency.py               # the seven released models; a few minutes
    python benchmarks/deploy_latency.py tagger g2p    # some of them
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

NODE_DIR = Path(__file__).resolve().parent / "node"
RESULTS = Path(__file__).resolve().parent / "results"
COLUMNS = ("keras", "onnx", "tflite", "node", "web")
TITLES = {"keras": "Keras (tf.function)", "onnx": "ONNX Runtime, Python", "tflite": "LiteRT, Python",
          "node": "ONNX Runtime for Node", "web": "onnxruntime-web, WASM, Chromium"}


def node_p50(model, inputs, repeats):
    if shutil.which("node") is None or not (NODE_DIR / "node_modules" / "onnxruntime-node").exists():
        raise RuntimeError(f"needs node and `npm ci --ignore-scripts --prefix {NODE_DIR}`")
    out = subprocess.run(["node", str(NODE_DIR / "latency.mjs"), str(model), str(inputs), str(repeats)],
                         capture_output=True, text=True, check=True, timeout=600)
    return json.loads(out.stdout)["p50_ms"]


def measure(name, work, repeats):
    import numpy as np

    from benchmarks.browser import find_browser, open_page
    from zoo.export.formats import FORMATS
    from zoo.export.pipeline import export_checkpoint
    from zoo.export.runtime import KerasRunner
    from zoo.export.timing import latency_ms

    folder = work / name
    report = export_checkpoint(name, folder, [FORMATS[f] for f in ("onnx", "tflite", "web")], evaluate=False)
    inputs_path = folder / "test_data" / "inputs.npy"
    one = np.load(inputs_path)[:1]
    row, notes = {}, {}
    row["keras"] = latency_ms(KerasRunner(report["checkpoint"]), one, repeats)
    for fmt in ("onnx", "tflite"):
        row[fmt] = latency_ms(FORMATS[fmt].runner(folder / FORMATS[fmt].filename), one, repeats)
    try:
        row["node"] = node_p50(folder / "model.onnx", inputs_path, repeats)
    except (RuntimeError, subprocess.CalledProcessError) as error:
        notes["node"] = str(error).splitlines()[0]
    if find_browser() is None:
        notes["web"] = "no Chromium (apt-get install chromium)"
    else:
        page = open_page(folder / "web", repeats=repeats, length=20, temperature=0)
        if "error" in page:
            notes["web"] = page["error"].splitlines()[0]
        else:
            row["web"] = page["p50Ms"]
            row["web_max_abs_diff"] = page["maxAbsDiff"]
    return {"model": name, "input_shape": list(one.shape), "p50_ms": row, "notes": notes}


def markdown(results):
    lines = ["| model | input | " + " | ".join(TITLES[c] for c in COLUMNS) + " |",
             "| --- | --- | " + " | ".join("---" for _ in COLUMNS) + " |"]
    for result in results:
        row, onnx = result["p50_ms"], result["p50_ms"].get("onnx")
        cells = []
        for column in COLUMNS:
            value = row.get(column)
            if value is None:
                cells.append("- " + result["notes"].get(column, ""))
            else:
                cells.append(f"{value:.3g} ms ({value / onnx:.2g}x)" if onnx else f"{value:.3g} ms")
        lines.append(f"| {result['model']} | {'x'.join(map(str, result['input_shape']))} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    from zoo.registry import list_models

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=None)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    import platform

    results = []
    with tempfile.TemporaryDirectory(prefix="zoo-deploy-latency-") as work:
        for name in args.models or list_models():
            print(f"{name}...", file=sys.stderr, flush=True)
            results.append(measure(name, Path(work), args.repeats))
    table = markdown(results)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "deploy_latency.md").write_text(table + "\n")
    (args.out / "deploy_latency.json").write_text(json.dumps(
        {"repeats": args.repeats, "machine": {"cpus": os.cpu_count(), "processor": platform.processor()},
         "results": results}, indent=1))
    return results


if __name__ == "__main__":
    main()
