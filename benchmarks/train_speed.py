"""Training speed: every zoo cell against Keras' own LSTM, in one run, interleaved.

Rounds go contender A, B, C, then A, B, C again..., one epoch each, so the machine's noise hits
all of them alike. A callback times every training step and every epoch from inside ``fit``
(``fit``'s own set-up is not training speed). The table reports the median step (and steps per
second), the median epoch, and the ratio of the median step to the faster of Keras' two ways
(``keras.layers.LSTM`` and ``keras.layers.RNN(keras.layers.LSTMCell)``, at Keras' defaults).
Step medians are the robust figure: an epoch is a sum, and one stalled step moves it. Peak memory
is ``VmHWM`` of a fresh process per contender that builds the model and trains one epoch.

Whole epochs, as a user feels them, are timed too: the wall time of each ``fit()`` call of one
epoch. Every round times each contender once and divides by the faster Keras way's time *in that
round*, so a slow moment of the machine cancels out; the table gives the median of those paired
ratios and their spread (min-max) over the rounds (``--repeats``, at least 7 for a published
figure). ``--load`` runs everything twice, the second time with another process spinning on one
core, and reports both, which is how training feels on a machine that is doing something else.

    python benchmarks/train_speed.py --memory --load   # units 64/128/256 x steps 50/60/200, batch 64
    python benchmarks/train_speed.py --quick           # seconds; what CI runs
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
import zoo  # noqa: E402  before any TensorFlow op: zoo chooses TensorFlow's CPU allocator

FEATURES, BATCH = 16, 64


TORCH = "torch:nn.LSTM"


def contenders():
    """Every zoo cell, Keras' two ways, and PyTorch's ``nn.LSTM`` where torch is installed."""
    import importlib.util

    from zoo.cells import CELLS

    names = [f"zoo:{cell}" for cell in CELLS] + ["keras:LSTM", "keras:RNN(LSTMCell)"]
    return names + ([TORCH] if importlib.util.find_spec("torch") is not None else [])


class TorchModel:
    """PyTorch's ``nn.LSTM`` with the same head, loss, optimiser and batches, behind the one call
    the benchmark makes of a Keras model (``fit`` one epoch, shuffled, with the step timer), so it
    runs in the same interleaved rounds."""

    def __init__(self, units, seed=0):
        import torch

        torch.manual_seed(seed)
        self.lstm = torch.nn.LSTM(FEATURES, units, batch_first=True)
        self.head = torch.nn.Linear(units, 1)
        self.optimizer = torch.optim.Adam([*self.lstm.parameters(), *self.head.parameters()], lr=1e-3)
        self.path = f"PyTorch {torch.__version__.split('+')[0]}"

    def fit(self, x, y, batch_size, epochs=1, verbose=0, callbacks=()):
        import torch

        x, y = torch.from_numpy(x), torch.from_numpy(y)
        for epoch in range(epochs):
            for callback in callbacks:
                callback.on_epoch_begin(epoch)
            order = torch.randperm(len(x))
            for batch, start in enumerate(range(0, len(x), batch_size)):
                for callback in callbacks:
                    callback.on_train_batch_begin(batch)
                rows = order[start:start + batch_size]
                self.optimizer.zero_grad()
                sequence, _ = self.lstm(x[rows])
                loss = torch.nn.functional.mse_loss(self.head(sequence[:, -1]), y[rows])
                loss.backward()
                self.optimizer.step()
                for callback in callbacks:
                    callback.on_train_batch_end(batch)
            for callback in callbacks:
                callback.on_epoch_end(epoch)


def build(contender, units, steps):
    import keras

    from zoo.layers import LSTM
    from zoo.optimizers import FusedAdam
    from zoo.training import default_jit_compile

    kind, _, name = contender.partition(":")
    if kind == "torch":
        return TorchModel(units)
    inputs = keras.Input((steps, FEATURES))
    if kind == "zoo":
        layer = LSTM(units, cell=name)
    elif name == "LSTM":
        layer = keras.layers.LSTM(units)
    else:
        layer = keras.layers.RNN(keras.layers.LSTMCell(units))
    model = keras.Model(inputs, keras.layers.Dense(1)(layer(inputs)))
    # Each at its own training default: the zoo's recipes train with its FusedAdam (Keras' Adam update
    # in one op per weight), Keras with its Adam.
    optimizer = FusedAdam() if kind == "zoo" else "adam"
    model.compile(optimizer=optimizer, loss="mse", jit_compile=default_jit_compile(model) if kind == "zoo" else "auto")
    return model


def data(samples, steps, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(samples, steps, FEATURES)).astype("float32")
    return x, x[:, -5:, :2].sum(axis=(1, 2), keepdims=False)[:, None].astype("float32")


def step_timer():
    """A Keras callback that records the wall time of every training step and every epoch."""
    import keras

    class StepTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.steps, self.epochs = [], []

        def on_epoch_begin(self, epoch, logs=None):
            self._epoch = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.epochs.append(time.perf_counter() - self._epoch)

        def on_train_batch_begin(self, batch, logs=None):
            self._step = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.steps.append(time.perf_counter() - self._step)

    return StepTimer()


def time_sizes(sizes, samples, repeats):
    import keras

    rows = []
    for units, steps in sizes:
        keras.utils.set_random_seed(0)
        x, y = data(samples, steps)
        models = {name: build(name, units, steps) for name in contenders()}
        for model in models.values():  # warm-up: tracing and compilation are not training speed
            model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
        timers = {name: step_timer() for name in models}
        rounds = []  # per round: contender -> whole fit() seconds
        for _ in range(repeats):
            wall = {}
            for name, model in models.items():
                started = time.perf_counter()
                model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, callbacks=[timers[name]])
                wall[name] = time.perf_counter() - started
            rounds.append(wall)
        step = {name: statistics.median(timer.steps) for name, timer in timers.items()}
        epoch = {name: statistics.median(timer.epochs) for name, timer in timers.items()}
        best = min(("keras:LSTM", "keras:RNN(LSTMCell)"), key=step.get)
        for name in models:
            rows.append({
                "units": units, "steps": steps, "contender": name,
                "step_ms": round(1000 * step[name], 3), "steps_per_s": round(1 / step[name], 2),
                "epoch_s": round(epoch[name], 4),
                "ratio_to_faster_keras": round(step[name] / step[best], 3),
                "epoch_ratio_to_faster_keras": round(epoch[name] / epoch[best], 3),
                **paired_epoch_ratios(rounds, name),
                **paired_in_fit_epoch_ratios(timers, name),
                "steps_timed": len(timers[name].steps),
                "path": path(models[name]),
            })
        del models
    return rows


def paired_epoch_ratios(rounds, name):
    """Whole fit() epochs: per round, this contender's time over the faster Keras way's in the
    same round -> the median ratio and its spread."""
    ratios = sorted(wall[name] / min(wall["keras:LSTM"], wall["keras:RNN(LSTMCell)"]) for wall in rounds)
    return {"fit_epoch_s": round(statistics.median(wall[name] for wall in rounds), 4),
            "fit_ratio_median": round(statistics.median(ratios), 3),
            "fit_ratio_min": round(ratios[0], 3), "fit_ratio_max": round(ratios[-1], 3)}


def paired_in_fit_epoch_ratios(timers, name):
    """Epochs inside fit() (on_epoch_begin to on_epoch_end), paired per round as above: the time a
    user of ``zoo train``, one fit() over many epochs, waits per epoch. It leaves out fit()'s own
    set-up and tear-down, which a one-epoch fit() pays every call: tearing down Keras' array
    pipeline (``prefetch(AUTOTUNE)``) took 0-200 ms, and with one core busy up to 0.6 s, the same
    for every Keras-trained contender."""
    faster = [min(a, b) for a, b in zip(timers["keras:LSTM"].epochs, timers["keras:RNN(LSTMCell)"].epochs)]
    ratios = sorted(mine / best for mine, best in zip(timers[name].epochs, faster))
    return {"epoch_ratio_median": round(statistics.median(ratios), 3),
            "epoch_ratio_min": round(ratios[0], 3), "epoch_ratio_max": round(ratios[-1], 3)}


class Spinner:
    """Another process keeping one core busy (``--load``), as a machine doing other work."""

    def __enter__(self):
        self._process = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        return self

    def __exit__(self, *exc):
        self._process.kill()
        self._process.wait()


def path(model):
    """How a contender trains: the fused kernel, XLA, or TensorFlow's graph loop."""
    from zoo.layers import LSTM

    if isinstance(model, TorchModel):
        return model.path
    if any(isinstance(layer, LSTM) and layer.trains_with_fused_kernel() for layer in model._flatten_layers()):
        return "fused kernel"
    return "XLA" if model.jit_compile else "TF loop"


