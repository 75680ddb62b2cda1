"""forecaster: forecasting a series' next ``horizon`` values with one LSTM layer.

Inputs per time step: the target, any other columns (``--columns``) and, where the data has dates,
the sine and cosine of its calendar cycle (month of year for monthly data...). ``multi_step``:
``direct`` predicts all ``horizon`` values at once (a Dense head of that width), ``recursive``
trains one step ahead and feeds each forecast back in (target and calendar inputs only, since
other columns' future values are unknown).

The network forecasts the correction to a naive forecast (``base``: persistence or seasonal
naive) from a window made relative to its last value (``zoo.models.forecaster.layers``), so a trending
series never leaves the range the network was trained on. Which naive forecast to correct, whether
to show the network the absolute level too (``level``), or the older design of one global scale
(``base=global``) is chosen on the validation part (``select``); when a naive forecast beats
every candidate there, it is shipped as the forecast (the network's head stays at zero) and the
run says so. The scaling travels inside the network, so the checkpoint and every exported
artifact take raw values and return raw forecasts.

Given a panel (a long-format file with a ``unique_id`` column, or a bundled M-competition panel),
the recipe trains one global network over all its series instead, with quantile forecasts and
the competition's split (``zoo.models.forecaster.panel``).
"""

import time
from pathlib import Path

import numpy as np

from zoo.models.forecaster import panel as global_model
from zoo.models.forecaster import pretrained as _pretrained
from zoo.models.forecaster.baselines import all_baselines, mae, mase_scale, persistence, rmse, seasonal_naive, window_drift
from zoo.errors import UserError
from zoo.files import save_figure
from zoo.progress import note
from zoo import options as O
from zoo.recipe import DataSplit, Recipe
from zoo.registry import register_model

BASES = ("persistence", "drift", "seasonal", "global", "pretrained")
#: Most training and validation windows a series gives (evenly spaced): a series of millions of
#: steps trains in minutes, and its windows fit in memory.
MAX_TRAIN_WINDOWS = 2_000
MAX_VAL_WINDOWS = 1_000
#: The forecast figure shows at most this many test steps (the last ones).
PLOTTED_STEPS = 2_000
#: Fewest training windows a split may leave; windows shrink to keep this many on short series.
MIN_TRAIN_WINDOWS = 6
#: The window length when nothing asks for another (at least one season plus a step).
DEFAULT_WINDOW = 24


