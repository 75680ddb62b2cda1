"""anomaly: an LSTM autoencoder that scores each time step by how badly it can be reconstructed.

Trained on normal data only, the encoder squeezes a window into its final state and the decoder
rebuilds the window from it; a window the model has never seen the like of comes back wrong.
Each time step's score is the mean reconstruction error of the windows that cover it, judged by
ROC-AUC against the labels, next to a rolling z-score computed on the same test series.
"""

from pathlib import Path

import numpy as np

from zoo.data.anomaly import load
from zoo.errors import UserError
from zoo.recipe import DataSplit, Recipe
from zoo.registry import register_model


def sliding(values, window, stride=1):
    starts = np.arange(0, len(values) - window + 1, stride)
    return np.stack([values[s : s + window] for s in starts]).astype("float32"), starts


def point_scores(window_errors, starts, window, length):
    """Mean error of the windows covering each time step."""
    total, count = np.zeros(length), np.zeros(length)
    for start, error in zip(starts, window_errors):
        total[start : start + window] += error
        count[start : start + window] += 1
    return total / np.maximum(count, 1)


def rolling_zscore(values, window):
    """|x_t - mean of the previous window| / its std, the classic streaming detector."""
    import pandas as pd

    frame = pd.DataFrame(values)
    mean = frame.rolling(window, min_periods=2).mean().shift(1)
    std = frame.rolling(window, min_periods=2).std().shift(1).replace(0, np.nan)
    return ((frame - mean).abs() / std).max(axis=1).fillna(0).to_numpy()


def roc_auc(labels, scores):
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores))


@register_model
class AnomalyAutoencoder(Recipe):
    name = "anomaly"
    task = "anomaly detection"
    dataset = "UCR anomaly archive series bundled with aeon (InternalBleeding16) or a labelled CSV"
    description = "LSTM autoencoder over windows; time steps scored by reconstruction error"
    metric = "roc_auc"
    defaults = {
        "cell": "lstm",
        "units": 32,
        "window": 64,
        "stride": 2,
        "epochs": 60,
        "batch_size": 32,
        "learning_rate": 3e-3,
        "patience": 10,
        "dropout": 0.0,
        "train_fraction": 0.3,
        "val_fraction": 0.2,
    }
    quick = {"epochs": 1, "units": 8}
    data_options = ("data",)
    released = Path(__file__).parent / "released" / "anomaly"
    data_licence = "UCR Time Series Anomaly Archive (Wu & Keogh 2021), free for research; shipped in aeon (BSD-3)"

    def card_notes(self, config):
        return (f"The test part holds one anomalous event ({config['data']['anomalous_steps']} labelled steps), as every "
                "UCR anomaly archive series does: a perfect ROC-AUC here says the event stands out, not that "
                "every kind of anomaly would. Any CSV with an `is_anomaly` column trains the same way "
                "(`--data FILE.csv`; its first 30% of rows, free of anomalies, are the training part).")

    def load_data(self, config, data=None):
        series = load(data or "InternalBleeding16", config["train_fraction"])
        window = int(config["window"])
        if len(series.train) < 4 * window or len(series.test) < window:
            raise UserError(f"{series.source}: too short for window {window} (a smaller --window helps)")
        windows, _ = sliding(series.train, window, int(config["stride"]))
        cut = int(len(windows) * (1 - config["val_fraction"]))
        test_windows, starts = sliding(series.test, window)
        mean, std = series.train.mean(axis=0), series.train.std(axis=0)
        std[std == 0] = 1.0
        info = {
            "source": series.source,
            "columns": series.columns,
            "n_features": len(series.columns),
            "mean": mean.tolist(),
            "std": std.tolist(),
            "window": window,
            "anomalous_steps": int(series.labels.sum()),
            "split": f"the archive's split: {len(series.train)} normal training steps (last {config['val_fraction']:.0%} "
                     f"of their windows for validation), {len(series.test)} test steps of which "
                     f"{int(series.labels.sum())} anomalous",
        }
        return DataSplit(windows[:cut], windows[:cut], windows[cut:], windows[cut:], test_windows, series.labels,
                         info=info, extra={"test": series.test, "starts": starts})

    def build(self, config):
        import keras

        from zoo.layers import LSTM, Standardize

        data = config.get("data", {})
        features, window = data.get("n_features", 1), config["window"]
        mean = np.asarray(data.get("mean", [0.0] * features), "float32")
        std = np.asarray(data.get("std", [1.0] * features), "float32")
        inputs = keras.Input((window, features), name="inputs")
        x = Standardize(mean, std, name="scale")(inputs)
        code = LSTM(config["units"], cell=config["cell"], dropout=config["dropout"], name="encoder")(x)
        x = keras.layers.RepeatVector(window, name="repeat")(code)
        x = LSTM(config["units"], cell=config["cell"], return_sequences=True, name="decoder")(x)
        x = keras.layers.Dense(features, name="reconstruct")(x)
        outputs = Standardize(mean, std, invert=True, name="unscale")(x)
        return keras.Model(inputs, outputs, name="anomaly_autoencoder")

    def evaluate(self, model, split, config):
        data = config["data"]
        reconstruction = np.asarray(model.predict(split.x_test, batch_size=256, verbose=0))
        std = np.asarray(data["std"])
        errors = (((reconstruction - split.x_test) / std) ** 2).mean(axis=(1, 2))
        scores = point_scores(errors, split.extra["starts"], data["window"], len(split.y_test))
        baseline = rolling_zscore(split.extra["test"], data["window"])
        return {"test": {"roc_auc": roc_auc(split.y_test, scores)},
                "baselines": {"rolling_zscore": {"roc_auc": roc_auc(split.y_test, baseline)}}}
