"""forecaster: next-value forecasting of a univariate series with one LSTM layer.

The scaler travels inside the network (``Standardize`` in front, its inverse behind), so
the checkpoint and every exported artifact take raw values and return raw forecasts: a deployment
needs no side file to rescale.
"""

from pathlib import Path

import numpy as np

from zoo.data.series import infer_season, load_series
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
    description = "one-step forecast of a univariate series; last 20% held out"
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
    }
    data_options = ("data", "column", "season")
    released = Path(__file__).parent / "released" / "forecaster"
    data_licence = (
        "Yearly sunspot numbers 1700-2008 (SIDC/NOAA), public domain; shipped in statsmodels (BSD-3)"
    )

    # -- data --------------------------------------------------------------------------------
    def load_data(self, config, data=None, column=None, season=None):
        series = load_series(data or "sunspots", column)
        values, window = series.values, int(config["window"])
        n = len(values)
        test_start = int(round(n * (1 - config["test_fraction"])))
        val_start = int(round(test_start * (1 - config["val_fraction"])))
        # Each split needs a few windows to mean anything.
        if val_start - window < 8 or test_start - val_start < 2 or n - test_start < 2:
            need = int(np.ceil((window + 8) / ((1 - config["test_fraction"]) * (1 - config["val_fraction"]))))
            raise UserError(
                f"{series.source}: {n} values is too short for window {window}; "
                f"need at least {need} (or a smaller --window)"
            )
        if season is None:
            season, season_source = infer_season(values[:test_start], series.frequency)
        else:
            if season < 1 or season >= test_start:
                raise UserError(f"--season must be between 1 and {test_start - 1}, got {season}")
            season_source = "option"
        train = values[:val_start]
        mean, std = float(train.mean()), float(train.std())
        if std == 0.0:
            raise UserError(f"{series.source}: the training part of {series.name!r} is constant")

        def windows(first, last):
            targets = np.arange(max(first, window), last)
            x = np.stack([values[t - window:t] for t in targets])[..., None].astype("float32")
            return x, values[targets][:, None].astype("float32"), targets

        x_train, y_train, _ = windows(0, val_start)
        x_val, y_val, _ = windows(val_start, test_start)
        x_test, y_test, test_targets = windows(test_start, n)
        info = {
            "source": series.source,
            "column": series.name,
            "frequency": series.frequency,
            "length": n,
            "val_start": val_start,
            "test_start": test_start,
            "mean": mean,
            "std": std,
            "season": int(season),
            "season_source": season_source,
            "n_features": 1,
        }
        return DataSplit(
            x_train, y_train, x_val, y_val, x_test, y_test, info=info,
            extra={"values": values, "test_targets": test_targets},
        )

    # -- network -----------------------------------------------------------------------------
    def build(self, config):
        import keras

        from zoo.layers import LSTM, Standardize

        data = config.get("data", {})
        mean, std = data.get("mean", 0.0), data.get("std", 1.0)
        inputs = keras.Input((None, data.get("n_features", 1)), name="inputs")
        x = Standardize(mean, std, name="scale")(inputs)
        x = LSTM(config["units"], cell=config["cell"], dropout=config["dropout"], name="lstm")(x)
        x = keras.layers.Dense(1, name="head")(x)
        outputs = Standardize(mean, std, invert=True, name="unscale")(x)
        return keras.Model(inputs, outputs, name=self.name)

    # -- judging -----------------------------------------------------------------------------
    def predict(self, model, x):
        return np.asarray(model.predict(x, batch_size=256, verbose=0))

    def evaluate(self, model, split, config):
        values, targets = split.extra["values"], split.extra["test_targets"]
        season = config["data"]["season"]
        actual = values[targets]
        predicted = self.predict(model, split.x_test)[:, 0]
        return {
            "test": {"rmse": rmse(actual, predicted), "mae": mae(actual, predicted)},
            "baselines": {
                "persistence": {
                    "rmse": rmse(actual, values[targets - 1]),
                    "mae": mae(actual, values[targets - 1]),
                },
                "seasonal_naive": {
                    "rmse": rmse(actual, values[targets - season]),
                    "mae": mae(actual, values[targets - season]),
                    "season": season,
                },
            },
        }

    def plot(self, model, split, config, out_dir):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        values, targets = split.extra["values"], split.extra["test_targets"]
        predicted = self.predict(model, split.x_test)[:, 0]
        figure, axis = plt.subplots(figsize=(9, 4))
        axis.plot(targets, values[targets], label="actual", color="black")
        axis.plot(targets, predicted, label=f"{self.name} ({config['cell']})", color="tab:blue")
        axis.plot(targets, values[targets - 1], label="persistence", color="tab:gray", ls=":")
        axis.set_title(f"{config['data']['source']} [{config['data']['column']}]: test split")
        axis.set_xlabel("time step")
        axis.legend()
        figure.tight_layout()
        figure.savefig(out_dir / "forecast.png", dpi=100)
        plt.close(figure)
