"""Two worker processes on 127.0.0.1 (MultiWorkerMirroredStrategy, CPU) train the same model as
one process with the same global batch and seed; only the chief writes the run."""

import json
import os
import socket
import subprocess
import sys

import pandas as pd
import pytest

pytestmark = pytest.mark.slow  # a two-worker training

ARGS = ["train", "forecaster", "--epochs", "3", "--units", "8", "--batch-size", "32", "--seed", "5",
        "--set", "patience=100"]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def zoo(*args, env=None):
    executable = os.path.join(os.path.dirname(sys.executable), "zoo")
    return subprocess.Popen([executable, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, **(env or {})})


def two_workers_and_one_process(launch, args, tmp_path):
    """``launch(*args)`` as a cluster of two local workers into tmp_path/cluster and as one process
    into tmp_path/single, all at once; each must exit 0."""
    workers = [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]
    processes = []
    for index in range(2):
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        processes.append(launch(*args, "--strategy", "multi-worker", "--out", tmp_path / "cluster",
                                env={"TF_CONFIG": json.dumps(tf_config)}))
    single = launch(*args, "--out", tmp_path / "single", env={"ZOO_JIT_COMPILE": "0"})
    for process in [*processes, single]:
        _, err = process.communicate(timeout=600)
        assert process.returncode == 0, err[-2000:]


def test_two_workers_match_one_process(tmp_path):
    two_workers_and_one_process(zoo, ARGS, tmp_path)

    cluster, alone = tmp_path / "cluster", tmp_path / "single"
    assert (cluster / "metrics.json").exists() and (cluster / "model.keras").exists()
    config = json.loads((cluster / "config.json").read_text())
    assert config["distribution"] == {"strategy": "multi-worker", "replicas": 2}
    ours, reference = pd.read_csv(cluster / "history.csv"), pd.read_csv(alone / "history.csv")
    assert len(ours) == len(reference) == 3
    for column in ("loss", "val_loss"):
        assert ours[column].iloc[-1] == pytest.approx(reference[column].iloc[-1], rel=0.02)


def test_multi_worker_without_tf_config_is_a_user_error(tmp_path, capsys):
    from conftest import run_cli

    os.environ.pop("TF_CONFIG", None)
    code, _, err = run_cli(capsys, *ARGS, "--strategy", "multi-worker", "--out", tmp_path / "x")
    assert code == 2 and "needs TF_CONFIG" in err


LAZY = ("import sys; from zoo.models.forecaster import panel; panel.LAZY_WINDOWS = 100; "
        "from zoo.cli import main; sys.argv[0] = 'zoo'; main()")


def lazy_zoo(*args, env=None):
    """``zoo`` with a panel's training windows cut per batch from 100 windows on (1,000,000 by default)."""
    return subprocess.Popen([sys.executable, "-c", LAZY, *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})


def test_two_workers_shard_a_panel_too_big_to_hold_and_match_one_process(tmp_path):
    from test_panel import _synthetic_panel

    path = _synthetic_panel(tmp_path / "panel.csv", series=12)
    args = ["train", "forecaster", "--data", path, "--horizon", "6", "--epochs", "2", "--units", "8", "--batch-size", "64",
            "--seed", "5", "--set", "members=1", "--set", "refit=false", "--set", "baselines=naive",
            "--set", "patience=100"]
    two_workers_and_one_process(lazy_zoo, args, tmp_path)
    ours, reference = pd.read_csv(tmp_path / "cluster" / "history.csv"), pd.read_csv(tmp_path / "single" / "history.csv")
    assert len(ours) == len(reference) == 2
    for column in ("loss", "val_loss"):
        assert ours[column].iloc[-1] == pytest.approx(reference[column].iloc[-1], rel=0.02)
