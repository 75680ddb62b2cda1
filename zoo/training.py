"""``zoo train``: one recipe, one run directory, every artefact a user expects from training.

The run directory holds ``model.keras`` (best on validation, written atomically), ``config.json``
(everything needed to rebuild the model and rescale its inputs), ``metrics.json`` (test metrics
next to baselines on the same split), ``history.csv``, ``loss.png``, the recipe's own plots and
``test_inputs.npy`` (real test vectors the exporter checks artifacts on) and
``calibration_inputs.npy`` (training inputs int8 export calibrates on). An interrupted run
leaves ``backup/`` (``zoo.backup``); the same command continues from the last finished epoch.
Every file is written atomically, and ``metrics.json`` last: a run without it is unfinished, and
the same command completes it.
"""

import math
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import keras
import numpy as np

from zoo.checkpoints import (
    CALIBRATION_INPUTS_NAME,
    CHECKPOINT_NAME,
    CONFIG_NAME,
    METRICS_NAME,
    TEST_INPUTS_NAME,
)
from zoo.backup import TrainingState, read_state
from zoo.errors import UserError
from zoo.files import check_writable, read_json, save_array, save_figure, write_json, write_text
from zoo.progress import note, quiet, warn

BACKUP_DIR = "backup"
HISTORY_NAME = "history.csv"


def default_jit_compile(model=None):
    """XLA for training unless ZOO_JIT_COMPILE=0 or a layer of ``model`` trains through the
    fused LSTM kernel (``zoo.kernel``), which XLA cannot compile and which is faster still.
    XLA fuses each step's small ops (Keras' own "auto" leaves it off on CPU);
    benchmarks/train_speed.py measures both against Keras' defaults."""
    from zoo.kernel import switched_off

    if switched_off("ZOO_JIT_COMPILE"):
        return False
    from zoo.compat import flatten_layers

    return model is None or all(layer.supports_jit for layer in flatten_layers(model, include_self=True))


def finished_as_asked(out_dir, name, seed, data_options, overrides, init=None):
    """The metrics of a finished run in ``out_dir`` that the same command trained, so that running
    it again (a retry loop) succeeds without training; None when there is none. A finished run
    trained with other options is an error: only ``--force`` replaces it."""
    out_dir = Path(out_dir)
    if not (out_dir / METRICS_NAME).exists():
        return None
    previous = read_json(out_dir / CONFIG_NAME) if (out_dir / CONFIG_NAME).exists() else {}
    stored = previous.get("config", {})
    same = (previous.get("model") == name and previous.get("seed") == seed
            and previous.get("data_options", {}) == _plain(data_options)
            and all(stored.get(key) == _plain(value) for key, value in overrides.items())
            and bool(stored.get("init")) == (init is not None))
    if not same:
        raise UserError(f"{out_dir} holds a finished run with other options; pass --force to train it again "
                        "(or --out another directory)")
    note(f"{out_dir} holds this run, already finished; its results (--force trains it again)")
    return read_json(out_dir / METRICS_NAME)


def prepare_run_dir(out_dir, force=False):
    """Once the data has loaded -> True when resuming an interrupted run."""
    out_dir = Path(out_dir)
    if force and out_dir.exists():
        shutil.rmtree(out_dir)
    check_writable(out_dir)
    for leftover in out_dir.glob(".*.tmp*"):  # files a killed writer left half-written
        leftover.unlink(missing_ok=True)
    return (out_dir / BACKUP_DIR).exists()


def train(name, out_dir, **kwargs):
    """Train registered model ``name`` into ``out_dir``; returns the metrics dict (None on a
    non-chief worker of a multi-worker run, which writes no results). A user error before the
    first epoch was saved, or after a run that ended with no usable checkpoint, leaves no new
    folder behind; a crash or Ctrl-C keeps it for resuming."""
    out_dir = Path(out_dir)
    fresh = not out_dir.exists()
    try:
        return _train(name, out_dir, **kwargs)
    except UserError:
        state = read_state(out_dir / BACKUP_DIR)
        # nothing to resume: no epoch saved, or a run that ended (a NaN loss) with no checkpoint
        if fresh and (state is None or (state.get("finished") and not (out_dir / CHECKPOINT_NAME).exists())):
            shutil.rmtree(out_dir, ignore_errors=True)
        raise