@register_model
class Forecaster(Recipe):
    name = "forecaster"
    task = "forecasting"
    dataset = "sunspots (statsmodels, yearly 1700-2008), any CSV, or a panel (M1, M3 or a long-format file)"
    description = ("forecast of the next value(s) of a series, with optional covariates and calendar features (last 20% "
                   "held out); or of every series of a panel, with quantiles (the last horizon of each held out)")
    compile_metrics = ("mae",)
    metric = "rmse"
    metric_goal = "min"
    quantized_budget = 0.02
    # A trending series reaches new highs after its training part. Chosen on the validation split
    # of the released model: int8 RMSE 11.94 at 1.5, 12.10 at 1 and 1.25, 12.15 at 2 (float 12.06).
    calibration_headroom = 1.5
    deployment_keys = ("source", "column", "features", "horizon", "multi_step", "mean", "std", "season",
                       "kind", "window", "quantiles", "frequency", "id_column", "time_column")
    plots = ("forecast.png",)
    baseline_settings = ("season",)
    options = (
        O.data_option("A CSV with a numeric column (and optional dates), or a bundled series: sunspots, nile, co2, "
                      "elnino, macrodata, airline, lynx, shampoo, uschange, pbs, m1-yearly:T1..T181; or a panel: a "
                      "long-format CSV/Parquet (unique_id, ds, y) or m3-yearly, m3-quarterly, m3-monthly, m3-other, "
                      "m1-yearly, m1-quarterly, m1-monthly, or m1+m3 (all seven, one model for every frequency)."),
        O.Option("column", None, "Column of the CSV to forecast (default: the last numeric one; y in a panel).",
                 kind=str, data=True),
        O.Option("id_column", "unique_id", "A panel's series id column: a file with it is read as a panel.", kind=str,
                 data=True),
        O.Option("time_column", "ds", "A panel's time column (integers or ISO dates).", kind=str, data=True),
        O.Option("freq", None, "A panel's frequency when its dates do not tell: Y, Q, M, W, D, h or int.", kind=str,
                 data=True),
        O.Option("columns", None, "Other columns to feed as inputs, comma-separated.", kind=str, data=True),
        O.Option("season", None, "Season length (default: inferred from dates or the autocorrelation).", kind=int,
                 low=1, data=True),
        O.cell(),
        O.units(32),
        O.Option("window", "auto", "Input length in time steps; auto: 24 (36, the pretrained network's, when it is "
                 "compared), or one season and a step if longer, shrunk to fit short series.", kind=int, low=2,
                 words=("auto",)),
        O.Option("base", "auto", "The naive forecast the network corrects; auto: persistence, drift and seasonal "
                 "compared on validation, and the released global forecaster (pretrained: as released or "
                 "fine-tuned).", choices=("auto", *BASES)),
        O.Option("pretrained", True, "Single series: also compare the released global forecaster (forecaster.m1m3) "
                 "on validation, as released and fine-tuned."),
        O.Option("level", "auto", "Also feed the standardized level; auto: chosen on validation.", kind=bool,
                 words=("auto",)),
        O.epochs(200),
        O.batch_size(32),
        O.learning_rate(3e-3),
        O.patience(30),
        O.dropout(0.0),
        O.fraction("test_fraction", 0.2, "Last part of the series held out for the test."),
        O.fraction("val_fraction", 0.15, "Part before the test used for validation."),
        O.Option("horizon", "auto", "Steps to forecast; auto: 1 for a series, and for a panel its frequency's "
                 "(the M4 competition's: yearly 6, quarterly 8, monthly 18, weekly 13, daily 14, hourly 48; else 8).",
                 kind=int, low=1, words=("auto",)),
        O.Option("multi_step", "direct", "direct: all horizon steps at once; recursive: one step, fed back.",
                 choices=("direct", "recursive")),
        O.Option("calendar", True, "Add calendar features where the data has dates."),
        O.Option("quantiles", global_model.DEFAULT_QUANTILES, "Panels: the quantiles forecast (0.5 among them), "
                 "trained with the pinball loss; 0.1 and 0.9 give the 80% interval.", kind=str),
        O.Option("layers", 1, "Panels: stacked LSTM layers.", low=1, high=4),
        O.Option("refit", True, "Panels: after early stopping on validation chose the epochs, train the final "
                 "model that long on the training and validation windows (the most recent values)."),
        O.Option("weights", "mase", "Panels: each window's loss divided by its mean absolute value (level: "
                 "relative errors, as sMAPE) or by its series' in-sample seasonal naive error (mase).",
                 choices=("level", "mase")),
        O.Option("baselines", "all", "Panels: statsforecast baselines fitted in the run: all (AutoETS, AutoTheta, "
                 "SeasonalNaive, Naive) or naive (the last two: seconds even for 100,000 series).",
                 choices=("all", "naive")),
        O.Option("members", 1, "Panels: ensemble members in the one network, each an LSTM over a shorter part of the "
                 "window with its own loss; the forecast is their mean.", low=1, high=len(global_model.MEMBER_WINDOWS)),
    )
    data_licence = (
        "Yearly sunspot numbers 1700-2008 (SIDC/NOAA), public domain; shipped in statsmodels (BSD-3)"
    )

    def presets_for(self, data_options):
        """Panels: the competition's horizon for a bundled one, and settings for many windows."""
        from zoo.models.forecaster.panel_data import BUNDLED, ID, UNIONS, bundled_horizon, is_panel

        data = data_options.get("data")
        if data is None or not is_panel(data, data_options.get("id_column") or ID):
            return {}
        presets = {"units": 64, "batch_size": 256, "epochs": 60, "patience": 8, "learning_rate": 2e-3, "members": 3}
        return {**presets, "horizon": bundled_horizon(data)} if data in BUNDLED or data in UNIONS else presets

    # -- data --------------------------------------------------------------------------------
    def load_data(self, config, data=None, column=None, season=None, columns=None, id_column=None,
                  time_column=None, freq=None):
        from zoo.models.forecaster.panel_data import ID, TARGET, TIME, is_panel, load_panel

        if data is not None and is_panel(data, id_column or ID):
            if columns or season:
                raise UserError("--columns and --season are for single series; a panel takes its season from "
                                "its frequency")
            panel = load_panel(data, id_column or ID, time_column or TIME, column or TARGET, freq)
            horizon = panel.default_horizon() if config["horizon"] == "auto" else int(config["horizon"])
            window = global_model.auto_window(horizon, panel.season) if config["window"] == "auto" \
                else int(config["window"])
            split = global_model.split_panel(panel, horizon, window, global_model.parse_quantiles(config["quantiles"]),
                                             refit=bool(config.get("refitted")), weights=config["weights"])
            split.info.update(id_column=id_column or ID, time_column=time_column or TIME, column=column or TARGET)
            return split
        if id_column or time_column or freq:
            raise UserError("--id-column, --time-column and --freq are for panels: a long-format file with an id column")
        horizon = 1 if config.get("horizon", 1) == "auto" else int(config.get("horizon", 1))  # checked options
        multi_step = config.get("multi_step", "direct")
        from zoo.data.series import infer_season, load_series  # pandas, only to read data

        names = [c.strip() for c in columns.split(",") if c.strip()] if isinstance(columns, str) else list(columns or ())
        series = load_series(data or "sunspots", column, names)
        if multi_step == "recursive" and series.covariates is not None:
            raise UserError("recursive forecasting feeds back the target only; drop --columns or use multi_step=direct")
        values = series.values
        matrix, feature_names = feature_matrix(series, config.get("calendar", True))
        n = len(values)
        test_start = int(round(n * (1 - config["test_fraction"])))
        val_start = int(round(test_start * (1 - config["val_fraction"])))
        if season is None:
            season, season_source = infer_season(values[:test_start], series.frequency)
        else:
            if season < 1 or season >= test_start:
                raise UserError(f"--season must be between 1 and {test_start - 1}, got {season}")
            season_source = "option"
        steps = 1 if multi_step == "recursive" else horizon  # what the network is trained to output
        # the released global forecaster reads windows of its own length: the default grows to it
        pretrained = _pretrained.settings(steps) if _wants_pretrained(config) else None
        window = self._window(config["window"], season, val_start - horizon - MIN_TRAIN_WINDOWS,
                              pretrained["window"] if pretrained else DEFAULT_WINDOW)
        # Each split needs a few windows to mean anything.
        if val_start - window - horizon < MIN_TRAIN_WINDOWS - 1 or test_start - val_start < steps + 1 \
                or n - test_start < horizon + 1:
            need = int(np.ceil((window + horizon + MIN_TRAIN_WINDOWS) /
                               ((1 - config["test_fraction"]) * (1 - config["val_fraction"]))))
            raise UserError(
                f"{series.source}: {n} values is too short for window {window} and horizon {horizon}; "
                f"need at least {need} (or a smaller --window)"
            )
        train = matrix[:val_start]
        mean, std = train.mean(axis=0), train.std(axis=0)
        if std[0] == 0.0:
            raise UserError(f"{series.source}: the training part of {series.name!r} is constant")
        std[std == 0.0] = 1.0

        inputs = np.lib.stride_tricks.sliding_window_view(matrix.astype("float32"), window, axis=0)  # views, no copy

        def windows(first, last, ahead, limit=None):
            """Windows ending before t, for every t in [first, last) with ``ahead`` values after;
            at most ``limit`` of them, evenly spaced back from the last."""
            targets = np.arange(max(first, window), last - ahead + 1)
            if limit and len(targets) > limit:
                targets = targets[::-1][:: int(np.ceil(len(targets) / limit))][::-1]
            x = np.ascontiguousarray(np.moveaxis(inputs[targets - window], -1, 1))
            y = np.lib.stride_tricks.sliding_window_view(values, ahead)[targets].astype("float32")
            return x, y, targets

        x_train, y_train, train_targets = windows(0, val_start, steps, MAX_TRAIN_WINDOWS)
        x_val, y_val, val_targets = windows(val_start, test_start, steps, MAX_VAL_WINDOWS)
        x_test, y_test, test_targets = windows(test_start, n, horizon)
        differences = np.diff(values[:val_start])
        info = {
            "window": window,
            # distances from the last value are measured in typical one-step changes
            "input_scale": _positive(np.std(differences), std[0]),
            # the network's correction to each naive forecast, in that forecast's typical error
            "output_scale": {
                "persistence": _positive(np.std(y_train - persistence(values, train_targets, steps)), std[0]),
                "seasonal": _positive(np.std(y_train - seasonal_naive(values, train_targets, steps, season)), std[0])
                if window >= season else None,
                "drift": _positive(np.std(y_train - window_drift(values, train_targets, steps, window)), std[0]),
            },
            "source": series.source,
            "column": series.name,
            "features": feature_names,
            "frequency": series.frequency,
            "length": n,
            "val_start": val_start,
            "test_start": test_start,
            "mean": mean.tolist(),
            "std": std.tolist(),
            "season": int(season),
            "season_source": season_source,
            "n_features": len(feature_names),
            "horizon": horizon,
            "multi_step": multi_step,
            "split": f"chronological: {val_start} values train, {test_start - val_start} validation, the last "
                     f"{n - test_start} test; windows of {window} steps forecast {horizon} step(s) ahead"
                     + (f"; {len(train_targets):,} training and {len(val_targets):,} validation windows, evenly spaced "
                        "(a long series is not read whole every epoch)"
                        if len(train_targets) >= MAX_TRAIN_WINDOWS or len(val_targets) >= MAX_VAL_WINDOWS else ""),
        }
        return DataSplit(
            x_train, y_train, x_val, y_val, x_test, y_test, info=info,
            extra={"values": values, "test_targets": test_targets, "val_targets": val_targets, "matrix": matrix},
        )

    # -- network -----------------------------------------------------------------------------
    # -- choosing on validation ------------------------------------------------------------
    def candidates(self, config, data):
        """(base, level) pairs to compare: every base and level that the options leave open. The
        global design is compared only when asked for: on a trending series its validation part
        can look fine while the test part lies beyond every value it was trained on."""
        bases = ("persistence", "drift", "seasonal") if config.get("base", "auto") == "auto" else (config["base"],)
        bases = [b for b in bases if b != "pretrained"]  # compared apart: it is not trained from scratch
        seasonal_fits = data["season"] > 1 and data["output_scale"].get("seasonal") is not None
        bases = [b for b in bases if b != "seasonal" or seasonal_fits]
        levels = (False, True) if config.get("level", "auto") == "auto" else (_boolean(config["level"], "level"),)
        return [(b, False if b == "global" else level) for b in bases for level in levels
                if not (b == "global" and level)]

    def select(self, config, split, data_options, seed=0):
        if _is_panel(config):
            return global_model.select_epochs(self, config, split, seed) if config.get("refit") else {}
        return self.compare(config, split, seed)[0]

    def select_changes_data(self, choice):
        return bool(choice.get("refitted"))

    def compare(self, config, split, seed=0):
        """Train each candidate on the training part, score it on validation, and ship the simplest
        one within one standard error of the best (``simplest_within_one_se``): a naive forecast
        (with ``base=auto``: a base the user fixed is trained as asked), then the pretrained network
        as released, then the networks fitted to the series.
        -> (config updates, the chosen model as trained)."""

        import keras

        from zoo.training import fit_split

        data = config["data"]
        candidates = self.candidates(config, data)
        steps = split.y_val.shape[1]
        pretrained = _pretrained.settings(steps) if _wants_pretrained(config) else None
        if config.get("base") == "pretrained" and pretrained is None:
            raise UserError(f"base=pretrained needs the released {_pretrained.PRESET} forecasting at least {steps} "
                            "step(s)")
        if not candidates and pretrained is None:
            raise UserError(f"base=seasonal needs a season above 1 and a window of at least one season "
                            f"(season {data['season']}, window {data['window']})")
        values, horizon = split.extra["values"], split.y_val.shape[1]
        origins = split.extra["val_targets"]
        naive_forecasts = {"persistence": persistence(values, origins, horizon),
                           "drift": window_drift(values, origins, horizon, data["window"]),
                           "seasonal": seasonal_naive(values, origins, horizon, data["season"])}
        if data["season"] == 1 or data["output_scale"].get("seasonal") is None:
            naive_forecasts.pop("seasonal")  # shipped naive forecasts are computed inside the network, from its window
        naive = {name: rmse(split.y_val, forecast) for name, forecast in naive_forecasts.items()}
        scored, models, errors = [], [], []
        started, trials = time.perf_counter(), len(candidates) + (2 if pretrained is not None else 0)
        for number, (base, level) in enumerate(candidates, 1):
            trial = {**config, "base": base, "level": level}
            keras.utils.set_random_seed(seed)
            model = self.build(trial)
            self.compile(model, config)  # the same optimizer, loss and XLA choice as the final training
            stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=config["patience"],
                                                 restore_best_weights=True)
            history = fit_split(model, split, config, [stop], verbose=0)  # the final training's loop
            forecast = model.predict(split.x_val, batch_size=256, verbose=0)
            score = rmse(split.y_val, forecast)
            scored.append({"base": base, "level": level, "val_rmse": score, "epochs": len(history.history["loss"])})
            models.append(model)
            errors.append(_squared_errors(split.y_val, forecast))
            left = (time.perf_counter() - started) / number * (trials - number)
            note(f"choosing on validation: base={base} level={str(level).lower()}: RMSE {score:.4g} "
                 f"({number}/{trials}, about {left / 60:.1f} min left)")
        if pretrained is not None:
            for entry, model, forecast in self._compare_pretrained(config, split, pretrained, seed):
                scored.append(entry)
                models.append(model)
                errors.append(_squared_errors(split.y_val, forecast))
        # Naive forecasts compete only with base=auto (a base the user fixed is trained as asked).
        shipped_naive = list(naive) if config.get("base", "auto") == "auto" else []
        ranks = [0] * len(shipped_naive) + [1 if e["base"] == "pretrained" and not e["fine_tuned"] else 2 for e in scored]
        pool = [_squared_errors(split.y_val, naive_forecasts[name]) for name in shipped_naive] + errors
        chosen = simplest_within_one_se(pool, ranks, rounding=(1e-6 * data["std"][0]) ** 2)
        ship_naive = chosen < len(shipped_naive)
        best = None if ship_naive else scored[chosen - len(shipped_naive)]
        naive_name = shipped_naive[chosen] if ship_naive else None
        choice = {"base": naive_name, "level": False, "network": False} if ship_naive \
            else {"base": best["base"], "level": best["level"], "network": True}
        if not ship_naive and best["base"] == "pretrained":
            tuned = best["fine_tuned"]
            choice.update(network=tuned, pretrained_network=pretrained,
                          **({"learning_rate": config["learning_rate"] * _pretrained.FINE_TUNE_RATE} if tuned else {}))
        lowest = min(scored, key=lambda e: e["val_rmse"])
        summary = (f"{ {'seasonal': 'seasonal naive'}.get(naive_name, naive_name)} forecast shipped (validation RMSE "
                   f"{naive[naive_name]:.4g}; the best network {lowest['val_rmse']:.4g})" if ship_naive else
                   (f"{_pretrained.PRESET} " + ("fine-tuned" if best["fine_tuned"] else "as released")
                    if best["base"] == "pretrained" else f"base={best['base']}, level={str(best['level']).lower()}")
                   + f" (validation RMSE {best['val_rmse']:.4g}; naive: "
                   + ", ".join(f"{name} {value:.4g}" for name, value in naive.items()) + ")")
        note(f"chosen: {summary}")
        choice = {**choice, "selection": {"candidates": scored, "naive_val_rmse": naive, "summary": summary,
                                          "rule": "the simplest candidate within one standard error of the best"}}
        return choice, (self.build({**config, **choice}) if ship_naive else models[chosen - len(shipped_naive)])

    def _compare_pretrained(self, config, split, pretrained, seed):
        """The released global forecaster on validation, as released and fine-tuned -> [(entry, model, forecasts)]."""

        import keras

        from zoo.training import fit_split

        steps, features = split.y_val.shape[1], split.x_val.shape[-1]
        results = []
        for tuned in (False, True):
            keras.utils.set_random_seed(seed)
            model = _pretrained.build(pretrained, steps, features)
            epochs = 0
            if tuned:
                self.compile(model, {**config, "learning_rate": config["learning_rate"] * _pretrained.FINE_TUNE_RATE})
                stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=config["patience"],
                                                     restore_best_weights=True)
                history = fit_split(model, split, config, [stop], verbose=0)
                epochs = len(history.history["loss"])
            forecast = model.predict(split.x_val, batch_size=256, verbose=0)
            score = rmse(split.y_val, forecast)
            results.append(({"base": "pretrained", "level": False, "fine_tuned": tuned, "val_rmse": score,
                             "epochs": epochs}, model, forecast))
            note(f"choosing on validation: {_pretrained.PRESET} {'fine-tuned' if tuned else 'as released'}: "
                 f"RMSE {score:.4g}")
        return results

    def read_input_file(self, path, contract, data):
        """A history CSV as training read it (its column, covariates and calendar features from its
        dates), forecast from its last window; a file of windows or a .npy as any model's."""
        from zoo.data.arrays import read_file

        if data.get("kind") == "panel" or Path(path).suffix != ".csv" or not data.get("column"):
            return read_file(path, contract, data)
        from zoo.data.series import first_line, read_csv_frame, read_csv_series

        frame = read_csv_frame(path)
        if first_line(frame) == 1 or data["column"] not in frame.columns:  # no header, or not the training column
            if len(data.get("features", ())) > 1:
                raise UserError(f"{path}: this forecaster reads {', '.join(data['features'])} (from a CSV with "
                                f"column {data['column']!r}{' and dates' if _has_calendar(data) else ''}); "
                                f"{path} has no column {data['column']!r}")
            return read_file(path, contract, data)
        covariates = [n for n in data.get("features", ())[1:] if not n.endswith(("_sin", "_cos"))]
        series = read_csv_series(path, data["column"], covariates)
        matrix, names = feature_matrix(series, _has_calendar(data))
        if list(names) != list(data.get("features", names)):
            raise UserError(f"{path} gives the features {', '.join(names)}; this forecaster reads "
                            f"{', '.join(data['features'])}" + (" (its calendar features come from a date column)"
                                                                 if _has_calendar(data) else ""))
        window = contract.time_steps or len(matrix)
        if len(matrix) < window:
            raise UserError(f"{path} holds {len(matrix)} rows; this forecaster reads the last {window}")
        return contract.check(matrix[-window:], str(path))

    def trains(self, config):
        return bool(config.get("network", True))

    def metric_for(self, config):
        return ("smape", "min") if _is_panel(config) else super().metric_for(config)

    def objective(self, config):
        if _is_panel(config):
            from zoo.models.forecaster.layers import PinballLoss

            return PinballLoss(config["data"]["quantiles"]), []
        return super().objective(config)

    def why_not_trained(self, config):
        return config.get("selection", {}).get("summary", "a naive forecast is shipped")

    # -- network -----------------------------------------------------------------------------
    def register_layers(self):
        from zoo.models.forecaster import layers  # noqa: F401  (registers them with Keras)

    def build(self, config):
        import keras

        from zoo.layers import LSTM, Standardize

        data = config.get("data", {})
        if _is_panel(config):
            return global_model.build(config, config["units"], config["cell"], config["dropout"])
        base = config.get("base", "global")  # checkpoints from before ``base`` are global
        if base == "auto":
            base = "persistence"
        if base == "pretrained":
            steps = 1 if data.get("multi_step", "direct") == "recursive" else data.get("horizon", 1)
            return _pretrained.build(config["pretrained_network"], steps, data.get("n_features", 1))
        if base != "global":
            return self._build_residual(config, data, base)
        features = data.get("n_features", 1)
        mean = np.atleast_1d(np.asarray(data.get("mean", 0.0), "float64"))
        std = np.atleast_1d(np.asarray(data.get("std", 1.0), "float64"))
        if len(mean) != features:  # released before covariates: one scalar per statistic
            mean, std = np.resize(mean, features), np.resize(std, features)
        outputs_per_window = 1 if data.get("multi_step", "direct") == "recursive" else data.get("horizon", 1)
        inputs = keras.Input((None, features), name="inputs")
        x = Standardize(mean, std, name="scale")(inputs)
        x = LSTM(config["units"], cell=config["cell"], dropout=config["dropout"], name="lstm")(x)
        x = keras.layers.Dense(outputs_per_window, name="head")(x)
        outputs = Standardize(mean[0], std[0], invert=True, name="unscale")(x)
        return keras.Model(inputs, outputs, name=self.name)

    def _build_residual(self, config, data, base):
        """Naive forecast + scale x LSTM correction; the head starts at zero (= the naive forecast)."""
        import keras

        from zoo.models.forecaster.layers import NaiveForecast, ScaledResidual, WindowFeatures
        from zoo.layers import LSTM

        features = data.get("n_features", 1)
        season = data.get("season", 1) if base == "seasonal" else 1
        outputs_per_window = 1 if data.get("multi_step", "direct") == "recursive" else data.get("horizon", 1)
        output_scale = (data.get("output_scale") or {}).get(base) or 1.0
        level = config.get("level", False)
        level = False if level == "auto" else _boolean(level, "level")
        inputs = keras.Input((None, features), name="inputs")
        naive = NaiveForecast(outputs_per_window, season, drift=base == "drift", name="naive")(inputs)
        x = WindowFeatures(data.get("mean", [0.0] * features), data.get("std", [1.0] * features),
                           scale=data.get("input_scale", 1.0), level=level, name="features")(inputs)
        x = LSTM(config["units"], cell=config["cell"], dropout=config["dropout"], name="lstm")(x)
        x = keras.layers.Dense(outputs_per_window, kernel_initializer="zeros", name="head")(x)
        outputs = ScaledResidual(output_scale, name="forecast")([naive, x])
        return keras.Model(inputs, outputs, name=self.name)

    @staticmethod
    def _window(option, season, longest, default=DEFAULT_WINDOW):
        """``window=auto``: ``default`` steps (24, or the pretrained network's 36 when it is compared),
        or a season and a step when longer, but no longer than ``longest`` (what leaves enough
        training windows on a short series)."""
        if option != "auto":
            return int(option)  # an int >= 2: the option's own check
        return max(2, min(max(default, season + 1), longest))

    # -- judging -----------------------------------------------------------------------------
    def predict(self, model, x, split=None, config=None):
        """Forecasts (N, horizon) in raw units; recursive models roll forward one step at a time."""
        direct = np.asarray(model.predict(x, batch_size=256, verbose=0))
        data = (config or {}).get("data", {})
        if data.get("kind") == "panel":
            return direct
        horizon = data.get("horizon", 1)
        if data.get("multi_step", "direct") != "recursive" or horizon == 1:
            return direct
        matrix, targets = split.extra["matrix"], split.extra["test_targets"]
        forecasts, rolled = [direct[:, 0]], x.copy()
        for step in range(1, horizon):
            # shift by one step: the new last row has the forecast as target and the true calendar
            following = matrix[targets + step - 1].astype("float32")
            following[:, 0] = forecasts[-1]
            rolled = np.concatenate([rolled[:, 1:], following[:, None]], axis=1)
            forecasts.append(np.asarray(model.predict(rolled, batch_size=256, verbose=0))[:, 0])
        return np.stack(forecasts, axis=1)

    def evaluate(self, model, split, config):
        if _is_panel(config):
            return global_model.evaluate(np.asarray(model.predict(split.x_test, batch_size=256, verbose=0)), split,
                                         config["data"], config.get("baselines", "all"))
        values, targets = split.extra["values"], split.extra["test_targets"]
        data = config["data"]
        season, horizon = data["season"], data.get("horizon", 1)
        actual = split.y_test
        predicted = self.predict(model, split.x_test, split, config)
        scale = mase_scale(values[:data["test_start"]], season)
        test = {"rmse": rmse(actual, predicted), "mae": mae(actual, predicted),
                "mase": mae(actual, predicted) / scale if np.isfinite(scale) else None}
        if horizon > 1:
            test["rmse_by_step"] = [rmse(actual[:, h], predicted[:, h]) for h in range(horizon)]
        cached = split.extra.get("baselines")
        if cached is None:
            cached = split.extra["baselines"] = all_baselines(values, targets, actual, horizon, season, data["test_start"])
        return {"test": test, "baselines": cached}

    def plot(self, model, split, config, out_dir):
        if _is_panel(config):
            return
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        values, targets = split.extra["values"], split.extra["test_targets"]
        shown = slice(-PLOTTED_STEPS, None)  # a long test part: its end, which a figure can show
        targets = targets[shown]
        predicted = self.predict(model, split.x_test[shown], split, config)[:, 0]
        figure, axis = plt.subplots(figsize=(9, 4))
        axis.plot(targets, values[targets], label="actual", color="black")
        axis.plot(targets, predicted, label=f"{self.name} ({config['cell']}), 1 step ahead", color="tab:blue")
        axis.plot(targets, values[targets - 1], label="persistence", color="tab:gray", ls=":")
        axis.set_title(f"{config['data']['source']} [{config['data']['column']}]: test split"
                       + (f", its last {PLOTTED_STEPS:,} steps" if len(split.extra["test_targets"]) > PLOTTED_STEPS else ""))
        axis.set_xlabel("time step")
        axis.legend()
        figure.tight_layout()
        save_figure(figure, out_dir / "forecast.png", dpi=100)
        plt.close(figure)


