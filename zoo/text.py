"""Word tokenization for the text models, through Keras' ``TextVectorization``.

Id 0 is padding (the Embedding masks it) and id 1 any word training never saw. The vocabulary is
kept in the run's config.json, exported artifacts carry it in their metadata, and this class
rebuilds the identical tokenizer from it, so text is encoded the same way in training, in
``zoo predict --text`` and in a deployment that reads the vocabulary.
"""

import numpy as np

PAD, UNKNOWN = "", "[UNK]"


def warn_unknown(texts, known, what="word"):
    """A ``warning:`` for each text in which the model knows no ``what`` (``known[i]`` is False):
    its prediction is a guess from padding and unknown tokens, which a user should not take for
    an answer."""
    import warnings

    from zoo.data.series import DataWarning
    from zoo.errors import shown

    for number, (text, ok) in enumerate(zip(texts, known), start=1):
        if not ok:
            warnings.warn(f"--text {number} ({shown(text)}) has no {what} the model knows; its prediction is a guess",
                          DataWarning, stacklevel=2)


class WordTokenizer:
    """Lower-cases, strips punctuation, splits on whitespace, maps words to ids."""

    def __init__(self, vocabulary):
        import keras

        self.vocabulary = [str(token) for token in vocabulary]
        if self.vocabulary[:2] != [PAD, UNKNOWN]:
            raise ValueError("a word vocabulary starts with the padding and unknown tokens")
        self._layer = keras.layers.TextVectorization(
            vocabulary=self.vocabulary[2:], standardize="lower_and_strip_punctuation", split="whitespace"
        )

    @classmethod
    def fit(cls, texts, max_tokens):
        """The ``max_tokens`` most frequent words of ``texts`` (padding and unknown included)."""
        import keras

        layer = keras.layers.TextVectorization(max_tokens=max_tokens, standardize="lower_and_strip_punctuation")
        layer.adapt(list(texts))
        return cls(layer.get_vocabulary())

    def encode(self, texts, length=None):
        """-> int32 ids (N, T): the first ``length`` words, right-padded with 0."""
        ids = np.asarray(self._layer(list(texts)), dtype="int32")
        if length is not None:
            ids = ids[:, :length]
            if ids.shape[1] < length:
                ids = np.pad(ids, ((0, 0), (0, length - ids.shape[1])))
        return ids

    def __len__(self):
        return len(self.vocabulary)


class TokenVocabulary:
    """Tokens that are already split (words of a segmented sentence, letters, phonemes) to ids.

    Id 0 is padding and id 1 any token not in the vocabulary; the rest by falling frequency.
    """

    def __init__(self, tokens):
        self.tokens = [str(token) for token in tokens]
        if self.tokens[:2] != [PAD, UNKNOWN]:
            raise ValueError("a token vocabulary starts with the padding and unknown tokens")
        self.index = {token: k for k, token in enumerate(self.tokens)}

    @classmethod
    def fit(cls, sequences, max_tokens=None, min_count=1):
        from collections import Counter

        counts = Counter(token for sequence in sequences for token in sequence)
        ranked = sorted((t for t, c in counts.items() if c >= min_count), key=lambda t: (-counts[t], t))
        return cls([PAD, UNKNOWN, *ranked[: (max_tokens - 2) if max_tokens else None]])

    def encode(self, sequences, length):
        """-> int32 (N, length), each sequence's first ``length`` tokens, right-padded with 0."""
        ids = np.zeros((len(sequences), length), dtype="int32")
        for row, sequence in enumerate(sequences):
            codes = [self.index.get(token, 1) for token in sequence[:length]]
            ids[row, : len(codes)] = codes
        return ids

    def decode(self, ids):
        return [self.tokens[k] for k in ids if k > 1]

    def __len__(self):
        return len(self.tokens)
