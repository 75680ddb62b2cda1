"""The global forecaster: one LSTM over every series of a panel, ``horizon`` steps ahead at once,
with quantiles.

Each training example is a window of a series' last ``window`` values before an origin and the
``horizon`` values after it, drawn from every series and origin of the training part; a series
shorter than the window is padded on the left with its first value. The network sees the window
relative to its last value in units of its mean absolute value (``RelativeWindow``) and returns
quantiles in the same units, turned back into the series' own (``QuantileForecast``). Several
members look back over shorter parts of the window, each with its own pinball loss, divided by
its series' in-sample seasonal naive error (or by the window's level), so every series counts
the same whatever its level; the forecast is the members' mean.

The split is the M competitions': the last ``horizon`` values of every series are the test part,
the ``horizon`` before them the validation part (early stopping, choices), the rest trains.
"""

import numpy as np

from zoo.data.windows import LazyRows, SeriesWindows
from zoo.errors import UserError
from zoo.progress import note
from zoo.recipe import DataSplit

DEFAULT_QUANTILES = "0.1,0.5,0.9"
#: Fewest values a training window must have seen before its origin.
MIN_SEEN = 2
#: Above this many training windows they are cut from the series per batch instead of stored
#: (``zoo.data.windows``); an epoch then draws ``zoo.training.RowBatches.ROWS_PER_EPOCH`` of them.
LAZY_WINDOWS = 1_000_000


def parse_quantiles(text):
    """'0.1,0.5,0.9' -> sorted distinct floats in (0, 1), with 0.5 among them (the point forecast)."""
    try:
        levels = sorted({float(part) for part in str(text).split(",") if part.strip()})
    except ValueError:
        raise UserError(f"--quantiles takes numbers between 0 and 1 separated by commas, got {text!r}") from None
    if not levels or not all(0 < q < 1 for q in levels):
        raise UserError(f"--quantiles takes numbers between 0 and 1 (exclusive), got {text!r}")
    if 0.5 not in levels:
        raise UserError(f"--quantiles must include 0.5 (the point forecast), got {text!r}")
    return levels


def auto_window(horizon, season):
    """Two horizons, and at least two seasons."""
    return int(max(2 * horizon, 2 * season, 4))


def input_scale(x):
    """What ``RelativeWindow`` divides by, per window: the loss weight is its inverse with ``weights=level``."""
    return np.maximum(np.abs(x[..., 0]).mean(axis=1), 1e-6)