def simplest_within_one_se(errors, ranks, rounding=0.0):
    """The candidate to ship, from each one's squared validation errors (the same points for all)
    and its complexity rank (naive 0, the pretrained network as released 1, a network fitted to
    the series 2): the simplest one whose errors exceed the best's by less than one standard
    error of their paired difference, the lowest among those (the one-standard-error rule,
    Hastie, Tibshirani & Friedman 2009, 7.10). A validation part of a short series holds a
    dozen points: a fitted network that wins there by less than its noise is a lucky draw.
    ``rounding``: a mean squared difference below it is float32 rounding, not a difference."""
    means = [float(np.mean(e)) for e in errors]
    best = int(np.argmin(means))
    for rank in sorted(set(ranks)):
        close = [k for k in range(len(errors))
                 if ranks[k] == rank and _within_one_se(errors[k], errors[best], rounding)]
        if close:
            return min(close, key=lambda k: means[k])
    return best


def _within_one_se(errors, best, rounding=0.0):
    difference = np.asarray(errors, "float64") - np.asarray(best, "float64")
    spread = difference.std(ddof=1) / np.sqrt(len(difference)) if len(difference) > 1 else 0.0
    return bool(difference.mean() <= spread + rounding)


def _squared_errors(actual, forecast):
    return ((np.asarray(forecast, "float64").reshape(np.shape(actual)) - np.asarray(actual, "float64")) ** 2).ravel()


