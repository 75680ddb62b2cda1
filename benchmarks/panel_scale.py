"""How the global forecaster's cost grows with the panel: generated panels of 1,000, 10,000 and
100,000 monthly series trained with ``zoo train forecaster --data FILE`` in a fresh process each,
reporting wall seconds (reading, training, scoring), seconds per 1,000 series and peak RSS.

    python benchmarks/panel_scale.py                     # 1k, 10k, 100k; about 30 minutes on 2 cores
    python benchmarks/panel_scale.py --series 1000 --epochs 1

Every size trains the same way: a fixed number of epochs (``--epochs``, no early stopping, no
refit) so that the figures compare like with like, and only the naive baselines, since fitting
AutoETS to 100,000 series is a benchmark of statsforecast. Above a million training windows an
epoch draws a million of them (``zoo.training.RowBatches``), so an epoch's cost stops growing.
"""

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def write_panel(path, series, seed=0):
    """Monthly series of 36 to 120 values: levels, trends, seasons and noise drawn per series."""
    rng = np.random.default_rng(seed)
    start = np.datetime64("2010-01", "M")
    rows = 0
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["unique_id", "ds", "y"])
        for k in range(series):
            n = int(rng.integers(36, 121))
            t = np.arange(n)
            level, trend, season = rng.uniform(10, 10_000), rng.normal(0.004, 0.006), rng.uniform(0, 0.3)
            values = level * np.exp(trend * t) * (1 + season * np.sin(2 * np.pi * (t + rng.integers(12)) / 12))
            values *= rng.lognormal(0, 0.05, n)
            months = start + int(rng.integers(0, 60)) + t
            writer.writerows(zip([f"s{k}"] * n, [f"{m}-01" for m in months], np.round(values, 2)))
            rows += n
    return rows


def train_once(path, out, epochs):
    """``zoo train`` in a fresh process -> (wall seconds, that process's peak RSS in MB)."""
    command = [sys.executable, "-m", "zoo.cli", "train", "forecaster", "--data", str(path), "--horizon", "8",
               "--out", str(out), "--set", f"epochs={epochs}", "--set", f"patience={epochs}", "--set", "refit=false",
               "--set", "baselines=naive", "--force"]
    started = time.perf_counter()
    with tempfile.TemporaryFile() as log:
        child = subprocess.Popen(command, stdout=log, stderr=log, cwd=ROOT,
                                 env={**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"})
        _, status, usage = os.wait4(child.pid, 0)  # this child's own resource use
        seconds = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
            log.seek(0)
            raise SystemExit(f"zoo train failed on {path}:\n{log.read().decode(errors='replace')[-2000:]}")
    return seconds, usage.ru_maxrss / 1024  # kB on Linux


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", default="1000,10000,100000", help="Comma-separated panel sizes.")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for size in sorted(int(s) for s in args.series.split(",")):
            path = Path(scratch) / f"panel_{size}.csv"
            values = write_panel(path, size)
            seconds, peak = train_once(path, Path(scratch) / f"run_{size}", args.epochs)
            config = json.loads((Path(scratch) / f"run_{size}" / "config.json").read_text())
            metrics = json.loads((Path(scratch) / f"run_{size}" / "metrics.json").read_text())
            rows.append({"series": size, "values": values, "csv_mb": round(path.stat().st_size / 2**20, 1),
                         "windows": int(config["config"]["data"]["split"].split("; ")[-1].split(" ")[0]),
                         "epochs": args.epochs, "seconds": round(seconds, 1),
                         "training_seconds": config["training"]["seconds"],
                         "seconds_per_1000_series": round(seconds / size * 1000, 2),
                         "peak_rss_mb": round(peak),
                         "smape": metrics["test"]["smape"], "seasonal_naive_smape":
                             metrics["baselines"]["seasonal_naive"]["smape"]})
            print(json.dumps(rows[-1]), flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores",
              "command": "python benchmarks/panel_scale.py " + " ".join(argv or sys.argv[1:]), "rows": rows}
    (out / "panel_scale.json").write_text(json.dumps(result, indent=1))
    lines = ["| series | values | CSV MB | training windows | epochs | wall s | train s | s per 1,000 series | "
             "peak RSS MB | sMAPE | seasonal naive sMAPE |", "| --- |" + " --- |" * 10]
    for row in rows:
        lines.append(f"| {row['series']:,} | {row['values']:,} | {row['csv_mb']} | {row['windows']:,} | {row['epochs']} | "
                     f"{row['seconds']} | {row['training_seconds']} | {row['seconds_per_1000_series']} | "
                     f"{row['peak_rss_mb']} | {row['smape']:.2f} | "
                     f"{row['seasonal_naive_smape']:.2f} |")
    (out / "panel_scale.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
