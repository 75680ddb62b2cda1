"""What a microcontroller build of a model needs: a full-integer TFLite artifact with every shape
static, the operators TensorFlow Lite for Microcontrollers (TFLM) must register, the flash its
flatbuffer takes and the tensor arena TFLM allocates for it, and whether that fits typical parts.

Not an export format (``export.formats``): a benchmark-only writer, run by
``benchmarks/microcontroller.py``. Its artifact is the TFLite format's int8 mode with the time
axis fixed, and what it adds is measurement (arena, flash, TFLM against LiteRT); a firmware build
around it is the user's C++ project.

TFLM cannot resize a tensor, so the artifact fixes the time axis (``steps``) as well as batch 1;
the converter then folds every shape computation into constants. The arena is measured, not
estimated: the model is loaded into TFLM's own interpreter (the ``tflite-micro`` Python package,
the ``mcu`` extra) with growing arenas until allocation succeeds, then refined by bisection to
1 KB, and one sequence is run to check TFLM's output against LiteRT's on the same artifact; each
TFLM call runs in a child process of its own.
An operator TFLM lacks (it has no ``TILE`` or ``SELECT``, for instance) is named instead, and so is
a variant LSTM: TFLM's integer LSTM kernel takes the standard cell only (the projection cell runs,
as the zoo exports it as a standard LSTM and a matmul), where LiteRT's takes peephole, CIFG and
layer-norm inputs too.
"""

from pathlib import Path

import numpy as np

#: Typical parts, (RAM, flash) in bytes: the arena must fit the RAM, the flatbuffer the flash
#: (with the application beside them; these are upper bounds).
PARTS = {
    "Cortex-M4, 256 KB RAM / 1 MB flash (nRF52840)": (256 * 1024, 1024 * 1024),
    "Cortex-M7, 1 MB RAM / 2 MB flash (STM32H743)": (1024 * 1024, 2 * 1024 * 1024),
    "ESP32-S3, 512 KB SRAM / 8 MB flash": (512 * 1024, 8 * 1024 * 1024),
}


def tflm_available():
    import importlib.util

    return importlib.util.find_spec("tflite_micro") is not None


def write(model, path, calibration, steps):
    """The full-integer, fixed-length artifact -> the TFLite writer's report."""
    from zoo.export import tflite

    calibration = fit_steps(calibration, steps)
    return tflite.write(model, path, quantize="int8", representative_inputs=calibration, steps=steps)


