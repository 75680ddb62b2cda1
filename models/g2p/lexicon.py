"""Pronunciation lexicons from a user's file, for ``zoo train g2p --data FILE``.

CMUdict's layout in any alphabet and phoneme set: one entry per line, the word, whitespace, then
its phonemes separated by spaces (``HELLO  HH AH0 L OW1``); ``WORD(2)`` is another pronunciation
of WORD; lines starting with ``;;;`` are comments. Letters and phonemes are taken as written:
lower-casing and dropping stress marks are choices for the bundled CMUdict
(``zoo.models.g2p.pronunciations``), not for a lexicon whose conventions we do not know.

Readers return plain lists of (word, [pronunciation, ...]); anything wrong with the file is a
``UserError`` naming the file and, where it applies, the line.
"""

import re
import warnings

from zoo.data.text_files import cut, read_lines
from zoo.errors import UserError

COMMENT = ";;;"
VARIANT = re.compile(r"(.+)\(\d+\)")
#: Held out from a user's lexicon: at most this fraction of its words each for validation and test.
HELD_OUT_FRACTION = 0.1
MIN_WORDS = 10


def read_lexicon(path):
    """-> sorted list of (word, [pronunciation, ...]), each pronunciation a tuple of phonemes,
    variants in file order, repeats dropped."""
    pronunciations = {}
    for number, line in enumerate(read_lines(path, "lexicon"), 1):
        if not line.strip() or line.startswith(COMMENT):
            continue
        word, *phonemes = line.split()
        if not phonemes:
            raise UserError(f"{path}:{number}: {cut(word)!r} has no phonemes (expected WORD  PH O N EMES)")
        variant = VARIANT.fullmatch(word)
        options = pronunciations.setdefault(variant[1] if variant else word, [])
        if tuple(phonemes) not in options:
            options.append(tuple(phonemes))
    if not pronunciations:
        raise UserError(f"{path} holds no entries (expected one WORD  PH O N EMES per line)")
    return sorted(pronunciations.items())


def within_limits(entries, max_letters, max_phonemes):
    """The entries a model of these lengths can learn: words of at most ``max_letters``, each
    with its pronunciations of 1 to ``max_phonemes`` phonemes (repeats dropped)."""
    kept = []
    for word, pronunciations in entries:
        if len(word) > max_letters:
            continue
        fitting = []
        for phonemes in pronunciations:
            if 0 < len(phonemes) <= max_phonemes and phonemes not in fitting:
                fitting.append(phonemes)
        if fitting:
            kept.append((word, fitting))
    return kept


def read_entries(path, max_letters, max_phonemes):
    """A user's lexicon as the model takes it; words too long for it are left out with a warning."""
    from zoo.errors import DataWarning

    entries = read_lexicon(path)
    kept = within_limits(entries, max_letters, max_phonemes)
    if len(kept) < MIN_WORDS:
        raise UserError(f"{path} has {len(kept)} usable word(s) of at most {max_letters} letters and "
                        f"{max_phonemes} phonemes; training, validation and test need at least {MIN_WORDS}")
    if len(kept) < len(entries):
        warnings.warn(DataWarning(
            f"{path}: {len(entries) - len(kept)} of {len(entries)} words left out, longer than {max_letters} "
            f"letters or {max_phonemes} phonemes (--set max_letters=N or --set max_phonemes=N keeps them)"))
    return kept


def held_out_counts(count, n_val, n_test):
    """Words held out of ``count`` for validation and test: the recipe's numbers, at most 10% each."""
    cap = max(1, round(count * HELD_OUT_FRACTION))
    return min(n_val, cap), min(n_test, cap)
