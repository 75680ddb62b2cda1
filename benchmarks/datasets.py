"""Data sets the zoo was not developed on: the forecaster over every series it can load offline,
the ts-classifier over every UCR/UEA set aeon bundles, each against its baselines on the same split.

Each model is what ``zoo train`` makes with its defaults: settings chosen on validation data
(the forecaster's ``select``, the classifier's cross-validation), the test part read once at the
end. Results are written per data set as they come (``--out``/datasets.json), so an interrupted
run continues where it stopped; the tables are written from whatever is there.

    python benchmarks/datasets.py forecasting            # statsmodels + aeon series, then M1 yearly
    python benchmarks/datasets.py classification
    python benchmarks/datasets.py panels                 # M3 and M1 panels, one global model each
    python benchmarks/datasets.py anomaly                # 24 labelled series; --group development
    python benchmarks/datasets.py forecasting --only airline,lynx --quick    # seconds; tests
    python benchmarks/datasets.py tables --merge other/datasets.json        # fold in a sharded run
"""

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

#: The forecasting series besides M1: statsmodels' and aeon's bundled sets.
SERIES = ("sunspots", "nile", "co2", "elnino", "macrodata", "airline", "lynx", "shampoo", "uschange", "pbs")
FORECAST_BASELINES = ("persistence", "seasonal_naive", "drift", "ets", "theta")


def forecast_one(name, quick=False, seed=0):
    """Train the forecaster on one series as ``zoo train forecaster --data NAME`` does -> a row."""
    import keras

    from zoo.registry import get_recipe

    recipe = get_recipe("forecaster")
    config = recipe.config(**(recipe.quick if quick else {}))
    keras.utils.set_random_seed(seed)
    split = recipe.load_data(config, data=name)
    config = {**config, "data": split.info}
    started = time.perf_counter()
    choice, model = recipe.compare(config, split, seed=seed)
    config = {**config, **choice}
    metrics = recipe.evaluate(model, split, config)
    return {
        "data": name,
        "length": split.info["length"],
        "season": split.info["season"],
        "window": split.info["window"],
        "chosen": choice["selection"]["summary"],
        "network": choice["network"],
        "seconds": round(time.perf_counter() - started, 1),
        "model": metrics["test"],
        "baselines": metrics["baselines"],
    }


def geometric_mean(values):
    values = [v for v in values if v is not None and v > 0 and math.isfinite(v)]
    return math.exp(sum(map(math.log, values)) / len(values)) if values else None


