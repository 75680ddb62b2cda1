"""The classification half of ``benchmarks/datasets.py``: the ts-classifier on every UCR/UEA set
that aeon bundles, with 1-NN Euclidean and DTW computed in the same run on the archive's split,
and the published UCR 2018 figures where the model card has them."""

import sys
import time

#: Cheapest first, so a short run still covers most sets.
ORDER = ("ItalyPowerDemand", "GunPoint", "BasicMotions", "JapaneseVowels", "ArrowHead",
         "PickupGestureWiimoteZ", "ACSF1", "OSULeaf")


def classify_one(name, quick=False, seed=0):
    """``zoo train ts-classifier --data NAME`` (cross-validated epochs, then the whole training
    set), in a scratch run directory -> a row."""
    import json
    import tempfile

    from zoo.models.ts_classifier import PUBLISHED_ERROR
    from zoo.training import train

    with tempfile.TemporaryDirectory() as scratch:
        started = time.perf_counter()
        metrics = train("ts-classifier", scratch, seed=seed, quick=quick, verbose=0, data_options={"data": name})
        seconds = time.perf_counter() - started
        config = json.loads((__import__("pathlib").Path(scratch) / "config.json").read_text())["config"]
    data = config["data"]
    return {
        "data": name,
        "train": data["n_train"],
        "test": data["n_test"],
        "length": data["max_length"],
        "channels": data["n_features"],
        "epochs": config["epochs"],
        "seconds": round(seconds, 1),
        "accuracy": metrics["test"]["accuracy"],
        "baselines": {k: v.get("accuracy") for k, v in metrics["baselines"].items()},
        "published": {k: round(1 - v, 4) for k, v in PUBLISHED_ERROR.get(name, {}).items()},
    }


def run_classification(only, results, path, quick, save):
    from zoo.models.ts_classifier.ucr import BUNDLED

    done = results.setdefault("classification", {})
    for name in only or [*ORDER, *(n for n in BUNDLED if n not in ORDER)]:
        if name in done:
            continue
        print(f"[classification] {name}", file=sys.stderr, flush=True)
        done[name] = classify_one(name, quick=quick)
        save(path, results)


def classification_table(rows):
    def number(value):
        return "-" if value is None else f"{value:.3f}"

    lines = ["| data set | train / test | length x channels | LSTM-FCN (this run) | 1-NN ED | 1-NN DTW | "
             "published 1-NN ED / DTW (UCR 2018) | epochs (CV) | seconds |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        published = row["published"]
        quoted = f"{published['1nn_euclidean']:.3f} / {published['1nn_dtw']:.3f}" if published else "-"
        mark = "**" if row["accuracy"] >= (row["baselines"].get("1nn_dtw") or 0) else ""
        lines.append(f"| {row['data']} | {row['train']} / {row['test']} | {row['length']} x {row['channels']} | "
                     f"{mark}{number(row['accuracy'])}{mark} | {number(row['baselines'].get('1nn_euclidean'))} | "
                     f"{number(row['baselines'].get('1nn_dtw'))} | {quoted} | {row['epochs']} | {row['seconds']} |")
    return "\n".join(lines)
