"""The text models' word tokenizer is plain Python, so a runtime-only install can read text; it must
encode exactly as Keras' ``TextVectorization``, which the released text-classifier was trained with."""

import keras
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from zoo.text import PAD, UNKNOWN, WordTokenizer, words

#: Characters where ASCII-only lower-casing, ASCII punctuation and ASCII whitespace differ from
#: Python's Unicode-aware str methods.
TRICKY = "AZaz09 \t\n\r\x0b\x0c\x1c\x85\xa0\u3000ÉÄİΣß'!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~«»—…é中文"


def keras_layer(vocabulary=None, max_tokens=None):
    return keras.layers.TextVectorization(
        vocabulary=vocabulary, max_tokens=max_tokens, standardize="lower_and_strip_punctuation", split="whitespace")


def keras_encode(vocabulary, texts, length):
    ids = np.asarray(keras_layer(vocabulary[2:])(texts), "int32")[:, :length]
    return np.pad(ids, ((0, 0), (0, length - ids.shape[1])))


def test_words_follow_tensorflows_ascii_rules():
    assert words("ÉCOLE Don't\u3000stop, café\xa0au-lait\tNOW") == ["École", "dont\u3000stop", "café\xa0aulait", "now"]


def test_released_vocabulary_encodes_bbc_articles_as_keras_does():
    from zoo.checkpoints import load_run_config, resolve
    from zoo.models.text_classifier.bbc import articles

    _, run_dir = resolve("text-classifier")
    vocabulary = load_run_config(run_dir)["config"]["data"]["vocabulary"]
    texts = [text for text, _ in zip(articles()[0], range(300))]
    ours = WordTokenizer(vocabulary).encode(texts, 1000)
    assert (ours > 1).sum() > 50_000  # real articles, mostly known words
    np.testing.assert_array_equal(ours, keras_encode(vocabulary, texts, 1000))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from(TRICKY), max_size=40), min_size=1, max_size=6))
def test_any_text_encodes_as_keras_does(texts):
    vocabulary = [PAD, UNKNOWN, "a", "z", "az", "09", "école", "ß", "中文", "é"]
    np.testing.assert_array_equal(WordTokenizer(vocabulary).encode(texts, 12), keras_encode(vocabulary, texts, 12))


def test_fit_ranks_words_as_keras_adapt_does():
    from zoo.models.text_classifier.bbc import articles

    texts = [text for text, _ in zip(articles()[0], range(200))]
    layer = keras_layer(max_tokens=3000)
    layer.adapt(texts)
    assert WordTokenizer.fit(texts, 3000).vocabulary == layer.get_vocabulary()


def test_encode_without_length_pads_to_the_longest():
    tokenizer = WordTokenizer([PAD, UNKNOWN, "the", "cat"])
    np.testing.assert_array_equal(tokenizer.encode(["The cat!", "a cat sat", ""]), [[2, 3, 0], [1, 3, 1], [0, 0, 0]])