def _train(name, out_dir, *, seed=0, force=False, verbose=None, data_options=None, quick=False, strategy=None,
           init=None, **overrides):
    """The body of ``train``.

    ``init`` (a model name, run directory or ``.keras`` file) starts from that checkpoint's
    weights wherever a layer's name and shapes fit (``zoo.finetune``)."""
    from zoo.distribute import make_strategy
    from zoo.registry import get_recipe

    placement = make_strategy(strategy)
    recipe = get_recipe(name)
    data_options = {k: v for k, v in (data_options or {}).items() if v is not None}
    unsupported = sorted(set(data_options) - set(recipe.data_options))
    if unsupported:
        raise UserError(f"{name} does not take --{', --'.join(unsupported)}")
    quick_overrides = recipe.quick if quick else {}
    config = recipe.config(**{**recipe.presets_for(data_options), **quick_overrides, **overrides})
    out_dir = Path(out_dir)
    if placement.is_chief and not force:
        done = finished_as_asked(out_dir, name, seed, data_options, {**quick_overrides, **overrides}, init)
        if done is not None:
            return done
    parent = None
    if init is not None:
        from zoo.finetune import load_parent

        parent = load_parent(init, name, out_dir)
        config = {**config, "init": parent.describe(), "parent_data": parent.data}
    keras.utils.set_random_seed(seed)
    split = recipe.load_data(config, **data_options)
    config = {**config, "data": split.info}
    resuming = prepare_run_dir(out_dir, force=force) if placement.is_chief else False
    config, split = _select(recipe, config, split, data_options, seed, out_dir if placement.is_chief else None)
    if not placement.is_chief:
        return _train_worker(recipe, config, split, out_dir, placement, verbose)
    run_config = {
        "model": name,
        "seed": seed,
        "data_options": data_options,
        "config": config,
        "input_spec": {"shape": [None, None, split.info["n_features"]], "dtype": "float32"},
        "environment": _environment(),
        "distribution": {"strategy": strategy or "default", "replicas": placement.replicas},
    }
    if resuming:
        previous = read_json(out_dir / CONFIG_NAME)
        if previous.get("config") != _plain(config) or previous.get("seed") != seed:
            raise UserError(
                f"{out_dir} holds an interrupted run with other options; "
                "rerun it with the same options or pass --force to start over"
            )
    write_json(out_dir / CONFIG_NAME, run_config)
    if resuming:
        done = _align_history(out_dir)
        note(f"resuming the interrupted run in {out_dir} after epoch {done}")

    keras.utils.set_random_seed(seed)
    model = _build_compiled(recipe, config, placement)
    if parent is not None:
        transfer = parent.copy_weights_into(model)
        note(f"init from {parent.source}: {transfer.summary()}")
        run_config["init_transfer"] = transfer.as_dict()
        write_json(out_dir / CONFIG_NAME, run_config)
    monitor = "val_loss" if len(split.x_val) else "loss"
    guard = StopOnNonFinite()
    stopper = keras.callbacks.EarlyStopping(monitor=monitor, patience=config["patience"])
    state = TrainingState(out_dir / BACKUP_DIR, early_stopping=stopper)
    callbacks = [
        guard,
        BestCheckpoint(out_dir / CHECKPOINT_NAME, monitor=monitor),
        stopper,
        HistoryLog(out_dir / HISTORY_NAME, append=resuming),
        state,  # last: an epoch is saved as done once the checkpoint and history have it
    ]
    started = time.perf_counter()
    if state.finished and (out_dir / CHECKPOINT_NAME).exists():
        note("training had finished; writing the results")
    elif recipe.trains(config):
        fit_split(model, split, config, callbacks, verbose, distributed=placement.strategy is not None)
    else:  # e.g. a naive forecast won on validation: the built model is final as it is
        BestCheckpoint(out_dir / CHECKPOINT_NAME).save(model, math.inf)
        note(f"not training: {recipe.why_not_trained(config)}")
    # A resumed run counts the time its earlier runs spent on the epochs it starts from; a run
    # that had finished keeps the time it took.
    if state.finished and state.resumed_from is None:
        seconds = float(state.state.get("seconds", time.perf_counter() - started))
    else:
        seconds = state.carried_seconds + (time.perf_counter() - started)
    if not (out_dir / CHECKPOINT_NAME).exists():
        raise UserError(f"training produced no usable checkpoint: {guard.message or 'no epoch finished'}")
    if guard.message:
        warn(f"{guard.message}; kept the last good checkpoint")

    from zoo.checkpoints import load_model

    best = load_model(out_dir / CHECKPOINT_NAME)
    metrics = recipe.evaluate(best, split, config)
    save_array(out_dir / TEST_INPUTS_NAME, split.x_test[:32])
    # A spread of training inputs: what int8 export calibrates its ranges on.
    picks = np.linspace(0, len(split.x_train) - 1, num=min(100, len(split.x_train))).astype(int)
    save_array(out_dir / CALIBRATION_INPUTS_NAME, split.x_train[picks])
    run_config["training"] = {
        "seconds": round(seconds, 2),
        "epochs_run": _count_epochs(out_dir / HISTORY_NAME),
        "best_val_loss" if len(split.x_val) else "best_loss": _finite_or_none(BestCheckpoint.read_best(out_dir / CHECKPOINT_NAME)),
        "parameters": int(best.count_params()),
        "stopped_by": guard.message or "early stopping or epoch limit",
    }
    write_json(out_dir / CONFIG_NAME, run_config)
    plot_history(out_dir / HISTORY_NAME, out_dir / "loss.png")
    recipe.plot(best, split, config, out_dir)
    from zoo.release import model_card

    write_text(out_dir / "card.md", model_card(out_dir, metrics=metrics))
    write_json(out_dir / METRICS_NAME, metrics)  # last: its presence marks the run finished
    shutil.rmtree(out_dir / BACKUP_DIR, ignore_errors=True)
    return metrics


