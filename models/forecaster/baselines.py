"""The forecasts a forecaster must beat, scored on its own split and horizon: persistence,
seasonal naive, drift, ETS and Theta (statsmodels), and MASE's scale.

ETS and Theta are fitted on everything before the test part (train and validation), as the
network's choices are, and then forecast from every test origin: ETS with its fitted parameters
fixed, Theta refitted per origin (it is a regression and a smoothing, cheap to refit).
"""

import warnings

import numpy as np


def rmse(y, p):
    return float(np.sqrt(np.mean((np.asarray(y) - np.asarray(p)) ** 2)))


def mae(y, p):
    return float(np.mean(np.abs(np.asarray(y) - np.asarray(p))))


def persistence(values, origins, horizon):
    """(N, horizon): the last value before each origin, repeated."""
    return np.repeat(values[origins - 1][:, None], horizon, axis=1)


def seasonal_naive(values, origins, horizon, season):
    """(N, horizon): the same point of the last full season before each origin."""
    ahead = np.arange(horizon)[None, :]
    return values[origins[:, None] + ahead - season * (ahead // season + 1)]


def window_drift(values, origins, horizon, window):
    """(N, horizon): the last value plus the average step of the ``window`` values before each
    origin, per step ahead: what the forecaster's ``drift`` base computes inside the network."""
    last, first = values[origins - 1], values[origins - window]
    slope = (last - first) / (window - 1)
    return last[:, None] + slope[:, None] * np.arange(1, horizon + 1)[None, :]


def drift(values, origins, horizon):
    """(N, horizon): the drift method over the whole history before each origin."""
    last, first = values[origins - 1], values[0]
    slope = (last - first) / np.maximum(origins - 1, 1)
    return last[:, None] + slope[:, None] * np.arange(1, horizon + 1)[None, :]


def mase_scale(values, season):
    """Mean absolute error of the in-sample seasonal naive forecast (Hyndman & Koehler 2006):
    MASE below 1 beats that naive forecast on the data it was fitted on."""
    lag = season if len(values) > season else 1
    scale = float(np.mean(np.abs(values[lag:] - values[:-lag])))
    return scale if scale > 0 else float("nan")


def scores(actual, predicted, scale):
    return {"rmse": rmse(actual, predicted), "mae": mae(actual, predicted),
            "mase": mae(actual, predicted) / scale if np.isfinite(scale) else None}


def ets(values, origins, horizon, season, fit_end):
    """(N, horizon) ETS forecasts, or None when statsmodels cannot fit one. The model (additive
    errors; no, additive or damped trend; additive season where two seasons fit) is chosen by AIC
    on ``values[:fit_end]``."""
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    history = values[:fit_end]
    specs = [dict(trend=None), dict(trend="add"), dict(trend="add", damped_trend=True)]
    if 1 < season and 2 * season + 2 <= len(history):
        specs += [{**spec, "seasonal": "add", "seasonal_periods": season} for spec in specs]
    best, best_spec = None, None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for spec in specs:
            try:
                fitted = ETSModel(history, error="add", **spec).fit(disp=False, maxiter=200)
            except (ValueError, np.linalg.LinAlgError, IndexError):
                continue
            if np.isfinite(fitted.aic) and (best is None or fitted.aic < best.aic):
                best, best_spec = fitted, spec
        if best is None:
            return None, None
        forecasts = []
        for origin in origins:
            smoothed = ETSModel(values[:origin], error="add", **best_spec).smooth(best.params)
            forecasts.append(np.asarray(smoothed.forecast(horizon)))
    return np.stack(forecasts), _describe_ets(best_spec)


def _describe_ets(spec):
    trend = "N" if not spec.get("trend") else ("Ad" if spec.get("damped_trend") else "A")
    return f"ETS(A,{trend},{'A' if spec.get('seasonal') else 'N'})"


def theta(values, origins, horizon, season):
    """(N, horizon) Theta-method forecasts (Assimakopoulos & Nikolopoulos 2000), refitted at each
    origin; None when it cannot be fitted (too short a history)."""
    from statsmodels.tsa.forecasting.theta import ThetaModel

    forecasts = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for origin in origins:
            history = values[:origin]
            deseasonalize = 1 < season and 2 * season <= len(history) and bool(np.all(history > 0))
            try:
                fitted = ThetaModel(history, period=season if deseasonalize else 1,
                                    deseasonalize=deseasonalize).fit()
                forecasts.append(np.asarray(fitted.forecast(horizon)))
            except (ValueError, np.linalg.LinAlgError, IndexError):
                return None
    return np.stack(forecasts)


def all_baselines(values, origins, actual, horizon, season, fit_end):
    """``{name: {rmse, mae, mase}}`` for every baseline that could be computed."""
    scale = mase_scale(values[:fit_end], season)
    results = {
        "persistence": scores(actual, persistence(values, origins, horizon), scale),
        "seasonal_naive": {**scores(actual, seasonal_naive(values, origins, horizon, season), scale), "season": season},
        "drift": scores(actual, drift(values, origins, horizon), scale),
    }
    if len(origins) > MAX_REFIT_ORIGINS:  # each origin refits on all values before it: quadratic
        from zoo.progress import note

        note(f"ETS and Theta baselines left out: they refit at each of the {len(origins):,} test origins "
             f"(at most {MAX_REFIT_ORIGINS:,})")
        return results
    forecasts, name = ets(values, origins, horizon, season, fit_end)
    if forecasts is not None:
        results["ets"] = {**scores(actual, forecasts, scale), "model": name}
    forecasts = theta(values, origins, horizon, season)
    if forecasts is not None:
        results["theta"] = scores(actual, forecasts, scale)
    return results


#: ETS and Theta are refitted at every test origin; beyond this many the run would take hours.
MAX_REFIT_ORIGINS = 5_000
