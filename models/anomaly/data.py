"""Anomaly-detection series: the labelled series aeon ships, or a user's CSV, labelled or not.

A CSV holds one or more value columns, an optional ``is_anomaly`` column (0/1 per row) and an
optional time column (``timestamp``, ``time``, ``date``, ``datetime``, or any text column of
dates), which orders the rows and is never an input; nor is a column with no header (a saved
pandas index). The first ``train_fraction`` of the rows
is the training part, assumed normal (the model drops the training windows that touch a
labelled anomaly); the rest is the test part. Archive series with their own normal TRAIN file
keep the archive's split.

Everything that can go wrong with a user's file becomes a one-line ``UserError`` naming the file
and, where it applies, the line (``data.csv:17: ...``).
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from zoo.data.series import (_date_column, cell, clean_column, first_line, mostly_numeric, names, read_csv_frame,
                             time_order)
from zoo.errors import UserError, shown, shown_path, refuse_dangling_link

LABEL = "is_anomaly"
#: Column names taken as the time column (case-insensitive), numeric or dates.
TIME_NAMES = ("timestamp", "time", "date", "datetime")
#: Bundled names -> (folder in aeon's datasets/data, files). Two files: the archive's normal TRAIN
#: part and its labelled TEST part; one file: split by ``train_fraction`` like a user's CSV.
BUNDLED = {
    "InternalBleeding16": ("KDD-TSAD_135", ("135_UCR_Anomaly_InternalBleeding16_TRAIN.csv",
                                            "135_UCR_Anomaly_InternalBleeding16_TEST.csv")),
    "ecg-diff-count-3": ("UnitTest", ("ecg-diff-count-3_TRAIN_NA.csv", "ecg-diff-count-3_TEST.csv")),
    "Daphnet_S06R02E0": ("Daphnet_S06R02E0", ("S06R02E0.csv",)),
}


@dataclass
class LabelledSeries:
    train: np.ndarray  # (T_train, F) float
    test: np.ndarray  # (T_test, F) float
    labels: np.ndarray | None  # (T_test,) 0/1; None when the data has no is_anomaly column
    columns: list
    source: str
    train_labels: np.ndarray | None = None  # (T_train,) 0/1: windows over a 1 are not trained on
    test_times: np.ndarray | None = None  # the test steps' time column as written, for scores.csv
    train_fraction: float | None = None  # None: the archive's own TRAIN/TEST split


@dataclass
class _Table:
    """One CSV's inputs, labels and times, validated and in time order."""

    values: np.ndarray  # (T, F) float64, gaps filled
    labels: np.ndarray | None
    times: np.ndarray | None
    columns: list


def load(data="InternalBleeding16", train_fraction=0.3, columns=None):
    """A bundled series name or a CSV path -> ``LabelledSeries``; ``columns`` picks the inputs
    (default: every numeric column but the label and the time column)."""
    name = {key.lower(): key for key in BUNDLED}.get(str(data).lower())
    if name:
        source = name
        tables = [_table(_read_bundled(name, file), name, columns) for file in BUNDLED[name][1]]
    else:
        path = _existing_csv(data)
        source = str(path)
        tables = [_table(read_csv_frame(path), source, columns)]
    if len(tables) == 2:
        train, test = tables
        return LabelledSeries(train.values, test.values, test.labels, train.columns, source,
                              train_labels=train.labels, test_times=test.times)
    return _leading_split(tables[0], source, train_fraction)


def rows_needed(train_fraction, train_steps, test_steps):
    """The fewest rows whose leading ``train_fraction`` holds ``train_steps`` and the rest ``test_steps``."""
    rows = int(np.ceil(train_steps / train_fraction))
    while int(rows * train_fraction) < train_steps or rows - int(rows * train_fraction) < test_steps:
        rows += 1
    return rows


def _read_bundled(name, file):
    try:
        import aeon
    except ImportError:
        raise UserError("the anomaly series come from aeon: pip install 'lstm-zoo[data]'") from None
    path = Path(aeon.__file__).parent / "datasets" / "data" / BUNDLED[name][0] / file
    if not path.exists():
        raise UserError(f"data set {name!r} is not in the installed aeon {aeon.__version__} "
                        "(aeon 1.7 dropped some bundled series); export it to a CSV file instead")
    return pd.read_csv(path)


