"""The tagger's character features: a word's prefixes and suffixes, for words outside the vocabulary."""

import keras
from keras import ops


def character_features(char_ids, alphabet, embedding, filters, width=3):
    """Character ids (B, T, C), C per word, 0 padding -> (B, T, filters): each word's characters
    embedded, convolved over ``width`` neighbours and max-pooled over the word (Ma & Hovy 2016),
    so a word outside the vocabulary still shows its prefixes and suffixes. A convolution rather
    than a character LSTM: plain ops that every exporter runs, and no recurrent layer over a
    batch of B x T words. Padding characters are zeroed before the max (the ReLU makes that
    exact), so a word's features do not depend on how much padding follows it."""
    x = keras.layers.Embedding(alphabet, embedding, name="char_embedding")(char_ids)
    x = keras.layers.Conv2D(filters, (1, width), padding="same", activation="relu", name="char_convolution")(x)
    present = ops.expand_dims(ops.cast(ops.not_equal(char_ids, 0), x.dtype), -1)
    return ops.max(x * present, axis=2)
