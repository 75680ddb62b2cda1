"""Crash-safe training: a run killed at any moment (SIGKILL or Ctrl-C) finishes with the same command,
with every file it should have and the metrics of an uninterrupted run; a damaged newest backup
falls back to the one before it."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from zoo.backup import TrainingState

# One full batch per epoch (the sunspot windows fit in 512): the resumed run repeats the
# uninterrupted one step for step, so the metrics can be compared closely.
ARGS = ["train", "forecaster", "--epochs", "25", "--units", "4", "--batch-size", "512", "--set", "patience=6",
        "--set", "base=persistence", "--set", "level=false", "--seed", "1"]
RUN_FILES = ("model.keras", "config.json", "metrics.json", "history.csv", "loss.png", "forecast.png", "card.md",
             "test_inputs.npy", "calibration_inputs.npy")
KILLS, CHAIN = 30, 3  # 30 kills, in chains of 3 before the run is left to finish


def zoo(*args):
    executable = os.path.join(os.path.dirname(sys.executable), "zoo")
    return subprocess.Popen([executable, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(out):
    process = zoo(*ARGS, "--out", out)
    _, err = process.communicate(timeout=600)
    assert process.returncode == 0, err
    return err


@pytest.mark.slow
def test_kills_at_30_random_moments_each_end_in_the_uninterrupted_result(tmp_path):
    reference = tmp_path / "reference"
    started = time.monotonic()
    finish(reference)
    duration = time.monotonic() - started
    expected = json.loads((reference / "metrics.json").read_text())["test"]

    rng = np.random.default_rng(7)
    moments = rng.uniform(0.5, duration, KILLS)
    interrupted = 0
    for chain in range(KILLS // CHAIN):
        out = tmp_path / f"run{chain}"
        for moment in moments[chain * CHAIN:(chain + 1) * CHAIN]:
            if (out / "metrics.json").exists():
                break  # an earlier re-run finished before its moment came
            process = zoo(*ARGS, "--out", out)
            time.sleep(moment)
            interrupted += process.poll() is None
            process.send_signal(signal.SIGKILL if chain % 2 == 0 else signal.SIGINT)
            process.communicate(timeout=120)
        if not (out / "metrics.json").exists():
            finish(out)
        missing = [name for name in RUN_FILES if not (out / name).exists()]
        assert not missing, f"chain {chain} (kills at {moments[chain * CHAIN:(chain + 1) * CHAIN]}) lacks {missing}"
        assert not (out / "backup").exists()
        assert not [p.name for p in out.iterdir() if p.name.startswith(".") and "tmp" in p.name]
        got = json.loads((out / "metrics.json").read_text())["test"]
        for name, value in expected.items():
            assert got[name] == pytest.approx(value, rel=1e-3), (chain, name, got, expected)
    assert interrupted >= KILLS // 2, f"only {interrupted} of {KILLS} kills caught a running training"


def _tiny_model():
    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(0.01), "mse")
    return model


class _Killed(Exception):
    pass


class _KillAfter(__import__("keras").callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epoch:
            raise _Killed


def test_a_damaged_newest_backup_falls_back_to_the_one_before(tmp_path, capsys):
    import h5py

    x, y = np.random.default_rng(0).normal(size=(32, 4)), np.ones((32, 1))
    model = _tiny_model()
    with pytest.raises(_Killed):
        model.fit(x, y, epochs=10, verbose=0, callbacks=[TrainingState(tmp_path), _KillAfter(3)])
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["epoch"] == 3 and state["previous"][0]["epoch"] == 2
    with h5py.File(tmp_path / state["weights"], "w"):
        pass  # the repro: an empty HDF5 file in place of the newest backup

    resumed = _tiny_model()
    restore = TrainingState(tmp_path)
    history = resumed.fit(x, y, epochs=5, verbose=0, callbacks=[restore])
    assert restore.resumed_from == 2 and history.epoch == [2, 3, 4]
    assert "cannot be loaded" in capsys.readouterr().err


def test_a_half_written_state_file_starts_over_instead_of_failing(tmp_path):
    (tmp_path / "state.json").write_text('{"epoch": 3, "weig')
    model = _tiny_model()
    history = model.fit(np.ones((8, 4)), np.ones((8, 1)), epochs=2, verbose=0, callbacks=[TrainingState(tmp_path)])
    assert history.epoch == [0, 1]


def test_early_stopping_counters_survive_a_resume(tmp_path):
    import keras

    x, y = np.random.default_rng(1).normal(size=(32, 4)), np.ones((32, 1))
    stopper = keras.callbacks.EarlyStopping(monitor="loss", patience=50)
    model = _tiny_model()
    with pytest.raises(_Killed):
        model.fit(x, y, epochs=10, verbose=0, callbacks=[stopper, TrainingState(tmp_path, stopper), _KillAfter(4)])
    saved = json.loads((tmp_path / "state.json").read_text())["early_stopping"]

    again = keras.callbacks.EarlyStopping(monitor="loss", patience=50)
    _tiny_model().fit(x, y, epochs=4, verbose=0, callbacks=[again, TrainingState(tmp_path, again)])
    assert again.best == pytest.approx(saved["best"]) and again.best_epoch == saved["best_epoch"]


def _dead_pid():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_staging_folders_of_dead_processes_are_removed_and_exports_are_readable(tmp_path):
    from zoo.files import atomic_directory, scratch_directory

    stale = tmp_path / f".exp.staging-{_dead_pid()}-abc"
    stale.mkdir()
    (stale / "model.onnx").write_text("half")
    alive = tmp_path / f".exp.staging-{os.getpid()}-xyz"  # another export of this process, still working
    alive.mkdir()
    with atomic_directory(tmp_path / "exp") as staging:
        (staging / "report.json").write_text("{}")
    assert not stale.exists() and alive.exists() and (tmp_path / "exp" / "report.json").exists()
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "exp").stat().st_mode & 0o777 == 0o777 & ~umask  # not mkdtemp's 0700

    import tempfile
    from pathlib import Path

    orphan = Path(tempfile.gettempdir()) / f"zoo-test-scratch-{_dead_pid()}-q"
    orphan.mkdir()
    with scratch_directory("zoo-test-scratch-") as scratch:
        assert scratch.exists() and not orphan.exists()
    assert not scratch.exists()


@pytest.mark.slow
def test_an_export_killed_mid_way_leaves_nothing_once_the_next_one_ran(tmp_path):
    out = tmp_path / "exp"
    process = zoo("export", "forecaster", "--out", out)
    deadline = time.monotonic() + 120
    while not any(p.name.startswith(".exp.staging-") for p in tmp_path.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # inside the conversions
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    assert not out.exists()  # a killed export never leaves a half folder under the target's name
    again = zoo("export", "forecaster", "--out", out, "--format", "onnx")
    _, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    assert [p.name for p in tmp_path.iterdir()] == ["exp"]