def split_panel(panel, horizon, window, quantiles, refit=False, weights="level"):
    """``Panel`` -> ``DataSplit`` with the competition's split, and the sample weights. ``refit``:
    the validation part trains too (for the epochs early stopping chose on it), leaving none.
    ``weights``: each window's loss over its mean absolute value ("level": relative errors, as
    sMAPE counts them) or over its series' in-sample seasonal naive error ("mase", as MASE does)."""
    lengths, horizons = panel.lengths(), panel.horizons(horizon)
    short = np.flatnonzero(lengths < horizons + MIN_SEEN)
    if len(short):
        k = int(short[0])
        raise UserError(f"{panel.source}: series {panel.ids[k]!r} has {lengths[k]} values; each series needs at least "
                        f"{horizons[k] + MIN_SEEN} (the horizon {horizons[k]} to test on and {MIN_SEEN} before it), "
                        f"or a shorter --horizon ({len(short)} series too short)")
    # A union of panels (horizons of their own, at most the network's): a training window's
    # targets may run past its part's end, as NaNs the loss skips; each part is cut from the
    # series up to its end, so nothing after it is seen.
    mixed = bool((horizons != horizon).any())
    ends = {"train": lengths - (1 if refit else 2) * horizons, "val": lengths - horizons, "test": lengths}
    parts = {"train": [], "val": [], "test": []}
    unvalidated = 0
    for n, h in zip(lengths, horizons):
        test_origin, val_origin = n - h, n - 2 * h
        train_end = test_origin if refit else val_origin
        origins = {"test": [test_origin], "val": [val_origin] if val_origin >= MIN_SEEN else [],
                   "train": list(range(MIN_SEEN, train_end - (1 if mixed else horizon) + 1))}
        unvalidated += not origins["val"]
        if refit:
            origins["val"] = []
        for name, chosen in origins.items():
            parts[name].append(chosen)
    cut = {name: SeriesWindows([v[:e] for v, e in zip(panel.values, ends[name])] if mixed else panel.values,
                               origins, window, horizon, open_end=mixed) for name, origins in parts.items()}
    if not len(cut["train"]):
        raise UserError(f"{panel.source}: no series is long enough to train on with horizon {horizon}: one needs at "
                        f"least {3 * horizon + MIN_SEEN} values (train, validation and test parts)")
    scales = None
    if weights == "mase":  # from each series' values before its validation part (test part, refitting)
        from zoo.models.forecaster.competition import mase_scales

        scales = mase_scales([v[:max(e, 2)] for v, e in zip(panel.values, ends["train"])], panel.seasons())
        levels = np.array([max(np.abs(v[:max(e, 2)]).mean(), 1e-6) for v, e in zip(panel.values, ends["train"])])
        scales = np.where(np.isfinite(scales), scales, levels)
    arrays = {name: _rows(windows_, lazy=name == "train" and len(windows_) > LAZY_WINDOWS, scales=scales)
              for name, windows_ in cut.items()}
    info = {
        "kind": "panel",
        "source": panel.source,
        "frequency": "any" if panel.groups else panel.frequency,
        "season": panel.season,
        "horizon": horizon,
        "window": window,
        "quantiles": quantiles,
        "n_features": 1,
        "series": len(panel.values),
        "length": {"min": int(lengths.min()), "median": float(np.median(lengths)), "max": int(lengths.max())},
        "padded": int((lengths - horizon < window).sum()),
        "unvalidated": unvalidated,
        "split": (f"per series, the last {horizon} values are the test part and the {horizon} before them validation"
                  if not mixed else f"per series, the last h values are the test part and the h before them "
                  f"validation, h its panel's official horizon ({horizons.min()} to {horizons.max()})")
                 + (" (early stopping, then trained on with the rest)" if refit else "")
                 + f"; {len(cut['train'])} training windows of {window} steps from {len(panel.values)} series",
        "refit": refit,
        "weights": weights,
    }
    if panel.groups:
        info["panels"] = {g: int(panel.groups.count(g)) for g in dict.fromkeys(panel.groups)}
    (x_train, y_train, w_train), (x_val, y_val, w_val), (x_test, y_test, _) = (arrays[k] for k in ("train", "val", "test"))
    histories = [values[:-h] for values, h in zip(panel.values, horizons)]
    groups = panel.groups or [panel.source] * len(panel.values)
    return DataSplit(x_train, y_train, x_val, y_val, x_test, y_test, info=info, w_train=w_train,
                     w_val=w_val if len(x_val) else None,
                     extra={"histories": histories, "ids": panel.ids, "groups": groups, "horizons": horizons,
                            "seasons": panel.seasons()})


def _rows(windows_, lazy, scales=None):
    """(inputs, targets, loss weights) of some windows: arrays, or ``LazyRows`` cut per batch.
    Weights: 1 / each window's scale, or 1 / its series' entry of ``scales``."""
    def weights(index):
        if scales is not None:
            return (1 / scales[windows_.series[index]]).astype("float32")
        return 1 / input_scale(windows_.inputs(index))

    if lazy:
        return (LazyRows(len(windows_), windows_.inputs, (windows_.window, 1)),
                LazyRows(len(windows_), windows_.targets, (windows_.horizon,)), LazyRows(len(windows_), weights, ()))
    every = np.arange(len(windows_))
    return windows_.inputs(every), windows_.targets(every), weights(every)


#: Ensemble members' look-back, as fractions of the window: the longest sees it all.
MEMBER_WINDOWS = (1.0, 0.75, 0.5, 0.375, 0.25)


def member_windows(window, members):
    return [max(2, int(round(window * fraction))) for fraction in MEMBER_WINDOWS[:members]]


