"""The anomaly half of ``benchmarks/datasets.py``: the anomaly model, with its defaults, on every
labelled series of ``benchmarks/anomaly_series.py`` (aeon's real ones and real series with injected
anomalies), next to the rolling z-score, an IsolationForest over windows and a matrix-profile
discord score from the same run; ROC-AUC and PR-AUC per series and their means.

``--group development`` runs the development injections instead (kept apart: recipe changes are
chosen there, and the benchmark's series are not looked at while choosing)."""

import sys
import tempfile
import time
from pathlib import Path

BASELINES = ("rolling_zscore", "isolation_forest", "matrix_profile_discord")


def anomaly_one(name, data, quick=False, seed=0):
    """``zoo train anomaly --data DATA`` in a scratch run directory -> a row."""
    import json

    from zoo.training import train

    with tempfile.TemporaryDirectory() as scratch:
        started = time.perf_counter()
        metrics = train("anomaly", scratch, seed=seed, quick=quick, verbose=0, data_options={"data": str(data)})
        seconds = time.perf_counter() - started
        config = json.loads((Path(scratch) / "config.json").read_text())["config"]
    return {
        "data": name,
        "anomalous_steps": config["data"]["anomalous_steps"],
        "seconds": round(seconds, 1),
        "model": {k: metrics["test"].get(k) for k in ("roc_auc", "pr_auc")},
        "baselines": {k: {m: v.get(m) for m in ("roc_auc", "pr_auc")} for k, v in metrics["baselines"].items()},
    }


#: The design choices compared on the development series: where windows are centred (each needs
#: its own training) and how window errors become step scores (one training scores both ways).
LEVELS = ("global", "window")
SCORES = ("window", "step", "both")
#: The recipe's defaults as a development variant (level=auto, score=both, flat=true).
DEFAULT_VARIANT = "auto/both+flat"


def develop_one(name, data, quick=False, seed=0):
    """Each ``level`` trained as ``zoo train anomaly --set level=L`` does, each trained model
    scored every ``score`` way -> a row of {"level/score": {"roc_auc", "pr_auc"}}."""
    import json

    import keras

    from zoo.checkpoints import load_model
    from zoo.models.anomaly import judged, with_flatness
    from zoo.registry import get_recipe
    from zoo.training import train

    recipe, variants, seconds, val_errors = get_recipe("anomaly"), {}, {}, {}
    for level in LEVELS:
        with tempfile.TemporaryDirectory() as scratch:
            started = time.perf_counter()
            train("anomaly", scratch, seed=seed, quick=quick, verbose=0, data_options={"data": str(data)}, level=level)
            seconds[level] = round(time.perf_counter() - started, 1)
            config = json.loads((Path(scratch) / "config.json").read_text())["config"]
            model = load_model(Path(scratch) / "model.keras")
        keras.utils.set_random_seed(seed)
        split = recipe.load_data(config, data=str(data))
        scored = recipe.step_scores(model, split, config, SCORES)
        flatness = recipe.flatness(split, config)
        val_errors[level] = recipe.validation_error(model, split, config)
        for mode, scores in scored.items():
            variants[f"{level}/{mode}"] = judged(split.y_test, scores)
            variants[f"{level}/{mode}+flat"] = judged(split.y_test, with_flatness(scores, flatness))
    return {"data": name, "variants": variants, "seconds": seconds, "val_error": val_errors,
            "baselines": development_baselines(data)}


def development_baselines(data):
    """The baselines on a development series' test part, as a benchmark row has them."""
    from zoo.models.anomaly.baselines import rolling_zscore
    from zoo.registry import get_recipe

    recipe = get_recipe("anomaly")
    config = recipe.config()
    split = recipe.load_data(config, data=str(data))
    config = {**config, "data": split.info}
    results = recipe.baselines(split, config, rolling_zscore(split.extra["test"], config["window"]))
    return {k: {m: v.get(m) for m in ("roc_auc", "pr_auc")} for k, v in results.items()}


def run_anomaly(only, results, path, quick, save, group="benchmark"):
    from benchmarks.anomaly_series import real_series, write_injected

    done = results.setdefault("anomaly" if group == "benchmark" else f"anomaly-{group}", {})
    with tempfile.TemporaryDirectory() as folder:
        series = {} if group != "benchmark" else {name: name for name in real_series()}
        series.update(write_injected(folder, group))
        for name, data in series.items():
            if (only and name not in only) or (name in done and "baselines" in done[name]):
                continue
            if name in done:  # a development row from before its baselines were kept
                done[name]["baselines"] = development_baselines(data)
                save(path, results)
                continue
            print(f"[anomaly:{group}] {name}", file=sys.stderr, flush=True)
            done[name] = (anomaly_one if group == "benchmark" else develop_one)(name, data, quick=quick)
            save(path, results)


def _number(value):
    return "-" if value is None else f"{value:.3f}"