def _select(recipe, config, split, data_options, seed, out_dir):
    """Let the recipe choose its settings on validation data (``Recipe.select``) -> (config,
    split). The choice is kept in ``selection.json`` so that a resumed run does not choose again;
    a choice that changes the data (a window length) reloads it."""
    cache = Path(out_dir) / "selection.json" if out_dir is not None else None
    key = _plain({"config": config, "data_options": data_options, "seed": seed})
    choice = None
    if cache is not None and cache.exists():
        try:
            saved = read_json(cache)
            choice = saved["choice"] if saved.get("for") == key else None
        except (UserError, KeyError, TypeError, AttributeError):
            choice = None
    if choice is None:
        choice = recipe.select(config, split, data_options, seed=seed)
        if not choice:
            return config, split
        if cache is not None:
            write_json(cache, {"for": key, "choice": choice})
    config = {**config, **choice}
    if recipe.select_changes_data(choice):
        keras.utils.set_random_seed(seed)
        split = recipe.load_data(config, **data_options)
        config = {**config, "data": split.info}
    return config, split


def _build_compiled(recipe, config, placement):
    if placement.strategy is None:
        model = recipe.build(config)
        recipe.compile(model, config)
        return model
    with placement.strategy.scope():
        model = recipe.build(config)
        recipe.compile(model, config)
        model.jit_compile = False  # XLA around cross-worker collectives is not worth the risk
    return model


def fit_split(model, split, config, callbacks, verbose, distributed=False):
    """``model.fit`` on the split's training part, validated on its validation part: arrays as
    they are, rows too many to hold (``zoo.data.windows.LazyRows``) in batches cut as they go."""
    if distributed:
        from zoo.distribute import build_before_fit

        build_before_fit(model, split.x_train, split.y_train)
    if verbose is None:
        verbose = 0 if quiet() else 1 if sys.stdout.isatty() else 2
    if config.get("lr_decay", 1.0) < 1.0:  # by epoch number, so a resumed run continues the same schedule
        rate, decay = config["learning_rate"], config["lr_decay"]
        callbacks = [keras.callbacks.LearningRateScheduler(lambda epoch: rate * decay ** epoch), *callbacks]
    validation = (split.x_val, split.y_val) if split.w_val is None else (split.x_val, split.y_val, split.w_val)
    inputs = dict(x=split.x_train, y=split.y_train, sample_weight=split.w_train, batch_size=config["batch_size"],
                  shuffle=True)  # the global batch under a distribution strategy
    if not isinstance(split.x_train, np.ndarray):
        batches = RowBatches(split.x_train, split.y_train, split.w_train, config["batch_size"])
        # Under a strategy, each worker cuts only its share of every global batch (an array is sharded by tf.data)
        inputs = dict(x=batches) if not distributed else dict(x=batches.distributed(), steps_per_epoch=len(batches))
    return model.fit(
        **inputs,
        validation_data=validation if len(split.x_val) else None,
        epochs=config["epochs"],
        callbacks=callbacks,
        verbose=verbose,
    )