def build(config, units, cell, dropout):
    """Raw windows (B, T, 1) -> quantile forecasts (B, H, Q, K) of K members, each an LSTM over
    the window's last ``member_windows`` steps with its own loss (``PinballLoss``)."""
    import keras

    window = keras.Input((None, 1), name="inputs")
    return keras.Model(window, network(window, config["data"], units, cell, dropout, config.get("layers", 1),
                                       config.get("members", 1)), name="forecaster")


def network(window, data, units, cell, dropout, layers=1, members=1):
    """The global network's layers on a raw window tensor (B, T, 1) -> (B, H, Q, K); its layer names
    are what a pretrained checkpoint's weights are copied by."""
    import keras

    from zoo.models.forecaster.layers import LastSteps, Members, QuantileForecast, RelativeWindow
    from zoo.layers import LSTM

    horizon, quantiles = data["horizon"], len(data["quantiles"])
    outputs = []
    for member, steps in enumerate(member_windows(data["window"], members)):
        suffix = "" if member == 0 else f"_m{member + 1}"
        seen = window if member == 0 else LastSteps(steps, name=f"last{suffix}")(window)
        x = RelativeWindow(name=f"relative{suffix}")(seen)
        for layer in range(layers):
            x = LSTM(units, cell=cell, dropout=dropout, return_sequences=layer < layers - 1,
                     name=f"lstm{suffix}" + ("" if layer == 0 else f"_{layer + 1}"))(x)
        x = keras.layers.Dense(horizon * quantiles, kernel_initializer="zeros", name=f"head{suffix}")(x)
        outputs.append(QuantileForecast(horizon, quantiles, name=f"forecast{suffix}")([seen, x]))
    return Members(name="members")(outputs)


def select_epochs(recipe, config, split, seed=0):
    """Train on the training part with early stopping on validation -> config updates: train the
    final model on training and validation windows for the best number of epochs (``refit``)."""

    import keras

    from zoo.training import EpochNotes, fit_split

    keras.utils.set_random_seed(seed)
    model = recipe.build(config)
    recipe.compile(model, config)
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=config["patience"])
    history = fit_split(model, split, config, [stop, EpochNotes("choosing the epochs", config["epochs"])], verbose=0)
    losses = history.history["val_loss"]
    best = int(np.argmin(losses)) + 1
    summary = (f"early stopping on validation chose {best} epoch(s) (validation loss {losses[best - 1]:.4g}); "
               f"the final model trains that long on the training and validation windows")
    note(f"chosen: {summary}")
    keras.backend.clear_session()
    return {"epochs": best, "refitted": True,
            "selection": {"summary": summary, "val_loss": [float(v) for v in losses], "best_epoch": best}}


def ordered(quantile_forecasts):
    """(N, H, Q), or (N, H, Q, K) of K members -> (N, H, Q): the members' quantiles averaged (Vincentization)
    and sorted at every step, since a network's quantiles may cross."""
    forecasts = np.asarray(quantile_forecasts, "float64")
    if forecasts.ndim == 4:
        forecasts = forecasts.mean(axis=-1)
    return np.sort(forecasts, axis=-1)


def interval_columns(quantiles):
    """The quantile indexes of the point forecast and of the central 80% interval, if present."""
    point = quantiles.index(0.5)
    lower = next((k for k, q in enumerate(quantiles) if abs(q - 0.1) < 1e-9), None)
    upper = next((k for k, q in enumerate(quantiles) if abs(q - 0.9) < 1e-9), None)
    return point, lower, upper