def forecasting_table(rows):
    """Per series RMSE and MASE, then the geometric means of the ratios to the model's RMSE."""
    lines = ["| series | n | model RMSE | persistence | seasonal naive | drift | ETS | Theta | model MASE | ETS MASE | chosen |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        base = row["baselines"]
        cells = [_number(row["model"]["rmse"])] + [_number(base.get(b, {}).get("rmse")) for b in FORECAST_BASELINES]
        lines.append(f"| {row['data']} | {row['length']} | " + " | ".join(cells)
                     + f" | {_number(row['model'].get('mase'))} | {_number(base.get('ets', {}).get('mase'))} | "
                     + _chosen(row) + " |")
    return "\n".join(lines)


def _chosen(row):
    """'network on drift, level' or 'drift (naive)': what validation chose."""
    summary = row["chosen"]
    if not row["network"]:
        return summary.split(" forecast shipped")[0] + " shipped"
    base, level = summary.split(",")[0].split("=")[1], summary.split(",")[1].split("=")[1].split(" ")[0]
    return f"network on {base}" + (", level" if level == "true" else "")


def forecasting_summary(rows):
    """How often the model beats each baseline, and the geometric mean of baseline/model RMSE."""
    summary = {}
    for baseline in FORECAST_BASELINES:
        pairs = [(r["model"]["rmse"], r["baselines"][baseline]["rmse"]) for r in rows if baseline in r["baselines"]]
        summary[baseline] = {
            "series": len(pairs),
            "model_better": sum(m < b for m, b in pairs),
            "model_tied": sum(m == b for m, b in pairs),
            "geomean_rmse_ratio_model_over_baseline": geometric_mean([m / b for m, b in pairs if b > 0]),
        }
    summary["geomean_mase"] = {"model": geometric_mean([r["model"].get("mase") for r in rows]),
                               **{b: geometric_mean([r["baselines"].get(b, {}).get("mase") for r in rows])
                                  for b in FORECAST_BASELINES}}
    return summary


def summary_table(summary, rows_label):
    lines = [f"| {rows_label} | series | model better | tied | geometric mean of model RMSE / baseline RMSE |",
             "| --- | --- | --- | --- | --- |"]
    for baseline in FORECAST_BASELINES:
        entry = summary[baseline]
        lines.append(f"| {baseline} | {entry['series']} | {entry['model_better']} | {entry['model_tied']} | "
                     f"{_number(entry['geomean_rmse_ratio_model_over_baseline'])} |")
    means = summary["geomean_mase"]
    lines.append("")
    lines.append("Geometric mean MASE: " + ", ".join(f"{k} {_number(v)}" for k, v in means.items()))
    return "\n".join(lines)


def _number(value):
    return "-" if not isinstance(value, (int, float)) or not math.isfinite(value) else f"{value:.4g}"


def load_results(path):
    return json.loads(path.read_text()) if path.exists() else {}


def save_results(path, results):
    staging = path.with_name(f".{path.name}.tmp")
    staging.write_text(json.dumps(results, indent=1))
    os.replace(staging, path)


def run_forecasting(names, results, path, quick):
    done = results.setdefault("forecasting", {})
    for name in names:
        if name in done:
            continue
        print(f"[forecasting] {name}", file=sys.stderr, flush=True)
        done[name] = forecast_one(name, quick=quick)
        save_results(path, results)


def write_markdown(results, out):
    parts = [f"# Data-set benchmark\n\n{results.get('machine', '')}\n"]
    rows = list(results.get("forecasting", {}).values())
    named = [r for r in rows if not r["data"].startswith("m1-yearly:")]
    m1 = [r for r in rows if r["data"].startswith("m1-yearly:")]
    if named:
        parts += ["## Forecaster: bundled series (last 20% test, one step ahead)\n", forecasting_table(named), "",
                  summary_table(forecasting_summary(named), "baseline"), ""]
    if m1:
        parts += [f"## Forecaster: M1 yearly ({len(m1)} series, last 20% of each, one step ahead)\n",
                  summary_table(forecasting_summary(m1), "baseline"), ""]
    panels = results.get("panels", {})
    if panels:
        from benchmarks.panels import PANELS, panels_markdown

        parts.append(panels_markdown(sorted(panels.values(), key=lambda r: PANELS.index(r["data"])
                                            if r["data"] in PANELS else len(PANELS))))
    classification = results.get("classification", {})
    if classification:
        from benchmarks.datasets_classification import classification_table

        parts += ["## ts-classifier: UCR/UEA sets bundled with aeon (the archive's split)\n",
                  classification_table(list(classification.values())), ""]
    if results.get("anomaly") or results.get("anomaly-development"):
        from benchmarks.datasets_anomaly import anomaly_markdown

        anomaly = anomaly_markdown(results)
        (out / "anomaly.md").write_text(anomaly + "\n")  # the docs include it as it is
        parts += [anomaly, ""]
    (out / "datasets.md").write_text("\n".join(parts))
    return "\n".join(parts)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=["forecasting", "classification", "panels", "anomaly", "tables"])
    parser.add_argument("--group", choices=["benchmark", "development"], default="benchmark",
                        help="Anomaly: the reported series, or the development ones recipe changes are chosen on.")
    parser.add_argument("--only", help="Comma-separated data-set names (default: all).")
    parser.add_argument("--no-m1", action="store_true", help="Forecasting: skip the 181 M1 yearly series.")
    parser.add_argument("--quick", action="store_true", help="Tiny models, 2 epochs: checks the script, not the zoo.")
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument("--runs", default="runs/panels", help="Panels: where each panel's run is kept.")
    parser.add_argument("--merge", help="Comma-separated datasets.json files of runs sharded with --only (each "
                                        "data set is seeded on its own, so a shard gives the same rows) to fold in.")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "datasets.json"
    results = load_results(path)
    results["machine"] = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores"
    for other in (args.merge.split(",") if args.merge else ()):
        for part, rows in load_results(Path(other)).items():
            if isinstance(rows, dict):
                results.setdefault(part, {}).update(rows)
    if args.merge:
        save_results(path, results)
    only = [n.strip() for n in args.only.split(",")] if args.only else None
    if args.part == "forecasting":
        from zoo.data.series import m1_yearly_names

        names = only or [*SERIES, *([] if args.no_m1 else m1_yearly_names())]
        run_forecasting(names, results, path, args.quick)
    elif args.part == "anomaly":
        from benchmarks.datasets_anomaly import run_anomaly

        run_anomaly(only, results, path, args.quick, save_results, group=args.group)
    elif args.part == "panels":
        from benchmarks.panels import PANELS, run_panels

        run_panels(only or PANELS, results, path, args.quick, save_results, runs=args.runs)
    elif args.part == "classification":
        from benchmarks.datasets_classification import run_classification

        run_classification(only, results, path, args.quick, save_results)
    print(write_markdown(results, out))
    print(f"wrote {path} and {out / 'datasets.md'}", file=sys.stderr)


if __name__ == "__main__":
    main()
