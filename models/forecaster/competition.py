"""Scoring a panel as the M competitions do, and the field's own baselines on the same histories.

Every series is forecast ``horizon`` steps from the same origin (its last ``horizon`` values are
the test part). Point forecasts: sMAPE (the M3/M4 definition, in percent) and MASE (the error
over the in-sample seasonal naive's, Hyndman & Koehler 2006). Intervals: the share of test values
inside them (coverage) and MSIS (Gneiting & Raftery's interval score scaled as MASE is, M4's
interval measure). Baselines come from statsforecast: AutoETS, AutoTheta, SeasonalNaive, Naive
(a model that cannot fit a short history falls back to Naive there, as statsforecast's
``fallback_model`` does).
"""

import time

import numpy as np


def smape(actual, forecast):
    """Per series sMAPE in percent: mean of 200 |y - f| / (|y| + |f|) over the horizon."""
    actual, forecast = np.asarray(actual, "float64"), np.asarray(forecast, "float64")
    denominator = np.abs(actual) + np.abs(forecast)
    ratio = np.where(denominator > 0, 2 * np.abs(actual - forecast) / np.where(denominator > 0, denominator, 1), 0.0)
    return 100 * ratio.mean(axis=-1)


def mase_scales(histories, season):
    """Per series: the in-sample seasonal naive's mean absolute error (lag 1 when the history is
    not longer than a season; NaN for a constant history). ``season``: one, or one per series."""
    scales = np.empty(len(histories))
    seasons = np.broadcast_to(season, (len(histories),))
    for k, history in enumerate(histories):
        lag = int(seasons[k]) if len(history) > seasons[k] else 1
        scale = np.mean(np.abs(history[lag:] - history[:-lag])) if len(history) > lag else 0.0
        scales[k] = scale if scale > 0 else np.nan
    return scales


def interval_scores(actual, lower, upper, coverage_level, scales):
    """Per series (coverage, MSIS) of the central ``coverage_level`` interval [lower, upper]."""
    alpha = 1 - coverage_level
    inside = (actual >= lower) & (actual <= upper)
    penalty = (upper - lower) + 2 / alpha * (lower - actual) * (actual < lower) \
        + 2 / alpha * (actual - upper) * (actual > upper)
    return inside.mean(axis=-1), penalty.mean(axis=-1) / scales


def scores(actual, point, histories, season, lower=None, upper=None, level=0.8):
    """Per series metrics -> their means over the panel (MASE and MSIS skip series whose history
    is constant, as their scale is zero), plus the per series arrays for finer tables."""
    scales = mase_scales(histories, season)
    per_series = {"smape": smape(actual, point), "mase": np.abs(actual - point).mean(axis=-1) / scales}
    if lower is not None:
        per_series["coverage"], per_series["msis"] = interval_scores(actual, lower, upper, level, scales)
    return summarize(per_series), per_series


def summarize(*per_series):
    """Per series metrics (of one or several panels) -> their means, and the number of series."""
    names = per_series[0].keys()
    joined = {name: np.concatenate([np.asarray(p[name], "float64") for p in per_series]) for name in names}
    summary = {name: _mean(values) for name, values in joined.items()}
    summary["series"] = len(next(iter(joined.values())))
    return summary


def _mean(values):
    values = np.asarray(values, "float64")
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if len(finite) else None


#: statsforecast's models, by the name the tables use; Naive and SeasonalNaive first (cheap).
BASELINES = ("naive", "seasonal_naive", "auto_ets", "auto_theta")


def statsforecast_baselines(histories, horizon, season, level=0.8, names=BASELINES):
    """``{name: (point (N, H), lower, upper, seconds)}`` from statsforecast, fitted on each
    history (lists of arrays of any lengths) and forecast ``horizon`` steps with the central
    ``level`` interval. Each model is fitted on its own so its seconds are its own."""
    import os
    import warnings

    import pandas as pd
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS, AutoTheta, Naive, SeasonalNaive

    makers = {"naive": Naive, "seasonal_naive": lambda: SeasonalNaive(season_length=season),
              "auto_ets": lambda: AutoETS(season_length=season), "auto_theta": lambda: AutoTheta(season_length=season)}
    frame = pd.DataFrame({
        "unique_id": np.repeat(np.arange(len(histories)), [len(h) for h in histories]),
        "ds": np.concatenate([np.arange(len(h)) for h in histories]),
        "y": np.concatenate(histories).astype("float64"),
    })
    percent = int(round(level * 100))
    results = {}
    for name in names:
        model = makers[name]()
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # AutoETS refuses tiny histories ("tiny datasets"): those series get statsforecast's Naive
            forecast = StatsForecast(models=[model], freq=1, n_jobs=min(2, os.cpu_count() or 1),
                                     fallback_model=Naive()).forecast(df=frame, h=horizon, level=[percent])
        forecast = forecast.sort_values(["unique_id", "ds"])
        column = [c for c in forecast.columns if c not in ("unique_id", "ds") and "-lo-" not in c and "-hi-" not in c][0]
        shaped = [forecast[c].to_numpy("float64").reshape(len(histories), horizon)
                  for c in (column, f"{column}-lo-{percent}", f"{column}-hi-{percent}")]
        results[name] = (*shaped, time.perf_counter() - started)
    return results