class EpochNotes(keras.callbacks.Callback):
    """A line per epoch of a fit that prints nothing else (choosing settings on validation): its
    validation loss and the most time left (at the epoch limit; early stopping ends sooner)."""

    def __init__(self, what, epochs):
        super().__init__()
        self.what, self.epochs = what, int(epochs)

    def on_train_begin(self, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        done = epoch + 1
        left = (time.perf_counter() - self.started) / done * (self.epochs - done)
        loss = (logs or {}).get("val_loss", (logs or {}).get("loss"))
        note(f"{self.what}: epoch {done}/{self.epochs}, validation loss {loss:.4g}; at most "
             f"{left / 60:.1f} min left" if loss is not None else f"{self.what}: epoch {done}/{self.epochs}")


class RowBatches(keras.utils.PyDataset):
    """Shuffled batches of array-like rows (``rows[indices]``), ``ROWS_PER_EPOCH`` of them at most
    per epoch, drawn anew each epoch: what an epoch is when the rows are too many to hold. The
    order of epoch k comes from the global seed and k alone, so every worker of a cluster draws
    the same one and cuts its own share of each batch (``distributed``)."""

    ROWS_PER_EPOCH = 1_000_000

    def __init__(self, x, y, weights, batch_size):
        super().__init__()
        self.x, self.y, self.weights, self.batch_size = x, y, weights, int(batch_size)
        self.rows = min(len(x), self.ROWS_PER_EPOCH)
        self.seed, self.epoch = int(np.random.randint(2 ** 31)), -1
        self.on_epoch_end()

    def __len__(self):
        return math.ceil(self.rows / self.batch_size)

    def __getitem__(self, batch):
        return self.share(batch)

    def share(self, batch, shard=0, shards=1):
        """Rows ``shard``, ``shard + shards``, ... of batch ``batch``: one worker's part of it."""
        index = np.sort(self.order[batch * self.batch_size:(batch + 1) * self.batch_size][shard::shards])
        rows = (self.x[index], self.y[index])
        return rows if self.weights is None else (*rows, self.weights[index])

    def on_epoch_end(self):
        self.epoch += 1
        self.order = np.random.default_rng([self.seed, self.epoch]).permutation(len(self.x))[:self.rows]

    def distributed(self):
        """A ``tf.distribute.DistributedDataset`` over the strategy's workers: worker i of n cuts rows
        i, i + n, ... of every global batch, so no worker cuts a row another one trains on."""
        import tensorflow as tf

        first = self[0]
        signature = tuple(tf.TensorSpec((None, *np.shape(part)[1:]), tf.float32) for part in first)

        def dataset(context):
            shard, shards = context.input_pipeline_id, context.num_input_pipelines

            def rows():
                while True:
                    for batch in range(len(self)):
                        yield tuple(np.asarray(part, "float32") for part in self.share(batch, shard, shards))
                    self.on_epoch_end()

            return tf.data.Dataset.from_generator(rows, output_signature=signature).prefetch(2)

        return tf.distribute.get_strategy().distribute_datasets_from_function(dataset)


def _train_worker(recipe, config, split, out_dir, placement, verbose):
    """A non-chief worker trains in step with the chief and keeps only its own backup."""
    model = _build_compiled(recipe, config, placement)
    backup = out_dir / f".worker-{placement.worker_index}-backup"
    stopper = keras.callbacks.EarlyStopping(monitor="val_loss" if len(split.x_val) else "loss",
                                            patience=config["patience"])
    callbacks = [StopOnNonFinite(), stopper, TrainingState(backup, early_stopping=stopper)]
    if recipe.trains(config):  # else the chief trains nothing either: no collectives to join
        fit_split(model, split, config, callbacks, verbose if verbose is not None else 0, distributed=True)
    return None


def _finite_or_none(value):
    return value if math.isfinite(value) else None  # JSON has no NaN or infinity


def _plain(value):
    """The config as it reads back from JSON, to compare a resumed run with the original."""
    import json

    from zoo.files import _jsonable

    return json.loads(json.dumps(value, default=_jsonable))


def _environment():
    import tensorflow as tf

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
    }


