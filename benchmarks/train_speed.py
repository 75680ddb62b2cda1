"""Training speed: every zoo cell against Keras' own LSTM, in one run, interleaved.

For each size (units x steps) and contender, epochs are timed round-robin (contender A, B, C,
then A, B, C again...) so that the machine's noise hits all of them alike; the table reports
median seconds per epoch, steps per second, and the ratio to the faster of Keras' two ways
(``keras.layers.LSTM`` and ``keras.layers.RNN(keras.layers.LSTMCell)``, at Keras' defaults).
Peak memory is the resident set size of a separate process that trains one epoch.

    python benchmarks/train_speed.py            # units 64/256 x steps 50/200, batch 64
    python benchmarks/train_speed.py --quick    # seconds; what CI runs
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

FEATURES, BATCH = 16, 64


def contenders():
    from zoo.cells import CELLS

    names = [f"zoo:{cell}" for cell in CELLS]
    return names + ["keras:LSTM", "keras:RNN(LSTMCell)"]


def build(contender, units, steps):
    import keras

    from zoo.layers import LSTM
    from zoo.training import default_jit_compile

    inputs = keras.Input((steps, FEATURES))
    kind, _, name = contender.partition(":")
    if kind == "zoo":
        layer, jit = LSTM(units, cell=name), default_jit_compile()
    elif name == "LSTM":
        layer, jit = keras.layers.LSTM(units), "auto"
    else:
        layer, jit = keras.layers.RNN(keras.layers.LSTMCell(units)), "auto"
    model = keras.Model(inputs, keras.layers.Dense(1)(layer(inputs)))
    model.compile(optimizer="adam", loss="mse", jit_compile=jit)
    return model


def data(samples, steps, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(samples, steps, FEATURES)).astype("float32")
    return x, x[:, -5:, :2].sum(axis=(1, 2), keepdims=False)[:, None].astype("float32")


def time_sizes(sizes, samples, repeats):
    import keras

    rows = []
    for units, steps in sizes:
        keras.utils.set_random_seed(0)
        x, y = data(samples, steps)
        models = {name: build(name, units, steps) for name in contenders()}
        for model in models.values():  # warm-up: tracing and compilation are not training speed
            model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
        seconds = {name: [] for name in models}
        for _ in range(repeats):
            for name, model in models.items():
                started = time.perf_counter()
                model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
                seconds[name].append(time.perf_counter() - started)
        medians = {name: statistics.median(values) for name, values in seconds.items()}
        keras_best = min(medians["keras:LSTM"], medians["keras:RNN(LSTMCell)"])
        steps_per_epoch = -(-samples // BATCH)
        for name, median in medians.items():
            rows.append({
                "units": units, "steps": steps, "contender": name,
                "epoch_s": round(median, 4), "steps_per_s": round(steps_per_epoch / median, 2),
                "ratio_to_faster_keras": round(median / keras_best, 3),
            })
        del models
    return rows


def peak_rss_mb(contender, units, steps, samples):
    """Train one epoch in a fresh process and read its peak resident set size."""
    code = (
        "import sys; sys.path.insert(0, %r)\n"
        "from benchmarks.train_speed import build, data\n"
        "import resource\n"
        "x, y = data(%d, %d)\n"
        "build(%r, %d, %d).fit(x, y, batch_size=64, epochs=1, verbose=0)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    ) % (os.path.dirname(os.path.dirname(os.path.abspath(__file__))), samples, steps, contender, units, steps)
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return round(int(output.strip().splitlines()[-1]) / 1024, 1)


def markdown(result):
    lines = ["| units | steps | contender | s/epoch | steps/s | x faster Keras | peak RSS MB |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for row in result["rows"]:
        lines.append(f"| {row['units']} | {row['steps']} | `{row['contender']}` | {row['epoch_s']:.3f} | "
                     f"{row['steps_per_s']:.1f} | {row['ratio_to_faster_keras']:.2f} | {row.get('peak_rss_mb', '-')} |")
    m = result["machine"]
    lines += ["", f"{m['cpus']} CPUs ({m['machine']}), TF {m['tensorflow']}, Keras {m['keras']}; batch {BATCH}, "
                  f"{result['samples']} samples x {FEATURES} features, median of {result['repeats']} interleaved epochs; "
                  f"zoo cells at the zoo's training default (jit_compile={result['zoo_jit_compile']})."]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one repeat")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--samples", type=int, default=1024)
    parser.add_argument("--memory", action="store_true", help="also measure peak RSS per contender")
    parser.add_argument("--sizes", default="64x50,64x200,256x50,256x200", help="UNITSxSTEPS,...")
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args(argv)
    sizes = [(8, 10)] if args.quick else [tuple(map(int, size.split("x"))) for size in args.sizes.split(",")]
    samples, repeats = (128, 1) if args.quick else (args.samples, args.repeats)

    import keras
    import tensorflow as tf

    from zoo.training import default_jit_compile

    rows = time_sizes(sizes, samples, repeats)
    if args.memory:
        for row in rows:
            row["peak_rss_mb"] = peak_rss_mb(row["contender"], row["units"], row["steps"], samples)
    result = {
        "machine": {"cpus": os.cpu_count(), "machine": platform.machine(), "tensorflow": tf.__version__,
                    "keras": keras.__version__},
        "samples": samples, "repeats": repeats, "zoo_jit_compile": default_jit_compile(), "rows": rows,
    }
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "train_speed.json"), "w") as handle:
        json.dump(result, handle, indent=2)
    table = markdown(result)
    with open(os.path.join(args.out, "train_speed.md"), "w") as handle:
        handle.write(table)
    print(table)
    return result


if __name__ == "__main__":
    main()
