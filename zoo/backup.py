"""Crash-safe training state: a run killed at any moment resumes from its last complete epoch.

Keras' ``BackupAndRestore`` writes ``latest.weights.h5`` in place; a kill in the middle leaves a
half-written file that every later resume fails to load. Here each epoch's weights (optimizer
included) go to a new file, are fsynced, and only then does ``state.json`` (itself written to a
temporary name, fsynced and renamed) point at them. The previous epoch's file is kept until the
next one is complete, so resume can fall back to it when the newest is damaged anyway (a disk
error, a copied folder). The state also carries early stopping's counters, so a resumed run stops
where an uninterrupted one would, and a ``finished`` flag, so a run killed after training but
before its results were written does not train again.
"""

import json
import os
import time
import warnings
from pathlib import Path

import keras

from zoo.compat import set_initial_epoch
from zoo.files import fsync_directory, write_json
from zoo.progress import warn

STATE_NAME = "state.json"
_KEEP = 2  # the newest complete epoch and the one before it


class TrainingState(keras.callbacks.Callback):
    """Save and restore the training state in ``backup_dir``. Put it last in the callback list:
    an epoch counts as done only once every other callback (best checkpoint, history) has
    finished with it."""

    def __init__(self, backup_dir, early_stopping=None):
        super().__init__()
        self.backup_dir = Path(backup_dir)
        self.early_stopping = early_stopping
        self.state = read_state(self.backup_dir)
        self.resumed_from = None
        #: Training seconds of the epochs a resumed run starts from (a killed run's time counts).
        self.carried_seconds = 0.0
        self._started = time.perf_counter()

    @property
    def finished(self):
        return bool(self.state and self.state.get("finished"))

    @property
    def epochs_done(self):
        return int(self.state["epoch"]) if self.state else 0

    def on_train_begin(self, logs=None):
        self._started = time.perf_counter()
        if not self.state:
            return
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        candidates = [self.state, *self.state.get("previous", [])]
        for number, candidate in enumerate(candidates):
            try:
                with warnings.catch_warnings():  # a damaged file's partial-load warnings; the failure is reported below
                    warnings.simplefilter("ignore")
                    self.model.load_weights(self.backup_dir / candidate["weights"])
            except Exception as error:  # a damaged or missing file: try the one before it
                reason = str(error).strip().splitlines()[0][:120] if str(error).strip() else type(error).__name__
                warn(f"backup {candidate['weights']} (epoch {candidate['epoch']}) cannot be loaded "
                     f"({reason}); falling back to the one before it")
                continue
            self.resumed_from = int(candidate["epoch"])
            self.carried_seconds = float(candidate.get("seconds", 0.0))
            if number:
                self.state = {**candidate, "previous": candidates[number + 1:]}
            set_initial_epoch(self.model, self.resumed_from)
            self._restore_early_stopping(candidate.get("early_stopping"))
            return
        warn("no backup could be loaded; training starts again from the first epoch")
        self.state = None

    def on_epoch_end(self, epoch, logs=None):
        self._save(epoch + 1, finished=False)

    def on_train_end(self, logs=None):
        if self.state:
            self._write_state({**self.state, "finished": True})

    def _save(self, epoch, finished):
        self.backup_dir.mkdir(parents=True, exist_ok=True)
        name = f"epoch-{epoch:05d}.weights.h5"
        path = self.backup_dir / name
        self.model.save_weights(path, overwrite=True)
        with open(path, "rb") as handle:
            os.fsync(handle.fileno())
        fsync_directory(self.backup_dir)
        previous = ([{k: v for k, v in self.state.items() if k != "previous"}] if self.state else [])
        state = {"epoch": epoch, "weights": name, "finished": finished, "early_stopping": self._early_stopping(),
                 "seconds": round(self.training_seconds(), 3), "previous": previous[: _KEEP - 1]}
        self._write_state(state)
        self._drop_old(keep={name, *(p["weights"] for p in state["previous"])})

    def training_seconds(self):
        """Seconds of training so far, across every resumed run: the time up to the epoch this
        run resumed from, plus this run's."""
        return self.carried_seconds + (time.perf_counter() - self._started)

    def _write_state(self, state):
        write_json(self.backup_dir / STATE_NAME, state)
        self.state = state

    def _drop_old(self, keep):
        for path in self.backup_dir.glob("epoch-*.weights.h5"):
            if path.name not in keep:
                path.unlink(missing_ok=True)

    def _early_stopping(self):
        stopper = self.early_stopping
        if stopper is None:
            return None
        best = getattr(stopper, "best", None)
        return {"wait": int(stopper.wait), "best": None if best is None else float(best),
                "best_epoch": int(getattr(stopper, "best_epoch", 0))}

    def _restore_early_stopping(self, saved):
        if self.early_stopping is None or not saved:
            return
        self.early_stopping.wait = saved["wait"]
        if saved["best"] is not None:
            self.early_stopping.best = saved["best"]
        self.early_stopping.best_epoch = saved["best_epoch"]


def read_state(backup_dir):
    """The saved state, or None when there is none or it cannot be read (then training starts over)."""
    path = Path(backup_dir) / STATE_NAME
    try:
        state = json.loads(path.read_text())
        return state if isinstance(state, dict) and "epoch" in state and "weights" in state else None
    except (OSError, ValueError):
        return None
