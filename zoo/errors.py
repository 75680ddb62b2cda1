"""Errors a user can cause. The CLI prints them as one line and exits 2; anything else is our bug."""


class UserError(Exception):
    """Bad input, options or files: the message says what is wrong and how to fix it."""


class DataWarning(UserWarning):
    """Something about the data was repaired; the CLI shows it as one ``warning:`` line."""


#: Values longer than this are cut in messages: a 100k-character value is not echoed back.
SHOWN = 60


def shown_path(path, limit=200):
    """A path the user typed, for a message: control characters escaped (a carriage return would
    break the one error line), a 5,000-character name cut."""
    text = repr(str(path))[1:-1]
    return text if len(text) <= limit else text[: limit - 5] + "…" + text[-4:]


def shown(value):
    """``value`` as it appears in an error message: repr, cut to a readable length."""
    text = repr(value)
    return text if len(text) <= SHOWN else text[: SHOWN - 5] + "…" + text[-4:]


def refuse_dangling_link(path):
    """A path that does not resolve because it is a symbolic link (to itself, round a loop, or to
    a missing target): say so, rather than "no such file" about a name the user can see."""
    from pathlib import Path

    path = Path(path)
    try:
        dangling = path.is_symlink() and not path.exists()
    except OSError:  # a name too long, a loop in a parent folder
        dangling = False
    if dangling:
        raise UserError(f"{shown_path(path)} is a symbolic link that leads nowhere (a loop, or its target is missing)")
