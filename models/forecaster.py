"""forecaster: forecasting a series' next ``horizon`` values with one LSTM layer.

Inputs per time step: the target, any other columns (``--columns``) and, where the data has dates,
the sine and cosine of its calendar cycle (month of year for monthly data...). ``multi_step``:
``direct`` predicts all ``horizon`` values at once (a Dense head of that width), ``recursive``
trains one step ahead and feeds each forecast back in (target and calendar inputs only, since
other columns' future values are unknown).

The scaler travels inside the network (``Standardize`` in front, its inverse behind), so
the checkpoint and every exported artifact take raw values and return raw forecasts: a deployment
needs no side file to rescale.
"""

from pathlib import Path

import numpy as np

from zoo.data.series import calendar_features, infer_season, load_series
from zoo.errors import UserError
from zoo.recipe import DataSplit, Recipe
from zoo.registry import register_model


def rmse(y, p):
    return float(np.sqrt(np.mean((np.asarray(y) - np.asarray(p)) ** 2)))


def mae(y, p):
    return float(np.mean(np.abs(np.asarray(y) - np.asarray(p))))


@register_model
class Forecaster(Recipe):
    name = "forecaster"
    task = "forecasting"
    dataset = "sunspots (statsmodels, yearly 1700-2008) or any CSV"
    description = "forecast of the next value(s) of a series, with optional covariates and calendar features; last 20% held out"
    compile_metrics = ("mae",)
    metric = "rmse"
    defaults = {
        "cell": "lstm",
        "units": 32,
        "window": 24,
        "epochs": 200,
        "batch_size": 32,
        "learning_rate": 3e-3,
        "patience": 30,
        "dropout": 0.0,
        "test_fraction": 0.2,
        "val_fraction": 0.15,
        "horizon": 1,
        "multi_step": "direct",  # or "recursive"
        "calendar": True,  # add calendar features where the data has dates
    }
    data_options = ("data", "column", "season", "columns")
    released = Path(__file__).parent / "released" / "forecaster"
    data_licence = (
        "Yearly sunspot numbers 1700-2008 (SIDC/NOAA), public domain; shipped in statsmodels (BSD-3)"
    )

    # -- data --------------------------------------------------------------------------------
    def load_data(self, config, data=None, column=None, season=None, columns=None):
        horizon, multi_step = int(config.get("horizon", 1)), config.get("multi_step", "direct")
        if horizon < 1:
            raise UserError(f"--horizon must be at least 1, got {horizon}")
        if multi_step not in ("direct", "recursive"):
            raise UserError(f"multi_step is 'direct' or 'recursive', got {multi_step!r}")
        names = [c.strip() for c in columns.split(",") if c.strip()] if isinstance(columns, str) else list(columns or ())
        series = load_series(data or "sunspots", column, names)
        if multi_step == "recursive" and series.covariates is not None:
            raise UserError("recursive forecasting feeds back the target only; drop --columns or use multi_step=direct")
        values, window = series.values, int(config["window"])
        features, feature_names = [values[:, None]], [series.name]
        if series.covariates is not None:
            features.append(series.covariates)
            feature_names += series.covariate_names
        calendar_names, calendar = calendar_features(series.dates, series.frequency) if config.get("calendar", True) \
            else ((), None)
        if calendar is not None:
            features.append(calendar)
            feature_names += calendar_names
        matrix = np.concatenate(features, axis=1)
        n = len(values)
        test_start = int(round(n * (1 - config["test_fraction"])))
        val_start = int(round(test_start * (1 - config["val_fraction"])))
        # Each split needs a few windows to mean anything.
        if val_start - window - horizon < 8 or test_start - val_start < 2 or n - test_start < horizon + 1:
            need = int(np.ceil((window + horizon + 8) / ((1 - config["test_fraction"]) * (1 - config["val_fraction"]))))
            raise UserError(
                f"{series.source}: {n} values is too short for window {window} and horizon {horizon}; "
                f"need at least {need} (or a smaller --window)"
            )
        if season is None:
            season, season_source = infer_season(values[:test_start], series.frequency)
        else:
            if season < 1 or season >= test_start:
                raise UserError(f"--season must be between 1 and {test_start - 1}, got {season}")
            season_source = "option"
        train = matrix[:val_start]
        mean, std = train.mean(axis=0), train.std(axis=0)
        if std[0] == 0.0:
            raise UserError(f"{series.source}: the training part of {series.name!r} is constant")
        std[std == 0.0] = 1.0
        steps = 1 if multi_step == "recursive" else horizon  # what the network is trained to output

        def windows(first, last, ahead):
            """Windows ending before t, for every t in [first, last) with ``ahead`` values after."""
            targets = np.arange(max(first, window), last - ahead + 1)
            x = np.stack([matrix[t - window:t] for t in targets]).astype("float32")
            y = np.stack([values[t:t + ahead] for t in targets]).astype("float32")
            return x, y, targets

        x_train, y_train, _ = windows(0, val_start, steps)
        x_val, y_val, _ = windows(val_start, test_start, steps)
        x_test, y_test, test_targets = windows(test_start, n, horizon)
        info = {
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
                     f"{n - test_start} test; windows of {window} steps forecast {horizon} step(s) ahead",
        }
        return DataSplit(
            x_train, y_train, x_val, y_val, x_test, y_test, info=info,
            extra={"values": values, "test_targets": test_targets, "matrix": matrix},
        )

    # -- network -----------------------------------------------------------------------------
    def build(self, config):
        import keras

        from zoo.layers import LSTM, Standardize

        data = config.get("data", {})
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

    # -- judging -----------------------------------------------------------------------------
    def predict(self, model, x, split=None, config=None):
        """Forecasts (N, horizon) in raw units; recursive models roll forward one step at a time."""
        direct = np.asarray(model.predict(x, batch_size=256, verbose=0))
        data = (config or {}).get("data", {})
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
        values, targets = split.extra["values"], split.extra["test_targets"]
        season = config["data"]["season"]
        horizon = config["data"].get("horizon", 1)
        actual = split.y_test
        predicted = self.predict(model, split.x_test, split, config)
        ahead = np.arange(horizon)[None, :]
        persistence = np.repeat(values[targets - 1][:, None], horizon, axis=1)
        # the same point of the last full season before the forecast origin
        seasonal = values[targets[:, None] + ahead - season * (ahead // season + 1)]
        test = {"rmse": rmse(actual, predicted), "mae": mae(actual, predicted)}
        if horizon > 1:
            test["rmse_by_step"] = [rmse(actual[:, h], predicted[:, h]) for h in range(horizon)]
        return {
            "test": test,
            "baselines": {
                "persistence": {"rmse": rmse(actual, persistence), "mae": mae(actual, persistence)},
                "seasonal_naive": {"rmse": rmse(actual, seasonal), "mae": mae(actual, seasonal), "season": season},
            },
        }

    def plot(self, model, split, config, out_dir):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        values, targets = split.extra["values"], split.extra["test_targets"]
        predicted = self.predict(model, split.x_test, split, config)[:, 0]
        figure, axis = plt.subplots(figsize=(9, 4))
        axis.plot(targets, values[targets], label="actual", color="black")
        axis.plot(targets, predicted, label=f"{self.name} ({config['cell']}), 1 step ahead", color="tab:blue")
        axis.plot(targets, values[targets - 1], label="persistence", color="tab:gray", ls=":")
        axis.set_title(f"{config['data']['source']} [{config['data']['column']}]: test split")
        axis.set_xlabel("time step")
        axis.legend()
        figure.tight_layout()
        figure.savefig(out_dir / "forecast.png", dpi=100)
        plt.close(figure)
