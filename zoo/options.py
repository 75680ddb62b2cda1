"""Typed, ranged recipe options: one declaration gives the defaults, ``zoo train NAME --help``,
``--set`` parsing and the checks that refuse ``dropout=2`` before any work starts.

A recipe lists its ``Option``s; the CLI builds that model's flags from them, and
``Recipe.config`` checks every value through them, whichever way it arrived (flag, ``--set``,
presets, Python).
"""

import difflib
import json
import math
from dataclasses import dataclass

from zoo.errors import UserError, shown  # noqa: F401  (shown: cut values in messages, kept here for callers)


@dataclass(frozen=True)
class Option:
    """One hyperparameter or data option of a recipe.

    ``kind`` is int, float, bool, str or list (list: of ints, e.g. convolution widths); it is
    inferred from ``default`` when not given. ``words`` are string values accepted besides the
    kind's (``"auto"``); ``choices`` make a str option an enumeration. ``low``/``high`` bound
    numbers, open at the ends named in ``open``. ``data`` options go to the data loader
    (``--data``, ``--column``), not into the network's config.
    """

    name: str
    default: object = None
    help: str = ""
    kind: type = None
    low: float = None
    high: float = None
    open: str = ""  # "low", "high" or "both": which bounds are excluded
    choices: object = ()  # a tuple, or a function returning one (read only when needed)
    words: tuple = ()
    data: bool = False
    metavar: str = None

    @property
    def type(self):
        if self.kind is not None:
            return self.kind
        if isinstance(self.default, bool):
            return bool
        for kind in (int, float, list, str):
            if isinstance(self.default, kind):
                return kind
        return str

    @property
    def flag(self):
        return "--" + self.name.replace("_", "-")

    @property
    def allowed(self):
        return tuple(self.choices()) if callable(self.choices) else tuple(self.choices)

    def describe(self):
        """The value domain, for ``--help`` and error messages: 'int >= 1', 'one of: a, b'."""
        if self.choices:
            return "one of: " + ", ".join(map(str, self.allowed))
        kind = self.type.__name__
        if kind == "list":
            kind = "comma-separated ints"
        low_open, high_open = self.open in ("low", "both"), self.open in ("high", "both")
        if self.low is not None and self.high is not None:
            text = f"{kind} in {'(' if low_open else '['}{self.low:g}, {self.high:g}{')' if high_open else ']'}"
        elif self.low is not None:
            text = f"{kind} {'>' if low_open else '>='} {self.low:g}"
        elif self.high is not None:
            text = f"{kind} {'<' if high_open else '<='} {self.high:g}"
        else:
            text = kind
        return text + "".join(f" or {w!r}" for w in self.words)

    def parse(self, raw):
        """A command-line string -> a checked value of this option's kind."""
        if not isinstance(raw, str):
            return self.check(raw)
        text = raw.strip()
        if text in self.words:
            return text
        kind = self.type
        try:
            if kind is bool:
                lowered = text.lower()
                if lowered not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError
                value = lowered in ("true", "1", "yes")
            elif kind is int:
                value = int(text)
            elif kind is float:
                value = float(text)
            elif kind is list:
                parsed = json.loads(text) if text.startswith("[") else [int(p) for p in text.split(",") if p.strip()]
                value = parsed
            else:
                value = text
        except (ValueError, json.JSONDecodeError):
            raise UserError(f"option {self.name}: {shown(raw)} is not a valid value; expected {self.describe()}") from None
        return self.check(value, given=text)

    def check(self, value, given=None):
        """Refuse a value of the wrong kind or out of range, with the option's domain in the message
        (and the value as the user typed it, ``given``, when it came from the command line)."""
        if value is None:
            return None
        if isinstance(value, str) and value in self.words:
            return value
        kind = self.type
        original = value

        def refuse(why=""):
            typed = shown(original) if given is None else shown(given)[1:-1]
            raise UserError(f"option {self.name}: {typed} {why or 'is not valid'}; expected {self.describe()}")

        if kind is bool:
            if not isinstance(value, bool):
                refuse()
            return value
        if kind is int:
            if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, float) and value.is_integer())):
                refuse()
            value = int(value)
        elif kind is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                refuse()
            value = float(value)
        elif kind is list:
            if not isinstance(value, (list, tuple)) or not value or not all(
                    isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value):
                refuse("must be a non-empty list of positive ints")
            return list(value)
        elif kind is str:
            if not isinstance(value, str):
                refuse()
            if self.choices and value not in self.allowed:
                close = difflib.get_close_matches(value, [str(c) for c in self.allowed], n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise UserError(f"unknown {self.name} {shown(value)}{hint}; choose from: {', '.join(self.allowed)}")
            return value
        if self.low is not None:
            if value < self.low or (value == self.low and self.open in ("low", "both")):
                refuse("is out of range")
        if self.high is not None:
            if value > self.high or (value == self.high and self.open in ("high", "both")):
                refuse("is out of range")
        return value


# Options most recipes share, with their ranges in one place. Call with the recipe's default.

#: Modules of ``zoo/cells`` that hold no cell.
_NOT_CELLS = ("registry", "lowering", "backends")


def _cell_names():
    """The cells' names without importing Keras (an option error should not wait for TensorFlow):
    a cell module is named as its cell (``zoo.cells.registry.register_cell`` holds it to that)."""
    import importlib.util
    import pkgutil

    found = importlib.util.find_spec("zoo.cells")  # the package's path, without running it
    names = sorted(m.name for m in pkgutil.iter_modules(found.submodule_search_locations)
                   if m.name not in _NOT_CELLS and not m.name.startswith("_"))
    return tuple(sorted(names, key=lambda name: name != "lstm"))  # the plain LSTM first, the default


def cell(default="lstm"):
    return Option("cell", default, "The recurrent cell.", kind=str, choices=_cell_names)


def units(default):
    return Option("units", default, "Hidden units per LSTM direction.", low=1)


def epochs(default):
    return Option("epochs", default, "Most training epochs (early stopping may end sooner).", low=1)


def batch_size(default):
    return Option("batch_size", default, "Sequences per training step.", low=1)


def learning_rate(default):
    return Option("learning_rate", default, "Adam's learning rate.", low=0, high=1, open="low")


def lr_decay(default=1.0):
    return Option("lr_decay", default, "Learning rate multiplied by this every epoch (1: constant).", low=0, high=1,
                  open="low")


def patience(default):
    return Option("patience", default, "Epochs without a better validation loss before stopping.", low=1)


def dropout(default, help="Dropout rate.", name="dropout"):
    return Option(name, default, help, low=0, high=1, open="high")


def embedding(default):
    return Option("embedding", default, "Embedding width.", low=1)


def fraction(name, default, help):
    return Option(name, default, help, low=0, high=1, open="both")


def data_option(help="Your data file or folder, or a bundled data set (see docs/own-data.md)."):
    return Option("data", None, help, kind=str, data=True, metavar="PATH|NAME")


def by_name(options):
    """{name: Option}; a name declared twice is a recipe bug."""
    table = {}
    for option in options:
        if option.name in table:
            raise ValueError(f"option {option.name!r} is declared twice")
        table[option.name] = option
    return table