def evaluate(predicted, split, data, baselines="all"):
    """Test metrics of the network's forecasts beside statsforecast's on the same histories; a
    union of panels is scored per panel (its own horizon and season) too (``by_panel``)."""
    from zoo.models.forecaster.competition import BASELINES, scores, statsforecast_baselines, summarize

    predicted = ordered(predicted)
    point, lower, upper = interval_columns(data["quantiles"])
    panels = _panels(split, data)
    ours = {}
    for name, (rows, horizon, season, histories) in panels.items():
        part = predicted[rows, :horizon]
        bounds = (part[..., lower], part[..., upper]) if lower is not None and upper is not None else (None, None)
        ours[name] = scores(split.y_test[rows, :horizon], part[..., point], histories, season, *bounds)[1]
    if "baselines" not in split.extra:  # once per split: an export scores every format on it
        names = BASELINES if baselines == "all" else ("naive", "seasonal_naive")
        fitted = {name: {} for name in names}
        for panel, (rows, horizon, season, histories) in panels.items():
            for name, (forecast, low, high, seconds) in statsforecast_baselines(histories, horizon, season,
                                                                                names=names).items():
                per_series = scores(split.y_test[rows, :horizon], forecast, histories, season, low, high)[1]
                fitted[name][panel] = (per_series, seconds)
        split.extra["baselines"] = {name: {**summarize(*(p for p, _ in by.values())),
                                           "seconds": round(sum(t for _, t in by.values()), 1)}
                                    for name, by in fitted.items()}
        split.extra["baselines_by_panel"] = {panel: {name: summarize(by[panel][0]) for name, by in fitted.items()}
                                             for panel in panels}
    metrics = {"test": summarize(*ours.values()), "baselines": split.extra["baselines"]}
    if len(panels) > 1:
        metrics["by_panel"] = {panel: {"zoo": summarize(ours[panel]), **split.extra["baselines_by_panel"][panel]}
                               for panel in panels}
    return metrics


def _panels(split, data):
    """{panel name: (test rows, its horizon, its season, its series' histories)}: one entry for a
    panel of one frequency, one per part of a union."""
    extra, count = split.extra, len(split.y_test)
    groups = np.asarray(extra.get("groups") or [data["source"]] * count)
    horizons = np.asarray(extra.get("horizons", np.full(count, data["horizon"])))
    seasons = np.asarray(extra.get("seasons", np.full(count, data["season"])))
    panels = {}
    for name in dict.fromkeys(groups.tolist()):
        rows = np.flatnonzero(groups == name)
        panels[name] = (rows, int(horizons[rows[0]]), int(seasons[rows[0]]), [extra["histories"][k] for k in rows])
    return panels


def forecast(run, panel, data, horizon=None):
    """Forecasts after the last value of every series of ``panel`` with any runner (Keras, ONNX,
    TFLite) -> ``forecast_columns``; ``horizon``: fewer steps than the model's."""
    window, trained = data["window"], data["horizon"]
    horizon = trained if horizon is None else int(horizon)
    if not 1 <= horizon <= trained:
        raise UserError(f"this forecaster forecasts 1 to {trained} steps ahead, not {horizon}")
    lengths = panel.lengths()
    if (lengths < MIN_SEEN).any():
        k = int(np.flatnonzero(lengths < MIN_SEEN)[0])
        raise UserError(f"{panel.source}: series {panel.ids[k]!r} has {lengths[k]} value; forecasting needs at least "
                        f"{MIN_SEEN}")
    last = SeriesWindows(panel.values, [[len(values)] for values in panel.values], window, 0)
    x = last.inputs(np.arange(len(last)))
    outputs = np.concatenate([np.asarray(run(x[k:k + 1024])) for k in range(0, len(x), 1024)])
    quantiles = ordered(outputs)[:, :horizon]
    return forecast_columns(panel, panel.future_times(horizon), quantiles, data["quantiles"])


def forecast_columns(panel, times, forecasts, quantiles):
    """Long-format columns ``unique_id, ds, y_hat`` and, per other quantile, ``lo-80``/``hi-80``
    for the central 80% interval or ``q-0.05``-style names (statsforecast's layout):
    ``{name: list or array}``, what ``--output`` writes and ``pandas.DataFrame`` takes."""
    point, lower, upper = interval_columns(quantiles)
    names = {point: "y_hat"}
    if lower is not None and upper is not None:
        names.update({lower: "lo-80", upper: "hi-80"})
    for k, q in enumerate(quantiles):
        names.setdefault(k, f"q-{q:g}")
    horizon = forecasts.shape[1]
    columns = {"unique_id": [series for series in panel.ids for _ in range(horizon)],
               "ds": [stamp for row in times for stamp in row]}
    for k in sorted(names, key=lambda k: quantiles[k]):
        columns[names[k]] = forecasts[..., k].reshape(-1)
    return columns
