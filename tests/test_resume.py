"""A training run killed with SIGKILL mid-way continues from its last backup when the same
command is run again, and ends where an uninterrupted run with the same seed ends."""

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

pytestmark = pytest.mark.slow  # trainings killed and resumed

EPOCHS = 24
ARGS = ["train", "forecaster", "--epochs", str(EPOCHS), "--units", "8", "--set", "patience=1000", "--seed", "3"]


def zoo(*args, **kwargs):
    executable = os.path.join(os.path.dirname(sys.executable), "zoo")
    return subprocess.Popen([executable, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def rows(history):
    try:
        return len(history.read_text().strip().splitlines()) - 1
    except FileNotFoundError:
        return 0


def test_killed_run_resumes_with_the_same_command(tmp_path):
    killed, reference = tmp_path / "killed", tmp_path / "reference"
    process = zoo(*ARGS, "--out", killed)
    deadline = time.monotonic() + 240
    while rows(killed / "history.csv") < 6 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, "training finished before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    finished_before = rows(killed / "history.csv")
    assert (killed / "backup").exists() and not (killed / "metrics.json").exists()
    import json

    carried = json.loads((killed / "backup" / "state.json").read_text())["seconds"]
    assert carried > 0  # the killed run's training time, up to its last complete epoch

    resumed = zoo(*ARGS, "--out", killed)
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert "resuming the interrupted run" in err
    uninterrupted = zoo(*ARGS, "--out", reference)
    _, err = uninterrupted.communicate(timeout=300)
    assert uninterrupted.returncode == 0, err

    history = pd.read_csv(killed / "history.csv")
    assert history["epoch"].tolist() == list(range(EPOCHS)), f"killed after {finished_before} epochs"
    expected = pd.read_csv(reference / "history.csv")
    final, target = history["val_loss"].iloc[-1], expected["val_loss"].iloc[-1]
    assert abs(final - target) <= 0.05 * target
    assert not (killed / "backup").exists() and (killed / "metrics.json").exists()
    # The card's training time counts the killed run's epochs too, not only the resumed run's.
    assert json.loads((killed / "config.json").read_text())["training"]["seconds"] > carried
