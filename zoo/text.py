"""Word and token vocabularies for the text models, in plain Python and NumPy.

Id 0 is padding (the Embedding masks it) and id 1 any word training never saw. The vocabulary is
kept in the run's config.json and exported artifacts carry it in their metadata, so text is
encoded by this one module in training, in ``zoo predict --text``, in ``zoo.load`` and in a
runtime-only install without TensorFlow. ``WordTokenizer`` reproduces Keras' ``TextVectorization``
(``lower_and_strip_punctuation``, whitespace split) exactly, which the first releases were
trained with; ``tests/test_text.py`` holds it to Keras' output.
"""

import re
from collections import Counter

import numpy as np

PAD, UNKNOWN = "", "[UNK]"


def warn_unknown(texts, known, what="word"):
    """A ``warning:`` for each text in which the model knows no ``what`` (``known[i]`` is False):
    its prediction is a guess from padding and unknown tokens, which a user should not take for
    an answer."""
    import warnings

    from zoo.errors import DataWarning
    from zoo.errors import shown

    for number, (text, ok) in enumerate(zip(texts, known), start=1):
        if not ok:
            warnings.warn(f"--text {number} ({shown(text)}) has no {what} the model knows; its prediction is a guess",
                          DataWarning, stacklevel=2)


#: What ``TextVectorization``'s standardization does: ``tf.strings.lower`` lower-cases ASCII
#: letters only (``É`` stays), the punctuation class is ASCII, and ``tf.strings.split`` splits
#: on ASCII whitespace only (a no-break space or ideographic space stays inside a word).
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_PUNCTUATION = str.maketrans("", "", "!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~'")
_WHITESPACE = re.compile(r"[ \t\n\v\f\r]+")


def words(text):
    """``text`` lower-cased (ASCII), stripped of ASCII punctuation, split on ASCII whitespace."""
    return [word for word in _WHITESPACE.split(text.translate(_ASCII_LOWER).translate(_PUNCTUATION)) if word]


class WordTokenizer:
    """Lower-cases, strips punctuation, splits on whitespace, maps words to ids."""

    def __init__(self, vocabulary):
        self.vocabulary = [str(token) for token in vocabulary]
        if self.vocabulary[:2] != [PAD, UNKNOWN]:
            raise ValueError("a word vocabulary starts with the padding and unknown tokens")
        self.index = {word: k for k, word in enumerate(self.vocabulary) if k > 1}

    @classmethod
    def fit(cls, texts, max_tokens):
        """The ``max_tokens`` most frequent words of ``texts`` (padding and unknown included),
        by falling count, ties in falling UTF-8 byte order (as ``TextVectorization.adapt``)."""
        counts = Counter(word for text in texts for word in words(text))
        ranked = sorted(counts, key=lambda word: (counts[word], word.encode()), reverse=True)
        return cls([PAD, UNKNOWN, *ranked[: max(max_tokens - 2, 0)]])

    def encode(self, texts, length=None):
        """-> int32 ids (N, T): the first ``length`` words (all, without), right-padded with 0."""
        rows = [[self.index.get(word, 1) for word in words(text)] for text in texts]
        width = max(map(len, rows), default=0) if length is None else length
        ids = np.zeros((len(rows), width), dtype="int32")
        for row, codes in zip(ids, rows):
            codes = codes[:width]
            row[: len(codes)] = codes
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
