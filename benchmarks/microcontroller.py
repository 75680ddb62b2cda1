"""What each released model needs on a microcontroller: its full-integer, fixed-length TFLite
artifact (``export.microcontroller``), the operators TFLite Micro must register, its flash, the
tensor arena TFLM itself allocates, TFLM's and LiteRT's largest error against the float model (over
the output's scale, one test sequence), and which typical parts fit.

    python benchmarks/microcontroller.py            # every released model; about a minute
"""

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RESULTS = Path(__file__).resolve().parent / "results"


def measure(name, work):
    import numpy as np

    from zoo.checkpoints import load_model, resolve
    from zoo.export import microcontroller
    from zoo.export.pipeline import calibration_inputs, sample_inputs

    checkpoint, run_dir = resolve(name)
    model = load_model(checkpoint)
    inputs, _ = sample_inputs(model, run_dir)
    steps = model.inputs[0].shape[1] or inputs.shape[1]
    path = Path(work) / f"{name}.micro.tflite"
    try:
        microcontroller.write(model, path, calibration_inputs(run_dir, 1.0), steps)
    except Exception as error:  # the converter's refusal is the finding
        return {"model": name, "steps": steps, "error": f"{type(error).__name__}: {str(error).splitlines()[0]}"}
    one = microcontroller.fit_steps(np.asarray(inputs)[:1], steps)
    reference = np.asarray(model(one))
    return {"model": name, "steps": steps, **microcontroller.report(path, one, reference)}


def markdown(results):
    from zoo.export.microcontroller import PARTS

    short = [part.split(",")[0] for part in PARTS]
    lines = ["| model | steps | flash | TFLM arena | error vs float: TFLM / LiteRT | " + " | ".join(f"fits {s}" for s in short)
             + " | operators |",
             "| --- | --- | --- | --- | --- | " + " | ".join("---" for _ in short) + " | --- |"]
    for r in results:
        ops = ", ".join(f"{op}x{n}" if n > 1 else op for op, n in sorted(r.get("ops", {}).items()))
        if r.get("tflm") == "runs":
            fits = ["yes" if r["fits"][part] else "no" for part in PARTS]
            lines.append(f"| {r['model']} | {r['steps']} | {r['flash_bytes'] / 1024:.1f} KB | "
                         f"{r['arena_bytes'] / 1024:.0f} KB | {r['tflm_vs_float']:.1%} / {r['litert_vs_float']:.1%} | "
                         + " | ".join(fits) + f" | {ops} |")
        else:
            why = r.get("tflm") or r.get("error")
            flash = f"{r['flash_bytes'] / 1024:.1f} KB" if "flash_bytes" in r else "-"
            lines.append(f"| {r['model']} | {r['steps']} | {flash} | - ({why}) | - | "
                         + " | ".join("-" for _ in short) + f" | {ops} |")
    return "\n".join(lines)


def main(argv=None):
    from zoo.registry import get_recipe, list_models

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    names = args.models or [n for n in list_models() if get_recipe(n).released and get_recipe(n).released.exists()]
    with tempfile.TemporaryDirectory(prefix="zoo-micro-") as work:
        results = []
        for name in names:
            print(f"{name}...", file=sys.stderr, flush=True)
            results.append(measure(name, work))
    table = markdown(results)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "microcontroller.md").write_text(table + "\n")
    (args.out / "microcontroller.json").write_text(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    main()