def anomaly_table(rows):
    """Per series: the model's ROC-AUC / PR-AUC beside each baseline's; bold where the model is
    at least the best baseline; then the means, and on how many series the model is at least
    the rolling z-score."""
    header = "| series | anomalous steps | LSTM ROC / PR | " + " | ".join(
        f"{name.replace('_', ' ')} ROC / PR" for name in BASELINES) + " | seconds |"
    lines = [header, "| --- |" + " --- |" * (len(BASELINES) + 3)]
    for row in rows:
        best = max((row["baselines"].get(b, {}).get("roc_auc") or 0) for b in BASELINES)
        mark = "**" if (row["model"]["roc_auc"] or 0) >= best else ""
        cells = [f"{_number(row['baselines'].get(b, {}).get('roc_auc'))} / {_number(row['baselines'].get(b, {}).get('pr_auc'))}"
                 for b in BASELINES]
        lines.append(f"| {row['data']} | {row['anomalous_steps']} | {mark}{_number(row['model']['roc_auc'])}{mark} / "
                     f"{_number(row['model']['pr_auc'])} | " + " | ".join(cells) + f" | {row['seconds']} |")
    return "\n".join(lines + ["", *summary_lines(rows)])


def development_table(rows):
    """Mean ROC-AUC and PR-AUC of each design variant over the development series."""
    import numpy as np

    from zoo.models.anomaly import DRIFT_RATIO
    from zoo.models.anomaly.scoring import Flatness

    def auto(row, score):  # what level=auto picks from the two trainings' validation errors
        errors = row["val_error"]
        return row["variants"][f"{'window' if errors['global'] > DRIFT_RATIO * errors['window'] else 'global'}/{score}"]

    variants = list(rows[0]["variants"]) if rows else []
    lines = ["| level / score | mean ROC-AUC | mean PR-AUC |", "| --- | --- | --- |"]
    table = {v: [r["variants"][v] for r in rows] for v in variants}
    table.update({f"auto/{score}{flat}": [auto(r, score + flat) for r in rows]
                  for score in SCORES for flat in ("", "+flat") if "val_error" in rows[0]})
    for variant, results in table.items():
        roc, pr = np.mean([x["roc_auc"] for x in results]), np.mean([x["pr_auc"] for x in results])
        bold = "**" if variant == DEFAULT_VARIANT else ""
        lines.append(f"| {bold}{variant}{bold} | {roc:.3f} | {pr:.3f} |")
    for name in BASELINES:
        roc = np.mean([r["baselines"][name]["roc_auc"] for r in rows if "baselines" in r])
        pr = np.mean([r["baselines"][name]["pr_auc"] for r in rows if "baselines" in r])
        lines.append(f"| baseline: {name.replace('_', ' ')} | {roc:.3f} | {pr:.3f} |")
    note = (f"{len(rows)} development series; **{DEFAULT_VARIANT}** is the default (level=auto with DRIFT_RATIO "
            f"{DRIFT_RATIO:g}, score=both, flat=true; +flat: a window over {Flatness.RATIO:g} times flatter than the "
            "flattest normal one adds to its steps' scores): the highest mean ROC-AUC among the variants whose "
            "mean PR-AUC is at least the best baseline's there.")
    return "\n".join(lines + ["", note])


def summary_lines(rows):
    import numpy as np

    def mean(values):
        values = [v for v in values if v is not None]
        return float(np.mean(values)) if values else None

    lines = ["| | mean ROC-AUC | mean PR-AUC |", "| --- | --- | --- |",
             f"| LSTM autoencoder | {_number(mean(r['model']['roc_auc'] for r in rows))} | "
             f"{_number(mean(r['model']['pr_auc'] for r in rows))} |"]
    for name in BASELINES:
        lines.append(f"| {name.replace('_', ' ')} | {_number(mean(r['baselines'].get(name, {}).get('roc_auc') for r in rows))} | "
                     f"{_number(mean(r['baselines'].get(name, {}).get('pr_auc') for r in rows))} |")
    judged = [r for r in rows if r["model"]["roc_auc"] is not None]
    wins = sum(r["model"]["roc_auc"] >= r["baselines"]["rolling_zscore"]["roc_auc"] for r in judged)
    lines += ["", f"Means over the {len(judged)} series with both labels in their test part; ROC-AUC at least "
                  f"the rolling z-score's on {wins} of {len(judged)}."]
    unjudged = [r["data"] for r in rows if r["model"]["roc_auc"] is None]
    if unjudged:
        lines.append(f"Not judged (one label only in the test part): {', '.join(unjudged)}.")
    return lines


def anomaly_markdown(results):
    """The anomaly sections of the benchmark's Markdown (``benchmarks/results/anomaly.md``)."""
    parts = []
    if results.get("anomaly"):
        parts += ["### Labelled series: aeon's real ones, real series with injected anomalies\n",
                  anomaly_table(list(results["anomaly"].values())), ""]
    if results.get("anomaly-development"):
        parts += ["### Design variants on the development series (the defaults are chosen here)\n",
                  development_table(list(results["anomaly-development"].values()))]
    return "\n".join(parts).rstrip()