def fit_steps(inputs, steps):
    """Inputs cut or repeated along time to ``steps`` (calibration windows may be longer or shorter)."""
    inputs = np.asarray(inputs)
    if inputs.shape[1] == steps:
        return inputs
    reps = -(-steps // inputs.shape[1])
    return np.concatenate([inputs] * reps, axis=1)[:, :steps]


def report(path, one_sequence, reference=None):
    """-> ops, flash bytes, TFLM's arena bytes (or why TFLM cannot run it), its output against
    LiteRT's, and which ``PARTS`` it fits. With ``reference`` (the float model's output), also
    each runtime's largest error against it over the output's scale: TFLM's and LiteRT's integer
    kernels round differently, so they differ from each other by about one int8 step, and float
    is what says whether either is wrong."""
    from zoo.export.runtime import TFLiteRunner
    from zoo.export.tflite import op_census
    from zoo.export.tflite_flatbuffer import lstm_variants

    path = Path(path)
    found = {"path": path.name, "flash_bytes": path.stat().st_size, "ops": op_census(path)}
    if not tflm_available():
        found["tflm"] = "not measured: pip install 'lstm-zoo[mcu]' (the tflite-micro package)"
        return found
    expected = TFLiteRunner(path)(one_sequence)
    measured = _in_own_process(path, one_sequence)
    if "arena_bytes" not in measured:
        found["tflm"] = f"does not run: {measured.get('error', 'unknown')}"
        variants = lstm_variants(path.read_bytes())
        if variants:
            found["tflm"] += (f" (TFLM's integer LSTM kernel takes the standard cell only; this model's "
                              f"LSTM has {' and '.join(variants)} inputs)")
        return found
    output = np.asarray(measured["output"])
    if reference is not None:
        scale = float(np.max(np.abs(reference))) or 1.0
        found["tflm_vs_float"] = float(np.max(np.abs(output - reference))) / scale
        found["litert_vs_float"] = float(np.max(np.abs(expected - reference))) / scale
    found.update(tflm="runs", arena_bytes=measured["arena_bytes"],
                 tflm_vs_litert_max_abs_diff=float(np.max(np.abs(output - expected))),
                 fits={part: bool(measured["arena_bytes"] <= ram and found["flash_bytes"] <= flash)
                       for part, (ram, flash) in PARTS.items()})
    return found


def _in_own_process(path, one_sequence):
    """The smallest arena, and one sequence's output in it. Every TFLM call runs in a child
    process: TFLM and TensorFlow's converter in one process crash (their TFLite symbols clash),
    and TFLM's Python wrapper itself can crash on some too-small arenas instead of refusing."""
    import tempfile

    low, high, limit = 0, 16 * 1024, 64 * 1024 * 1024
    while not _child(path, high).get("ok"):
        if high >= limit:
            return {"error": _child(path, limit).get("missing") or "TFLM cannot allocate it"}
        low, high = high, high * 2
    while high - low > 1024:
        middle = (low + high) // 2
        low, high = (low, middle) if _child(path, middle).get("ok") else (middle, high)
    with tempfile.TemporaryDirectory(prefix="zoo-tflm-") as work:
        np.save(Path(work) / "input.npy", np.asarray(one_sequence))
        run = _child(path, high, Path(work) / "input.npy")
    if "output" not in run:
        return {"error": "TFLM allocated the model but did not run it"}
    return {"arena_bytes": high, "output": run["output"]}


def run_sequences(path, sequences, arena_bytes):
    """TFLM's outputs for several batch-1 sequences ``(N, T, ...)``, each from a fresh interpreter
    (zero state), in a child process: what a metric over more than one sequence needs."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="zoo-tflm-") as work:
        np.save(Path(work) / "input.npy", np.asarray(sequences)[:, None])
        run = _child(path, arena_bytes, Path(work) / "input.npy")
    if "output" not in run:
        raise RuntimeError(f"TFLM did not run {Path(path).name} in {arena_bytes} bytes")
    return np.asarray(run["output"])


def _child(path, arena, input_path=None):
    """``python -m zoo.export.microcontroller PATH ARENA [INPUT.npy]`` -> its JSON, or {} if it crashed."""
    import json
    import subprocess
    import sys

    args = [sys.executable, "-m", "zoo.export.microcontroller", str(path), str(arena)]
    done = subprocess.run(args + ([str(input_path)] if input_path else []), capture_output=True, text=True,
                          timeout=600)
    try:
        return json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else {}
    except (ValueError, IndexError):
        return {}


def probe(path, arena, input_path=None):
    """In the child: does TFLM allocate the model in ``arena`` bytes (and what does it output)?"""
    data = Path(path).read_bytes()
    try:
        rank = len(_interpreter(data, arena).get_input_details(0)["shape"])
    except RuntimeError:
        return {"ok": False, "missing": _missing_op(data)}
    if input_path is None:
        return {"ok": True}
    inputs = np.load(input_path)
    if inputs.ndim == 1 + rank:  # several sequences
        return {"ok": True, "output": [_run_tflm(data, arena, one).tolist() for one in inputs]}
    return {"ok": True, "output": _run_tflm(data, arena, inputs).tolist()}


def _interpreter(data, arena, log=None):
    """TFLM's interpreter with ``arena`` bytes; its C++ log (allocation failures, missing
    kernels) goes to ``log``, a file, or nowhere."""
    import os
    import sys

    from tflite_micro.python.tflite_micro import runtime

    sys.stdout.flush()
    sys.stderr.flush()
    target = os.open(os.devnull, os.O_WRONLY) if log is None else os.dup(log.fileno())
    saved = [os.dup(1), os.dup(2)]
    os.dup2(target, 1)
    os.dup2(target, 2)
    try:
        return runtime.Interpreter.from_bytes(data, arena_size=int(arena))
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, target):
            os.close(fd)


def _missing_op(data):
    """What TFLM says when it cannot prepare the model on a big arena (a kernel it lacks), or None."""
    import tempfile

    with tempfile.TemporaryFile(mode="w+b") as log:
        try:
            _interpreter(data, 64 * 1024 * 1024, log)
        except RuntimeError:
            pass
        log.seek(0)
        text = log.read().decode(errors="replace")
    for line in text.splitlines():
        if "Didn't find op" in line or "not supported" in line or "failed to prepare" in line:
            return line.strip()
    return None


def _run_tflm(data, arena, one_sequence):
    interpreter = _interpreter(data, arena)
    details = interpreter.get_input_details(0)
    interpreter.set_input(np.asarray(one_sequence, details["dtype"]), 0)
    interpreter.invoke()
    return np.array(interpreter.get_output(0))


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(probe(sys.argv[1], int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else None)))
