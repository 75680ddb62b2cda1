"""anomaly: an LSTM autoencoder that scores each time step by how badly it can be reconstructed.

Trained on normal data only, the encoder squeezes a window into its final state and the decoder
rebuilds the window from it; a window the model has never seen the like of comes back wrong.
Each time step's score is the mean reconstruction error of the windows that cover it, judged by
ROC-AUC against the labels, next to a rolling z-score computed on the same test series. Data with
no labels (or a test part of one class) gets no ROC-AUC, said so in metrics.json, and the scores'
statistics instead; every run writes the per-step scores to scores.csv.
"""

import warnings
from pathlib import Path

import numpy as np

from zoo.errors import DataWarning
from zoo.errors import UserError
from zoo.files import atomic_write
from zoo import options as O
from zoo.recipe import DataSplit, Recipe
from zoo.registry import register_model
from zoo.models.anomaly.baselines import rolling_zscore
from zoo.models.anomaly.scoring import Flatness, roc_auc, sliding

DEFAULT_DATA = "InternalBleeding16"
SCORES_NAME = "scores.csv"


#: Training windows at most: a longer training part is read at a wider stride (said in the split),
#: so that an epoch over a series of millions of steps takes seconds, not an hour.
MAX_TRAIN_WINDOWS = 5_000
#: Test windows reconstructed at a time: memory stays bounded however long the test part is.
SCORE_CHUNK = 16_384
#: ``level=auto`` centres each window on its own mean when centring on the training part leaves
#: the validation error more than this many times higher: the series drifts out of its training
#: range. Chosen on the development series (benchmarks/anomaly_series.py): the ratio was 1.0-1.6
#: on the ten that stay in range and 11 and 58 on the four that drift; any value from 2 to 5
#: chooses the same there.
DRIFT_RATIO = 3.0
#: Test windows scored at most: beyond, windows start every k steps, so each step is still scored
#: by about ``window / k`` of them (64 / 11 on 7 million steps) and scoring takes a minute, not ten.
MAX_SCORED_WINDOWS = 500_000


def score_statistics(scores, first_step=0):
    """What can be said of scores without labels: their spread and where the highest one is
    (``score_max_step`` counts steps from the series' start, as scores.csv does)."""
    return {"score_mean": float(np.mean(scores)), "score_std": float(np.std(scores)),
            "score_p99": float(np.percentile(scores, 99)), "score_max": float(np.max(scores)),
            "score_max_step": first_step + int(np.argmax(scores))}


def why_no_roc_auc(labels):
    """'' when ROC-AUC can judge the scores, else the reason (it needs both labels in the test part)."""
    if labels is None:
        from zoo.models.anomaly.data import LABEL

        return (f"no {LABEL} column: no ROC-AUC without labels; the scores' statistics instead "
                f"({SCORES_NAME} has every step)")
    if labels.min() == labels.max():
        kind = "anomalous" if labels.min() else "normal"
        return f"the test part holds only {kind} steps: no ROC-AUC without both labels; the scores' statistics instead"
    return ""


def normal_windows(labels, starts, window):
    """Which windows hold no labelled anomaly (all of them when there are no labels)."""
    if labels is None:
        return np.ones(len(starts), dtype=bool)
    anomalies_before = np.concatenate([[0], np.cumsum(labels)])
    return anomalies_before[starts + window] == anomalies_before[starts]


def input_columns(column, columns):
    """--column and --columns (comma-separated) -> the input columns, or None for every numeric one."""
    names = [c.strip() for c in columns.split(",") if c.strip()] if isinstance(columns, str) else list(columns or ())
    return list(dict.fromkeys(([column] if column else []) + names)) or None