def feature_matrix(series, calendar=True):
    """A series -> (its input features as a (n, k) array, their names): the target, the covariates,
    then sine and cosine of the calendar position where the dates give one. Training and predict
    both build their windows from this."""
    from zoo.data.series import calendar_features

    features, names = [series.values[:, None]], [series.name]
    if series.covariates is not None:
        features.append(series.covariates)
        names += series.covariate_names
    calendar_names, values = calendar_features(series.dates, series.frequency) if calendar else ((), None)
    if values is not None:
        features.append(values)
        names += calendar_names
    return np.concatenate(features, axis=1), names


def _has_calendar(data):
    return any(str(name).endswith(("_sin", "_cos")) for name in data.get("features", ()))


def _wants_pretrained(config):
    """Whether the single-series recipe compares the released global forecaster."""
    base = config.get("base", "auto")
    return base == "pretrained" or (base == "auto" and _boolean(config.get("pretrained", True), "pretrained"))


def _is_panel(config):
    return (config or {}).get("data", {}).get("kind") == "panel"


def _positive(value, fallback):
    """A scale: ``value`` unless it is zero or not finite (a constant stretch), else ``fallback``."""
    value = float(value)
    return value if np.isfinite(value) and value > 0 else float(fallback)


def _boolean(value, name):
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "1", "yes"):
        return True
    if str(value).lower() in ("false", "0", "no"):
        return False
    raise UserError(f"{name} is true, false or auto, got {value!r}")