def _align_history(out_dir):
    """Keep history.csv to the epochs the backup holds (a kill can fall between the two writes)."""
    state = read_state(out_dir / BACKUP_DIR)
    done = int(state["epoch"]) if state else 0
    history = out_dir / HISTORY_NAME
    if history.exists():
        lines = history.read_text().splitlines(keepends=True)
        kept = lines[:1] + [line for line in lines[1:] if line.split(",", 1)[0].isdigit()
                            and int(line.split(",", 1)[0]) < done]
        write_text(history, "".join(kept))
    return done


def _count_epochs(history_path):
    try:
        return max(0, len(Path(history_path).read_text().strip().splitlines()) - 1)
    except FileNotFoundError:
        return 0


class BestCheckpoint(keras.callbacks.Callback):
    """Save the model when val_loss improves, atomically (a kill mid-save leaves the old file).

    The best value so far is kept beside the checkpoint so a resumed run does not overwrite a
    better model with a worse one.
    """

    def __init__(self, path, monitor="val_loss"):
        super().__init__()
        self.path, self.monitor = Path(path), monitor
        self.best = self.read_best(self.path)

    @staticmethod
    def read_best(path):
        marker = Path(path).with_suffix(".best")
        try:
            return float(marker.read_text())
        except (FileNotFoundError, ValueError):
            return math.inf

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None or not math.isfinite(value) or value >= self.best:
            return
        self.best = float(value)
        self.save(self.model, self.best)

    def save(self, model, best):
        staging = self.path.with_name(f".{self.path.stem}.tmp.keras")
        model.save(staging)
        with open(staging, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(staging, self.path)
        write_text(self.path.with_suffix(".best"), repr(best))


class HistoryLog(keras.callbacks.Callback):
    """history.csv as Keras' CSVLogger writes it (epoch, then the sorted log keys), but rewritten
    whole and atomically each epoch: a kill never leaves half a row."""

    def __init__(self, path, append=False):
        super().__init__()
        self.path, self.append = Path(path), append
        self.header, self.rows = None, []

    def on_train_begin(self, logs=None):
        if self.append and self.path.exists():
            import csv

            with open(self.path, newline="") as handle:
                lines = list(csv.reader(handle))
            if lines:
                self.header, self.rows = lines[0], lines[1:]

    def on_epoch_end(self, epoch, logs=None):
        import csv
        import io

        logs = logs or {}
        if self.header is None:
            self.header = ["epoch", *sorted(logs)]
        self.rows.append([str(epoch), *(str(logs.get(key, "NA")) for key in self.header[1:])])
        text = io.StringIO()
        csv.writer(text, lineterminator="\n").writerows([self.header, *self.rows])
        write_text(self.path, text.getvalue())


class StopOnNonFinite(keras.callbacks.Callback):
    """Stop at the first NaN or infinite loss and say where, instead of training on garbage."""

    def __init__(self):
        super().__init__()
        self.message = ""

    def on_train_batch_end(self, batch, logs=None):
        self._check(logs, f"batch {batch}")

    def on_epoch_end(self, epoch, logs=None):
        self._check(logs, f"epoch {epoch + 1}")

    def _check(self, logs, where):
        for key in ("loss", "val_loss"):
            value = (logs or {}).get(key)
            if value is not None and not math.isfinite(float(value)) and not self.message:
                self.message = f"{key} became {value} at {where}"
                self.model.stop_training = True


def plot_history(history_path, image_path):
    """Training and validation loss per epoch, from history.csv."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    try:
        history = pd.read_csv(history_path)
    except (FileNotFoundError, pd.errors.EmptyDataError):
        return
    figure, axis = plt.subplots(figsize=(6, 3.5))
    for column in ("loss", "val_loss"):
        if column in history:
            axis.plot(history["epoch"] + 1, history[column], label=column)
    axis.set_yscale("log")
    axis.set_xlabel("epoch")
    axis.legend()
    figure.tight_layout()
    save_figure(figure, image_path, dpi=100)
    plt.close(figure)