@register_model
class AnomalyAutoencoder(Recipe):
    name = "anomaly"
    task = "anomaly detection"
    dataset = "UCR anomaly archive series bundled with aeon (InternalBleeding16) or a CSV, labelled or not"
    description = "LSTM autoencoder over windows; time steps scored by reconstruction error"
    metric = "roc_auc"
    deployment_keys = ("source", "mean", "std")
    options = (
        O.data_option("A CSV with value column(s), an optional is_anomaly column and an optional time column, or "
                      "a bundled series (ecg-diff-count-3, Daphnet_S06R02E0)."),
        O.Option("column", None, "Column of the CSV to model (default: the last numeric one).", kind=str, data=True),
        O.Option("columns", None, "Value columns to model together, comma-separated.", kind=str, data=True),
        O.cell(),
        O.units(32),
        O.Option("window", 64, "Window length in time steps.", low=2),
        O.Option("stride", 2, "Steps between training windows.", low=1),
        O.epochs(60),
        O.batch_size(32),
        O.learning_rate(3e-3),
        O.patience(10),
        O.dropout(0.0),
        O.Option("level", "auto", "Where windows are centred: the training part's mean (global) or each window's "
                 "own mean (window: the model sees shapes, not levels, so a series that drifts beyond "
                 "its training range is not anomalous everywhere); auto: chosen on validation.", kind=str,
                 choices=("auto", "global", "window")),
        O.Option("score", "both", "A step's score: the mean error of the windows covering it (window), or the "
                 "errors those windows make at that step (step: a spike stays on its step), or their sum (both).", kind=str,
                 choices=("window", "step", "both")),
        O.Option("flat", True, f"Score windows over {Flatness.RATIO:g} times flatter (standard deviation) than "
                 "the flattest normal window higher, by the log of how much flatter still, times the highest error "
                 "score: a stuck stretch, which an autoencoder rebuilds perfectly."),
        O.fraction("train_fraction", 0.3, "First part of the series, taken as normal, to train on."),
        O.fraction("val_fraction", 0.2, "Part after training used for validation."),
    )
    quick = {"epochs": 1, "units": 8}
    data_licence = "UCR Time Series Anomaly Archive (Wu & Keogh 2021), free for research; shipped in aeon (BSD-3)"

    def card_notes(self, config):
        data = config["data"]
        if data["source"] != DEFAULT_DATA:
            return f"Data: {data['split']}." + (f" {data['note']}." if data.get("note") else "")
        return (f"The test part holds one anomalous event ({data['anomalous_steps']} labelled steps), as every "
                "UCR anomaly archive series does: a perfect ROC-AUC here says the event stands out, not that "
                "every kind of anomaly would. Any CSV trains the same way (`--data FILE.csv`: its first 30% of "
                "rows are the training part, assumed normal; windows over rows labelled in an `is_anomaly` "
                "column are left out of training).")

    def load_data(self, config, data=None, column=None, columns=None):
        from zoo.models.anomaly.data import load  # pandas: imported only when data is read

        series = load(data or DEFAULT_DATA, config["train_fraction"], input_columns(column, columns))
        window, stride = int(config["window"]), int(config["stride"])
        check_length(series, window)
        # more windows than an epoch should hold: a wider stride over the same training part
        asked = stride
        stride *= max(1, int(np.ceil((len(series.train) - window + 1) / stride / MAX_TRAIN_WINDOWS)))
        windows, train_starts = sliding(series.train.astype("float32"), window, stride)
        normal = normal_windows(series.train_labels, train_starts, window)
        windows = np.ascontiguousarray(windows[normal])
        cut = int(len(windows) * (1 - config["val_fraction"]))
        if not 0 < cut < len(windows):
            raise UserError(f"{series.source}: {len(windows)} of the {len(normal)} training windows of {window} steps "
                            "are free of labelled anomalies: too few to train and validate on; put more normal rows "
                            "first or use a smaller --window")
        # every test window, or on a very long test part every k-th (each step still in several)
        every = max(1, int(np.ceil((len(series.test) - window + 1) / MAX_SCORED_WINDOWS)))
        test_windows, starts = sliding(series.test.astype("float32"), window, every)  # a view: scored in chunks
        normal_steps = series.train if series.train_labels is None else series.train[series.train_labels == 0]
        mean, std = normal_steps.mean(axis=0), normal_steps.std(axis=0)
        std[std == 0] = 1.0
        note = why_no_roc_auc(series.labels)
        if note:
            warnings.warn(f"{series.source}: {note}", DataWarning, stacklevel=2)
        info = {
            "source": series.source,
            "columns": series.columns,
            "n_features": len(series.columns),
            "mean": mean.tolist(),
            "std": std.tolist(),
            "window": window,
            "anomalous_steps": None if series.labels is None else int(series.labels.sum()),
            "split": describe_split(series, {**config, "stride": stride, "widened": asked if stride != asked else None,
                                             "scored_every": every}, len(normal), int(normal.sum())),
        }
        if note:
            info["note"] = note
        return DataSplit(windows[:cut], windows[:cut], windows[cut:], windows[cut:], test_windows, series.labels,
                         info=info, extra={"test": series.test, "train": series.train, "starts": starts, "times": series.test_times,
                                           "first_step": 0 if series.train_fraction is None else len(series.train)})

    def validation_error(self, model, split, config):
        """Mean squared reconstruction error on the validation windows, in units of the training
        part's standard deviation: what ``level=auto`` compares between the two centrings."""
        reconstruction = np.asarray(model.predict(split.x_val, batch_size=256, verbose=0))
        std = np.asarray(config["data"]["std"], "float32")
        return float((((reconstruction - split.x_val) / std) ** 2).mean())

    def select(self, config, split, data_options, seed=0):
        """``level=auto``: both centrings trained as the final model is, on the training windows,
        judged on the validation windows; each window's own mean wins when centring on the
        training part leaves the validation error ``DRIFT_RATIO`` times higher (the series
        drifts beyond its training range). Never sees the test part."""
        if config["level"] != "auto":
            return {}
        import keras

        from zoo.progress import note
        from zoo.training import EpochNotes, fit_split

        errors = {}
        for level in ("global", "window"):
            trial = {**config, "level": level}
            keras.utils.set_random_seed(seed)
            model = self.build(trial)
            self.compile(model, trial)
            stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=config["patience"],
                                                 restore_best_weights=True)
            fit_split(model, split, trial, [stop, EpochNotes(f"choosing the level, {level}", config["epochs"])],
                      verbose=0)
            errors[level] = self.validation_error(model, split, trial)
        chosen = "window" if errors["global"] > DRIFT_RATIO * errors["window"] else "global"
        summary = (f"level={chosen}: validation error {errors['global']:.4g} centred on the training part, "
                   f"{errors['window']:.4g} on each window's mean (window wins beyond {DRIFT_RATIO:g}x)")
        note(f"chosen: {summary}")
        return {"level": chosen, "selection": {"summary": summary, "validation_error": errors}}

    def build(self, config):
        import keras

        from zoo.layers import LSTM, Standardize

        data = config.get("data", {})
        features, window = data.get("n_features", 1), config["window"]
        mean = np.asarray(data.get("mean", [0.0] * features), "float32")
        std = np.asarray(data.get("std", [1.0] * features), "float32")
        inputs = keras.Input((window, features), name="inputs")
        x, level = inputs, None
        if config.get("level") == "window":  # "auto" builds as "global" until select() has chosen  # each window about its own mean: shapes, not levels
            from zoo.models.anomaly.layers import WindowMean

            level = WindowMean(name="window_mean")(inputs)
            x = keras.layers.Subtract(name="centre")([inputs, level])
            mean = np.zeros_like(mean)
        x = Standardize(mean, std, name="scale")(x)
        code = LSTM(config["units"], cell=config["cell"], dropout=config["dropout"], name="encoder")(x)
        x = keras.layers.RepeatVector(window, name="repeat")(code)
        x = LSTM(config["units"], cell=config["cell"], return_sequences=True, name="decoder")(x)
        x = keras.layers.Dense(features, name="reconstruct")(x)
        outputs = Standardize(mean, std, invert=True, name="unscale")(x)
        if level is not None:
            outputs = keras.layers.Add(name="restore_level")([outputs, level])
        return keras.Model(inputs, outputs, name="anomaly_autoencoder")

    def register_layers(self):
        from zoo.models.anomaly import layers  # noqa: F401  (registers them with Keras)

    def scores(self, model, split, config, modes=None):
        """Per test step: the model's reconstruction error and the rolling z-score baseline."""
        data = config["data"]
        modes = (config.get("score", "window"),) if modes is None else modes
        scores = self.step_scores(model, split, config, modes)
        if config.get("flat", False):  # runs from before the option scored errors alone
            flatness = self.flatness(split, config)
            scores = {mode: with_flatness(values, flatness) for mode, values in scores.items()}
        scores = scores[modes[0]] if len(modes) == 1 else scores
        return scores, rolling_zscore(split.extra["test"], data["window"])

    def step_scores(self, model, split, config, modes):
        """{mode: per-step scores} for each ``StepScores`` mode, from one pass over the test windows."""
        from zoo.models.anomaly.scoring import StepScores
        from zoo.progress import in_chunks

        data = config["data"]
        std = np.asarray(data["std"], "float32")
        starts, length = split.extra["starts"], len(split.extra["test"])
        builders = {mode: StepScores(mode, data["window"], length) for mode in modes}
        done = 0
        for chunk in in_chunks(split.x_test, SCORE_CHUNK, "scoring the test windows"):
            chunk = np.ascontiguousarray(chunk)
            reconstruction = np.asarray(model.predict(chunk, batch_size=256, verbose=0))
            errors = (((reconstruction - chunk) / std) ** 2).mean(axis=2)  # (windows, window)
            for builder in builders.values():
                builder.add(errors, starts[done: done + len(chunk)])
            done += len(chunk)
        return {mode: builder.scores(starts) for mode, builder in builders.items()}

    def flatness(self, split, config):
        """Per test step: the mean ``Flatness.excess`` of the windows covering it, against the
        normal training and validation windows."""
        from zoo.models.anomaly.scoring import log_spread, point_scores

        reference = Flatness(np.concatenate([log_spread(split.x_train), log_spread(split.x_val)]))
        spreads = np.concatenate([log_spread(split.x_test[k:k + SCORE_CHUNK])
                                  for k in range(0, len(split.x_test), SCORE_CHUNK)])
        starts = split.extra["starts"]
        return point_scores(reference.excess(spreads), starts, config["data"]["window"], len(split.extra["test"]))

    def evaluate(self, model, split, config):
        """ROC-AUC and PR-AUC (average precision) of the model's scores and of each baseline's
        (``baselines.py``), on the labelled test part; the scores' statistics without labels."""
        scores, baseline = split.extra["scores"] = self.scores(model, split, config)
        labels = split.y_test
        note = why_no_roc_auc(labels)
        if not note:
            return {"test": judged(labels, scores), "baselines": self.baselines(split, config, baseline)}
        first = split.extra["first_step"]
        return {"test": {"roc_auc": None, "note": note, **score_statistics(scores, first)},
                "baselines": {"rolling_zscore": {"roc_auc": None, **score_statistics(baseline, first)}}}

    def baselines(self, split, config, zscore):
        """The rolling z-score, an IsolationForest over windows and a matrix-profile discord score
        on the same test part, judged as the model is."""
        from zoo.models.anomaly.baselines import discord, isolation_forest
        from zoo.progress import stage

        labels, window = split.y_test, config["data"]["window"]
        train, test, starts = split.extra["train"], split.extra["test"], split.extra["starts"]
        results = {"rolling_zscore": judged(labels, zscore)}
        with stage("baselines: IsolationForest over windows"):
            results["isolation_forest"] = judged(labels, isolation_forest(train, test, window, starts))
        with stage("baselines: matrix-profile discord"):
            scores, skipped = discord(train, test, window, starts)
        results["matrix_profile_discord"] = judged(labels, scores) if scores is not None else {
            "roc_auc": None, "pr_auc": None, "note": skipped}
        return results

    def plot(self, model, split, config, out_dir):
        """scores.csv: every test step's score next to the baseline's (and its label, where given)."""
        import pandas as pd

        from zoo.models.anomaly.data import LABEL

        scores, baseline = split.extra.get("scores") or self.scores(model, split, config)
        table = {"step": split.extra["first_step"] + np.arange(len(scores))}
        if split.extra.get("times") is not None:
            table["time"] = split.extra["times"]
        table.update({"score": scores, "rolling_zscore": baseline})
        if split.y_test is not None:
            table[LABEL] = split.y_test
        from zoo.progress import stage

        with stage(f"writing {SCORES_NAME} ({len(scores):,} rows)") if len(scores) > 100_000 else _nothing():
            atomic_write(Path(out_dir) / SCORES_NAME,
                         lambda handle: pd.DataFrame(table).to_csv(handle, index=False, float_format="%.6g"))


