"""Model inputs from a user's file or array, checked against one contract before any runtime sees
them: Keras, SavedModel, LiteRT and ONNX Runtime each fail in their own words (or answer wrongly)
on a wrong length, dtype or token id, so ``InputContract.check`` says what the model takes first,
for the CLI and ``zoo.load(...).predict`` alike."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zoo.errors import UserError, shown_path, refuse_dangling_link


@dataclass(frozen=True)
class InputContract:
    """What one model's input must be, from the runtime that runs it and the run's deployment facts."""

    tokens: bool  # integer ids (batch, time) rather than features (batch, time, features)
    n_features: int | None = None
    time_steps: int | None = None  # fixed by the network, or the window it was trained on
    ids_below: int | None = None
    #: A forecaster's input is a history: a longer one is forecast from its last ``time_steps``.
    history: bool = False

    @classmethod
    def of(cls, runner, metadata=None):
        metadata = metadata or {}
        data = metadata.get("zoo.data", {})
        described = metadata.get("zoo.input") or {}
        steps = runner.time_steps
        history = bool(data.get("window")) and "horizon" in data and data.get("kind") != "panel"
        if steps is None and history:
            steps = int(data["window"])  # an RNN runs any length; the forecaster was trained on this one
        if runner.takes_tokens:
            bound = runner.vocabulary_size or described.get("ids_below")
            if bound is None and metadata.get("zoo.model") in ("text-classifier", "char-lm") and data.get("vocabulary"):
                bound = len(data["vocabulary"])  # exports from before zoo.input said it
            return cls(True, None, steps, int(bound) if bound else None)
        return cls(False, int(runner.n_features), steps, history=history)

    def shape(self):
        """The accepted shape, for messages."""
        time = self.time_steps if self.time_steps is not None else "time"
        time = f"{time} or more" if self.history and self.time_steps is not None else time
        return f"(batch, {time})" if self.tokens else f"(batch, {time}, {self.n_features})"

    def check(self, inputs, what="the input"):
        """An array-like -> the array the runtimes take (float32 features or int32 ids), or a
        ``UserError`` that gives the expected shape."""
        try:
            array = np.asarray(inputs)
        except ValueError:  # ragged nested lists
            raise UserError(f"{what} is not a rectangular array; the model takes {self.shape()}") from None
        if array.dtype.kind not in "biuf":
            kind = _KINDS.get(array.dtype.kind, "non-numeric")
            raise UserError(f"{what} holds {kind} values ({array.dtype}); the model takes {self.shape()} "
                            f"{'integer token ids' if self.tokens else 'numbers'}")
        if array.size == 0:
            raise UserError(f"{what} holds no values; the model takes {self.shape()}")
        return self._ids(array, what) if self.tokens else self._features(array, what)

    def _features(self, array, what):
        if array.ndim == 1 and self.n_features == 1:
            array = array[None, :, None]
        elif array.ndim == 2 and array.shape[-1] == self.n_features and self.n_features != 1:
            array = array[None]
        elif array.ndim == 2 and self.n_features == 1:
            array = array[..., None]
        if array.ndim != 3 or array.shape[-1] != self.n_features:
            also = "" if self.n_features == 1 else f" or ({self.time_steps or 'time'}, {self.n_features})"
            raise UserError(f"{what} has shape {tuple(array.shape)}; the model takes {self.shape()}{also}")
        with np.errstate(over="ignore", invalid="ignore"):
            converted = array.astype("float32")
        if not np.isfinite(converted).all():
            if np.isfinite(array.astype("float64")).all():
                raise UserError(f"{what} holds values beyond float32's range (about ±3.4e38)")
            raise UserError(f"{what} holds NaN or infinite values")
        return self._length(converted, what)

    def _ids(self, array, what):
        if array.dtype.kind == "f":
            raise UserError(f"{what} holds {array.dtype} values; the model takes integer token ids {self.shape()}")
        if array.ndim == 1:
            array = array[None]
        if array.ndim != 2:
            raise UserError(f"{what} has shape {tuple(array.shape)}; the model takes token ids {self.shape()}")
        array = self._length(array, what)
        if array.min() < 0:
            raise UserError(f"{what} holds negative token ids")
        limit = self.ids_below if self.ids_below is not None else 2**31
        if int(array.max()) >= limit:
            first = tuple(int(k) for k in np.argwhere(array >= limit)[0])
            raise UserError(f"{what} holds token id {int(array[first])} at {first}; the model's ids are 0 to {limit - 1}")
        return array.astype("int32")

    def _length(self, array, what):
        if self.history and self.time_steps is not None and array.shape[1] > self.time_steps:
            return array[:, -self.time_steps:]  # the forecast after the last value
        if self.time_steps is not None and array.shape[1] != self.time_steps:
            least = " at least" if self.history else ""
            raise UserError(f"{what} has {array.shape[1]} time step(s) per sequence (shape {tuple(array.shape)}); "
                            f"the model takes{least} {self.time_steps}: {self.shape()}")
        return array


def read_file(path, contract, data=None, suffixes=(".npy", ".csv")):
    """A user's input file -> the batch ``contract`` takes: a ``.npy`` array, a header-less CSV of
    several columns for a one-feature model (one sequence per row), else a CSV of one sequence
    whose rows are time steps. A model with layouts of its own (the ts-classifier's UCR/UEA
    files) reads them in its folder and hands the rest here; ``suffixes``: what it takes, for
    the message."""
    path = existing_input(path)
    if path.suffix == ".npy":
        return contract.check(_read_npy(path, contract.shape()), str(path))
    if contract.tokens:
        raise UserError(f"{path}: this model takes token ids; give them as a .npy of integers (or text: --text)")
    if path.suffix != ".csv":
        raise UserError(f"{path}: inputs must be a {', '.join(suffixes[:-1])} or {suffixes[-1]} file")
    return contract.check(_read_csv(path, contract), str(path))


def read_inputs(path, n_features):
    """-> float32 array (batch, time, n_features) from a .npy or a CSV, for a model of any length."""
    return read_file(path, InputContract(False, n_features))


def existing_input(path):
    path = Path(path)
    if not path.exists():
        refuse_dangling_link(path)
        raise UserError(f"no such input file: {shown_path(path)}")
    if path.is_dir():
        raise UserError(f"{path} is a directory; --input takes a .npy or .csv file")
    return path


def _read_npy(path, expected):
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        reason = str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__
        raise UserError(f"{path} is not a readable .npy file ({reason})") from None
    if not isinstance(array, np.ndarray):
        raise UserError(f"{path} is not a .npy array file")
    if array.dtype.kind not in "biuf":  # not issubdtype: numpy counts timedelta64 as an integer
        kind = _KINDS.get(array.dtype.kind, "non-numeric")
        raise UserError(f"{path} holds {kind} values ({array.dtype}); the model takes {expected}")
    return array


#: numpy dtype kinds a model cannot take, as a message names them.
_KINDS = {"c": "complex", "U": "text", "S": "bytes", "O": "Python object", "M": "date", "m": "time span",
          "V": "structured"}


def _read_csv(path, contract):
    from zoo.data.series import first_line, read_csv_frame

    frame = read_csv_frame(path)
    numeric = frame.select_dtypes(include="number")
    if numeric.empty:
        raise UserError(f"{path} has no numeric column")
    if contract.n_features == 1 and numeric.shape[1] > 1:
        if first_line(frame) == 1:  # no header, several columns: one sequence per row, as in a .npy
            return numeric.to_numpy()
        numeric = numeric.iloc[:, -1:]  # the last numeric column, as training reads one
    elif numeric.shape[1] != contract.n_features:
        raise UserError(f"{path} has {numeric.shape[1]} numeric columns; the model takes {contract.n_features}")
    return numeric.to_numpy()[None]


def read_tokens(path, vocabulary_size=None):
    """Token ids for a model with an Embedding input: a .npy of integers, (T,) or (B, T), each
    below ``vocabulary_size`` where the model says (int32 range in any case)."""
    return read_file(path, InputContract(True, ids_below=vocabulary_size))
