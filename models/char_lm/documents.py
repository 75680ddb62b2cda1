"""char-lm's own data: plain text from a file or a folder of .txt files, split into training,
validation and test text (whole files held out where there are enough, else the tail)."""

import math
import re
import warnings
from bisect import bisect_left
from itertools import accumulate

import numpy as np

from zoo.errors import UserError
from zoo.data.text_files import existing, files_under, read_utf8

#: Plain text for char-lm: the first 80% trains, the next 10% validates, the last 10% tests.
TEXT_FRACTIONS = (0.8, 0.1, 0.1)


def read_documents(path):
    """A UTF-8 text file, or every ``.txt`` file under a folder -> [(name, text)] in name order.

    Empty files in a folder are left out with a warning; an empty file or folder is an error.
    """
    path = existing(path)
    if path.is_file():
        text = read_utf8(path)
        if not text.strip():
            raise UserError(f"{path} is empty")
        return [(path.name, text)]
    files = files_under(path, ".txt")
    if not files:
        raise UserError(f"{path} holds no .txt files")
    documents = [(f.relative_to(path).as_posix(), read_utf8(f)) for f in files]
    kept = [(name, text) for name, text in documents if text.strip()]
    if not kept:
        raise UserError(f"{path}: every .txt file in it is empty")
    if len(kept) < len(documents):
        from zoo.errors import DataWarning

        warnings.warn(f"{path}: left out {len(documents) - len(kept)} empty .txt file(s)", DataWarning, stacklevel=2)
    return kept


def split_documents(documents, window, source, seed=0):
    """-> (train, validation, test, details): held-out text for a character model.

    Three or more files: whole files are held out (10% each for validation and test, at least
    one, drawn with ``seed``), so no test passage is a neighbour of a training one. Fewer files,
    or held-out files too short for one window: the files are joined in name order and the tail is
    held out (``TEXT_FRACTIONS``, cut at line starts). Each part needs ``window + 1`` characters.
    """
    joined = ""
    if len(documents) >= 3:
        train, validation, test, details = _hold_out_files(documents, seed)
        if min(len(validation), len(test)) > window:
            _check_length(source, window, train, validation, test)
            return train, validation, test, details
        joined = (f" ({len(documents)} files joined in name order: the files drawn for holding out were "
                  "shorter than one window)")
    elif len(documents) == 2:
        joined = " (2 files joined in name order: whole files are held out from 3 files on)"
    train, validation, test = split_tail("\n".join(text for _, text in documents))
    _check_length(source, window, train, validation, test)
    return train, validation, test, {
        "split": f"by position, cut at line starts: the first {TEXT_FRACTIONS[0]:.0%} trains "
                 f"({len(train):,} characters), the next {TEXT_FRACTIONS[1]:.0%} validates, the last "
                 f"{TEXT_FRACTIONS[2]:.0%} tests{joined}",
    }


def _hold_out_files(documents, seed):
    order = np.random.default_rng(seed).permutation(len(documents))
    n_held = max(1, int(round(len(documents) * TEXT_FRACTIONS[2])))
    test, validation = sorted(order[:n_held]), sorted(order[n_held : 2 * n_held])
    held = set(test) | set(validation)

    def join(picks):
        return "\n".join(documents[k][1] for k in picks)

    train = join(k for k in range(len(documents)) if k not in held)
    details = {
        "validation_files": [documents[k][0] for k in validation],
        "test_files": [documents[k][0] for k in test],
        "split": f"by whole files (seed {seed}): {len(test)} test, {len(validation)} validation, "
                 f"the other {len(documents) - 2 * n_held} train ({len(train):,} characters)",
    }
    return train, join(validation), join(test), details


def split_tail(text, fractions=TEXT_FRACTIONS):
    """-> consecutive parts of ``text`` in ``fractions``, each cut at the line start nearest its
    share (at the character itself where no line start lies between the neighbouring cuts)."""
    starts = [m.end() for m in re.finditer("\n", text)]
    cuts, previous = [], 0
    for share in accumulate(fractions[:-1]):
        target = round(len(text) * share)
        candidates = [s for s in starts[max(0, bisect_left(starts, target) - 1) :][:2] if previous < s < len(text)]
        cut_at = min(candidates, key=lambda s: abs(s - target)) if candidates else max(target, previous)
        cuts.append(cut_at)
        previous = cut_at
    bounds = [0, *cuts, len(text)]
    return tuple(text[a:b] for a, b in zip(bounds, bounds[1:]))


def _check_length(source, window, train, validation, test):
    for part, text in (("training", train), ("validation", validation), ("test", test)):
        if len(text) <= window:
            needed = math.ceil((window + 1) / min(TEXT_FRACTIONS) - 1e-9)
            raise UserError(
                f"{source}: too little text for windows of {window} characters: the {part} part has "
                f"{len(text):,} and needs at least {window + 1}; give about {needed:,} characters or more, "
                f"or a smaller --window"
            )