def peak_rss_mb(contender, units, steps, samples):
    """Build and train one epoch in a fresh process; its peak resident set (VmHWM).

    ``ru_maxrss`` would not do: Linux carries it across fork and exec, so every child would
    report the parent's peak.
    """
    code = (
        "import sys; sys.path.insert(0, %r)\n"
        "from benchmarks.train_speed import build, data\n"
        "x, y = data(%d, %d)\n"
        "build(%r, %d, %d).fit(x, y, batch_size=64, epochs=1, verbose=0)\n"
        "print([line.split()[1] for line in open('/proc/self/status') if line.startswith('VmHWM')][0])\n"
    ) % (os.path.dirname(os.path.dirname(os.path.abspath(__file__))), samples, steps, contender, units, steps)
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return round(int(output.strip().splitlines()[-1]) / 1024, 1)


def _paired(row, key="fit_ratio"):
    return f"{row[key + '_median']:.2f} ({row[key + '_min']:.2f}-{row[key + '_max']:.2f})"


def _in_fit(row):
    """Paired epochs inside fit(); a run from before the paired figure kept only the ratio of the medians."""
    return _paired(row, "epoch_ratio") if "epoch_ratio_median" in row else f"{row['epoch_ratio_to_faster_keras']:.2f}"


def markdown(result):
    loaded = {(r["units"], r["steps"], r["contender"]): r for r in result.get("rows_under_load", [])}
    lines = ["| units | steps | contender | runs as | ms/step | step vs faster Keras | epoch inside fit() | "
             "whole fit() call | one core busy: step | epoch inside fit() | whole fit() call | peak RSS MB |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in result["rows"]:
        busy = loaded.get((row["units"], row["steps"], row["contender"]))
        lines.append(f"| {row['units']} | {row['steps']} | `{row['contender']}` | {row.get('path', '-')} | "
                     f"{row['step_ms']:.2f} | {row['ratio_to_faster_keras']:.2f} | {_in_fit(row)} | {_paired(row)} | "
                     + (f"{busy['ratio_to_faster_keras']:.2f} | {_in_fit(busy)} | {_paired(busy)} | " if busy
                        else "- | - | - | ")
                     + f"{row.get('peak_rss_mb', '-')} |")
    m = result["machine"]
    lines += ["", "Ratios are against the faster Keras way; epochs are medians with their spread over the rounds, "
                  "each round's time divided by the faster Keras way's in that round; an epoch inside fit() without a "
                  "spread is the ratio of the medians (a run before the paired figure existed).",
              "", f"{m['cpus']} CPUs ({m['cpu']}), TF {m['tensorflow']}, Keras {m['keras']}; batch {BATCH}, "
                  f"{result['samples']} samples x {FEATURES} features; {result['repeats']} interleaved rounds of one "
                  f"epoch per contender (every step timed; whole-epoch ratios paired within each round); zoo cells "
                  f"at the zoo's training default "
                  f"(column 'runs as'; Adam as zoo.optimizers.FusedAdam), Keras at its own "
                  f"(jit_compile='auto', which is off on CPU); TensorFlow's CPU allocator "
                  f"{result.get('cpu_allocator', 'not recorded')} for every contender (one per process)"
                  + ("; PyTorch's `nn.LSTM` + `nn.Linear` with Adam and MSE on the same batches, in the same "
                     "rounds." if any(row["contender"] == TORCH for row in result["rows"]) else ".")]
    return "\n".join(lines) + "\n"


def cpu_name():
    try:
        with open("/proc/cpuinfo") as handle:
            names = [line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")]
        return names[0] if names else platform.machine()
    except OSError:
        return platform.machine()


def sizes_argument(text):
    """"64x50,256x200" -> [(64, 50), (256, 200)]; anything else is argparse's one-line error."""
    try:
        sizes = [tuple(int(part) for part in size.split("x")) for size in text.split(",")]
    except ValueError:
        sizes = []
    if not sizes or any(len(size) != 2 or min(size) <= 0 for size in sizes):
        raise argparse.ArgumentTypeError(f"expected UNITSxSTEPS[,UNITSxSTEPS...] of positive integers, got {text!r}")
    return sizes


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, two rounds")
    parser.add_argument("--repeats", type=int, default=7, help="interleaved rounds (at least 7 for the README)")
    parser.add_argument("--load", action="store_true", help="also time everything with one core kept busy")
    parser.add_argument("--samples", type=int, default=1024)
    parser.add_argument("--memory", action="store_true", help="also measure peak RSS per contender")
    parser.add_argument("--sizes", type=sizes_argument, default="64x50,64x200,128x60,256x50,256x200",
                        help="UNITSxSTEPS,...")
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args(argv)
    sizes = [(8, 10)] if args.quick else args.sizes
    samples, repeats = (128, 2) if args.quick else (args.samples, args.repeats)

    import keras
    import tensorflow as tf

    from zoo.kernel import cpu_memory_pooled

    rows = time_sizes(sizes, samples, repeats)
    rows_under_load = []
    if args.load:
        with Spinner():
            rows_under_load = time_sizes(sizes, samples, repeats)
    if args.memory:
        for row in rows:
            row["peak_rss_mb"] = peak_rss_mb(row["contender"], row["units"], row["steps"], samples)
    result = {
        "machine": {"cpus": os.cpu_count(), "cpu": cpu_name(), "machine": platform.machine(),
                    "tensorflow": tf.__version__,
                    "keras": keras.__version__},
        # The allocator is one per process, so Keras' contenders ran with it too.
        "cpu_allocator": "pooled (BFC)" if cpu_memory_pooled() else "TensorFlow's default",
        "samples": samples, "repeats": repeats, "rows": rows, "rows_under_load": rows_under_load,
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