def _existing_csv(data):
    path = Path(data)
    if not path.exists():
        refuse_dangling_link(data)
        raise UserError(f"no such data set or file: {shown_path(data)} (bundled: {', '.join(BUNDLED)})")
    if path.is_dir():
        raise UserError(f"{path} is a directory; --data takes a CSV file")
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise UserError(f"cannot read {path}: {error.strerror or error}") from None
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise UserError(f"{path}:{line}: byte 0x{raw[error.start]:02x} is not UTF-8 text; save the file as UTF-8") \
            from None
    return path


def _table(frame, source, columns):
    """Frame row i is line i + first_line(frame) of the file: every message about a row names that line."""
    first = first_line(frame)
    label = _find_column(frame, (LABEL,))
    time = _find_column(frame, TIME_NAMES, exclude=label) or _date_column(frame, exclude=label, source=source)
    inputs = _input_columns(frame, source, columns, exclude=(label, time))
    labels = _labels(frame[label], source, first) if label is not None else None
    values = [_numbers(frame[name], name, source, first) for name in inputs]
    times = None
    if time is not None:
        order = time_order(frame[time], time, source, first)
        times = frame[time].to_numpy()[order]
        labels = labels[order] if labels is not None else None
        values = [column[order] for column in values]
    filled = [clean_column(pd.Series(column), name, source) for column, name in zip(values, inputs)]
    return _Table(np.stack(filled, axis=1), labels, times, [str(name) for name in inputs])


def _leading_split(table, source, train_fraction):
    cut = int(len(table.values) * train_fraction)
    labels, times = table.labels, table.times
    return LabelledSeries(
        table.values[:cut], table.values[cut:], None if labels is None else labels[cut:], table.columns, source,
        train_labels=None if labels is None else labels[:cut], test_times=None if times is None else times[cut:],
        train_fraction=train_fraction,
    )


def _find_column(frame, names, exclude=None):
    return next((c for c in frame.columns if c != exclude and str(c).strip().lower() in names), None)


def _input_columns(frame, source, columns, exclude):
    if columns:
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise UserError(f"{source} has no column {shown(missing[0])}; columns: {names(frame.columns)}")
        reserved = [c for c in columns if c in exclude]
        if reserved:
            role = "label" if reserved[0] == exclude[0] else "time"
            raise UserError(f"column {shown(reserved[0])} of {source} is the {role} column; it cannot be an input")
        return list(dict.fromkeys(columns))
    # A column with no header is pandas' saved index or a trailing comma's empty column: not an input.
    candidates = [c for c in frame.columns if c not in exclude and not str(c).startswith("Unnamed: ")]
    empty = [c for c in candidates if frame[c].isna().all()]
    if empty:
        raise UserError(f"column {shown(empty[0])} of {source} has no values (name the inputs with --columns)")
    inputs = [c for c in candidates if mostly_numeric(frame[c])]
    if not inputs:
        raise UserError(f"{source} has no numeric column; columns: {names(frame.columns)}")
    return inputs


def _labels(column, source, first=2):
    numbers = pd.to_numeric(column, errors="coerce")
    bad = ~numbers.isin([0, 1])
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise UserError(f"{source}:{row + first}: {LABEL} must be 0 or 1, not {cell(column.iloc[row])}")
    return numbers.to_numpy().astype(int)


def _numbers(column, name, source, first=2):
    """Float64 with NaN for gaps; text, infinities and empty columns are errors."""
    numbers = pd.to_numeric(column, errors="coerce")
    bad = (column.notna() & numbers.isna()).to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise UserError(f"{source}:{row + first}: column {shown(name)} holds {cell(column.iloc[row])}, not a number")
    values = numbers.to_numpy(dtype="float64")
    if np.isinf(values).any():
        raise UserError(f"{source}:{int(np.flatnonzero(np.isinf(values))[0]) + first}: column {shown(name)} holds an "
                        "infinite value")
    if np.isnan(values).all():
        raise UserError(f"column {shown(name)} of {source} has no values")
    return values