def with_flatness(scores, flatness):
    """Error scores plus flatness in units of the highest error score: a window e (2.7) times
    flatter than the ``Flatness`` floor ranks with the worst-rebuilt one."""
    return scores + flatness * float(np.max(scores, initial=0.0))


def judged(labels, scores):
    """{"roc_auc", "pr_auc"} of per-step ``scores`` against 0/1 ``labels``."""
    from sklearn.metrics import average_precision_score

    return {"roc_auc": roc_auc(labels, scores), "pr_auc": float(average_precision_score(labels, scores))}


def _nothing():
    from contextlib import nullcontext

    return nullcontext()


def check_length(series, window):
    """The training part must span 4 windows and the test part one; say how much data that takes."""
    train, test = len(series.train), len(series.test)
    if train >= 4 * window and test >= window:
        return
    if series.train_fraction is None:
        raise UserError(f"{series.source}: too short for window {window}: the training part needs {4 * window} "
                        f"steps (has {train}) and the test part {window} (has {test}); a smaller --window helps")
    from zoo.models.anomaly.data import rows_needed

    need = rows_needed(series.train_fraction, 4 * window, window)
    raise UserError(f"{series.source}: {train + test} rows are too few for window {window}: need at least {need} rows "
                    f"(the first {series.train_fraction:.0%} train and must span 4 windows), or a smaller --window")


def describe_split(series, config, windows, kept):
    """The split in words for config.json; the archive's wording is the released checkpoint's."""
    val = f"last {config['val_fraction']:.0%} of their windows for validation"
    dropped = f"; {windows - kept} of {windows} training windows overlap labelled anomalies and were dropped" \
        if kept < windows else ""
    if config.get("scored_every", 1) > 1:
        dropped += f"; test windows start every {config['scored_every']} steps"
    if config.get("widened"):
        dropped += (f"; training windows every {config['stride']} steps (not {config['widened']}), at most "
                    f"{MAX_TRAIN_WINDOWS:,} of them")
    labelled = "unlabelled" if series.labels is None else f"of which {int(series.labels.sum())} anomalous"
    if series.train_fraction is None:
        return (f"the archive's split: {len(series.train)} normal training steps ({val}), {len(series.test)} test "
                f"steps {labelled}{dropped}")
    return (f"the first {series.train_fraction:.0%} of the rows: {len(series.train)} training steps assumed normal "
            f"({val}), the other {len(series.test)} test steps {labelled}{dropped}")
