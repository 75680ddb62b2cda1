"""Time series from a user's CSV or a data set shipped with statsmodels: the target column, any
other columns as input covariates (``columns``), and the dates where the data has them (for
calendar features).

Everything that can go wrong with a user's file becomes a one-line ``UserError``; gaps are filled
by linear interpolation with a warning that says how many, because a forecaster needs a regular
series and silently dropping rows would shift every later time step.
"""

import re
import warnings
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from zoo.errors import DataWarning, UserError, refuse_dangling_link, shown, shown_path  # noqa: F401 (DataWarning: re-exported)


@dataclass
class Series:
    values: np.ndarray  # float64, no NaN
    name: str  # the column
    source: str  # file path or data-set name
    frequency: str | None = None  # pandas offset alias when the data has dates
    covariates: np.ndarray | None = None  # (n, k) other input columns, float64, no NaN
    covariate_names: tuple = ()
    dates: pd.DatetimeIndex | None = None


# Data sets that ship inside statsmodels: name -> (frame, target column, frequency, dates).
def _statsmodels_frame(name):
    try:
        from statsmodels.api import datasets
    except ImportError:
        raise UserError(
            f"data set {name!r} comes from statsmodels: pip install 'lstm-zoo[data]'"
        ) from None
    if name == "sunspots":
        frame = datasets.sunspots.load_pandas().data
        return frame, "SUNACTIVITY", "YS", pd.to_datetime(frame["YEAR"].astype(int).astype(str), format="%Y")
    if name == "nile":
        frame = datasets.nile.load_pandas().data
        return frame, "volume", "YS", pd.to_datetime(frame["year"].astype(int).astype(str), format="%Y")
    if name == "co2":
        frame = datasets.co2.load_pandas().data
        return frame.reset_index(drop=True), "co2", "W", pd.DatetimeIndex(frame.index)
    if name == "elnino":
        frame = datasets.elnino.load_pandas().data
        months = frame.drop(columns="YEAR").to_numpy().reshape(-1)
        start = f"{int(frame['YEAR'].iloc[0])}-01-01"
        return pd.DataFrame({"temperature": months}), "temperature", "MS", pd.date_range(start, periods=len(months), freq="MS")
    if name == "macrodata":
        frame = datasets.macrodata.load_pandas().data
        dates = pd.PeriodIndex.from_fields(year=frame["year"].astype(int), quarter=frame["quarter"].astype(int),
                                           freq="Q").to_timestamp()
        return frame.drop(columns=["year", "quarter"]), "realgdp", "QS", pd.DatetimeIndex(dates)
    raise AssertionError(name)


#: aeon's bundled forecasting series: name -> (loader, columns, frequency, first date).
_AEON_SERIES = {
    "airline": ("load_airline", ("passengers",), "MS", "1949-01-01"),
    "lynx": ("load_lynx", ("lynx",), "YS", "1821-01-01"),
    "shampoo": ("load_shampoo_sales", ("sales",), "MS", "2001-01-01"),
    "uschange": ("load_uschange", ("consumption", "income", "production", "savings", "unemployment"), "QS",
                 "1970-01-01"),
    "pbs": ("load_PBS_dataset", ("scripts",), "MS", "1991-07-01"),
}
#: The M1 competition's 181 yearly series (aeon ships them): ``m1-yearly:T1`` ... ``m1-yearly:T181``.
M1_PREFIX = "m1-yearly:"


def _aeon_frame(name):
    try:
        import aeon.datasets as datasets
    except ImportError:
        raise UserError(f"data set {name!r} comes from aeon: pip install 'lstm-zoo[data]'") from None
    if name.startswith(M1_PREFIX):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = datasets.load_forecasting("m1_yearly_dataset")
        rows = table[table["series_name"] == name[len(M1_PREFIX):]]
        if rows.empty:
            raise UserError(f"no M1 yearly series {shown(name[len(M1_PREFIX):])}; they are T1 ... T{len(table)}")
        row = rows.iloc[0]
        values = np.asarray(row["series_value"], dtype="float64")
        dates = pd.date_range(pd.Timestamp(row["start_timestamp"]), periods=len(values), freq="YS")
        return pd.DataFrame({"value": values}), "value", "YS", dates
    loader, columns, frequency, start = _AEON_SERIES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        values = np.asarray(getattr(datasets, loader)(), dtype="float64")
    values = values.reshape(len(columns), -1).T if values.ndim > 1 else values[:, None]
    frame = pd.DataFrame(values, columns=list(columns))
    return frame, columns[0], frequency, pd.date_range(start, periods=len(frame), freq=frequency)


def m1_yearly_names():
    """``m1-yearly:T1`` ... for every series aeon ships, in its order."""
    import aeon.datasets as datasets

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [M1_PREFIX + name for name in datasets.load_forecasting("m1_yearly_dataset")["series_name"]]


BUILTIN_SERIES = ("sunspots", "nile", "co2", "elnino", "macrodata", *_AEON_SERIES)


def load_series(data="sunspots", column=None, columns=()):
    """A built-in data-set name or a CSV path -> ``Series``; ``columns`` are extra input columns."""
    if data in BUILTIN_SERIES or str(data).startswith(M1_PREFIX):
        frame, default_column, frequency, dates = (_aeon_frame(data) if data in _AEON_SERIES or
                                                   str(data).startswith(M1_PREFIX) else _statsmodels_frame(data))
        column = column or default_column
        if column not in frame.columns:
            raise UserError(f"data set {data!r} has no column {shown(column)}; columns: {names(frame.columns)}")
        values = clean_column(frame[column], column, data)
        return _with_covariates(Series(values=values, name=column, source=data, frequency=frequency,
                                       dates=pd.DatetimeIndex(dates)), frame, columns)
    return read_csv_series(data, column, columns)


def _with_covariates(series, frame, columns, lines=None):
    columns = [c for c in (columns or ()) if c != series.name]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise UserError(f"{series.source} has no column {shown(missing[0])}; columns: {names(frame.columns)}")
    if columns:
        series.covariates = np.stack([clean_column(frame[c], c, series.source, lines) for c in columns], axis=1)
        series.covariate_names = tuple(map(str, columns))
    return series


def read_csv_series(path, column=None, columns=()):
    path = Path(path)
    if not path.exists():
        refuse_dangling_link(path)
        raise UserError(
            f"no such data file: {shown_path(path)} (or use a built-in data set: {', '.join(BUILTIN_SERIES)})"
        )
    if path.is_dir():
        raise UserError(f"{path} is a directory; --data takes a CSV file or a built-in data set")
    frame = read_csv_frame(path)
    source = str(path)
    if column is None:
        numeric = [c for c in frame.columns if mostly_numeric(frame[c])]
        if not numeric:
            raise UserError(f"{path} has no numeric column; columns: {names(frame.columns)}")
        column = numeric[-1]
    elif column not in frame.columns:
        raise UserError(f"{path} has no column {shown(column)}; columns: {names(frame.columns)}")
    # Rows go in date order (with a warning when the file has them otherwise); lines[i] is the
    # file line of row i after that, so every message still points into the file.
    lines = np.arange(len(frame)) + first_line(frame)
    date_column = _date_column(frame, exclude=column, source=source)
    dates = None
    if date_column is not None:
        _refuse_a_panel(frame, date_column, source)
        order = time_order(frame[date_column], date_column, source, first_line(frame))
        frame, lines = frame.iloc[order].reset_index(drop=True), lines[order]
        dates = pd.DatetimeIndex(as_dates(frame[date_column], date_column, source))
    values = clean_column(frame[column], column, source, lines)
    return _with_covariates(Series(values=values, name=str(column), source=source,
                                   frequency=_frequency(dates), dates=dates), frame, columns, lines)


def _refuse_a_panel(frame, date_column, source):
    """Rows of many series (dates repeating, a text column naming the series) are a panel: read as
    one series they would be trained on end to end, so say how to read them."""
    if not frame[date_column].duplicated().any():
        return
    for name in frame.columns:
        column = frame[name]
        if name == date_column or pd.api.types.is_numeric_dtype(column):
            continue
        groups = column.nunique()
        if 1 < groups < len(column) and not frame[[name, date_column]].duplicated().any():
            numeric = [c for c in frame.columns if c not in (name, date_column) and mostly_numeric(frame[c])]
            target = f" --column {shown(numeric[-1])[1:-1]}" if numeric else ""
            raise UserError(f"{source} holds {groups} series (column {shown(name)}), each with its own dates: "
                            f"train one model over them with --id-column {shown(name)[1:-1]} --time-column "
                            f"{shown(date_column)[1:-1]}{target}")


def read_csv_frame(path):
    """A user's CSV (an existing file) -> DataFrame; unreadable, empty or row-less files are ``UserError``s.

    The delimiter and decimal mark are the file's own (``zoo.data.dialect``); numbers written with
    thousands separators are numbers. A blank line in a one-column file is a gap, not nothing: it
    stays as a row of NaN; trailing blank lines are dropped. A file whose first row is all numbers
    has no header: its columns are named "1", "2", ... and ``first_line(frame)`` (the file line of
    row 0) is 1, else 2.
    """
    from zoo.progress import stage

    try:
        size = Path(path).stat().st_size
    except OSError:
        size = 0
    with stage(f"reading {shown_path(path)} ({size / 1e6:.0f} MB)") if size > BIG_FILE else nullcontext():
        return _read_csv_frame(path, big=size > BIG_FILE)


#: Files bigger than this say that they are being read (pandas takes seconds per 100 MB), and are
#: read ``CHUNK_ROWS`` rows at a time with their dates parsed as they come: a text cell costs about
#: 70 bytes in memory, a parsed date 8.
BIG_FILE = 20_000_000
CHUNK_ROWS = 500_000


def _read_in_chunks(path, options):
    """A big CSV -> DataFrame, its date columns parsed chunk by chunk in the format of the first
    chunk (``zoo.data.dialect.date_reader``), so the text of every date is never held at once."""
    from zoo.data.dialect import date_reader

    readers, chunks = None, []
    for chunk in pd.read_csv(path, chunksize=CHUNK_ROWS, **options):
        if readers is None:
            readers = {}
            for name in chunk.columns:
                if chunk[name].dtype == object:
                    reader = date_reader(chunk[name], name, str(path))
                    if reader is not None and reader(chunk[name]).notna().mean() > 0.5:
                        readers[name] = reader
        for name, reader in readers.items():
            chunk[name] = reader(chunk[name])
        chunks.append(chunk)
    return pd.concat(chunks, ignore_index=True) if chunks else pd.DataFrame()


def _read_csv_frame(path, big=False):
    from zoo.data.dialect import SAMPLE_BYTES, sniff, thousands_numbers

    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            dialect = sniff(handle.read(SAMPLE_BYTES))
        options = dict(sep=dialect.delimiter, decimal=dialect.decimal, skip_blank_lines=False)
        # The first row as written (pandas would rename a repeated "0.0" in a header to "0.0.1").
        first = pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False, **options)
        header = not _looks_like_data(first.iloc[0].tolist(), dialect.decimal)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", pd.errors.ParserWarning)
            # index_col=False: rows longer than the header are an error here, not an unnamed index
            if big:
                frame = _read_in_chunks(path, dict(header=0 if header else None, index_col=False, **options))
            else:
                frame = pd.read_csv(path, header=0 if header else None, index_col=False, **options)
        if any(issubclass(w.category, pd.errors.ParserWarning) for w in caught):
            raise UserError(f"{path}: rows have more fields than the header ({frame.shape[1]}) when split at "
                            f"{shown(dialect.delimiter)}; give --sep")
        if not header:
            frame.columns = [str(k + 1) for k in range(frame.shape[1])]
    except pd.errors.EmptyDataError:
        raise UserError(f"{path} is empty") from None
    except UnicodeDecodeError:
        from zoo.data.text_files import read_utf8

        read_utf8(path)  # raises the one-line error that names the line of the first bad byte
        raise
    except pd.errors.ParserError as error:
        raise UserError(f"{path} is not a readable CSV file: {str(error).splitlines()[0][:200]}") from None
    except OSError as error:
        raise UserError(f"cannot read {path}: {error.strerror or error}") from None
    for name in frame.columns:
        if frame[name].dtype == object:
            numbers = thousands_numbers(frame[name], dialect)
            if numbers is not None:
                frame[name] = numbers
    last_row = frame.notna().any(axis=1).to_numpy().nonzero()[0]
    frame = frame.iloc[: last_row[-1] + 1] if len(last_row) else frame.iloc[:0]
    if frame.empty:
        raise UserError(f"{path} has a header but no rows")
    frame.attrs["first_line"] = 2 if header else 1
    frame.attrs["dialect"] = dialect
    return frame


def first_line(frame):
    """The file line (1-based) of the frame's row 0: 2 below a header, 1 in a header-less file."""
    return frame.attrs.get("first_line", 2)


def _looks_like_data(fields, decimal="."):
    """True when every header field is a number or an ISO date (with at least one number): the
    "header" is the first data row of a file that has none ("2020-01-01,5.0" or "1.5,2")."""
    numbers = 0
    for field in map(str, fields):
        try:
            number = float(field.replace(",", ".") if decimal == "," else field)
        except ValueError:
            if not _ISO_DATE.fullmatch(field.strip()):
                return False
            continue
        if number != number:  # a column called "nan" is a name
            return False
        numbers += 1
    return numbers > 0


#: A date (and time) as a header-less file's first row would hold it: 2020-01-31, 2020/01/31 12:00...
_ISO_DATE = re.compile(r"\d{4}[-/]\d{1,2}[-/]\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?")


def names(columns):
    """Column names for a message, cut to a readable length."""
    text = ", ".join(map(str, columns))
    return text if len(text) <= 60 else text[:59] + "…"


def as_dates(column, name=None, source=None):
    """pandas datetimes (NaT where a value is not a date), or None when the column is not dates
    in one format (``zoo.data.dialect.as_dates``: day-first decided from the whole column,
    offsets to UTC)."""
    from zoo.data.dialect import as_dates as parsed

    return parsed(column, name, source)


def _date_column(frame, exclude=None, source=None):
    """The first text column whose every value reads as a date, else None. A column that mostly
    reads as dates but not wholly is named in a warning: it is not silently left out."""
    for name in frame.columns:
        column = frame[name]
        if name == exclude or pd.api.types.is_numeric_dtype(column) or column.isna().all():
            continue
        dates = as_dates(column, name, source)
        if dates is None:
            continue
        read, given = int(dates.notna().sum()), int(column.notna().sum())
        if read == given:
            return name
        if read >= 0.5 * given:
            row = int(np.flatnonzero((column.notna() & dates.isna()).to_numpy())[0])
            warnings.warn(f"{source or 'the file'}:{row + first_line(frame)}: column {shown(name)} looks like dates "
                          f"but {given - read} of its values are not ({cell(column.iloc[row])}); it is not read as "
                          "the time axis", DataWarning, stacklevel=2)
    return None


def time_order(column, name, source, first=2):
    """The permutation that puts rows in time order (numbers or dates); a repeated or unreadable
    time is an error naming its line (row i is line ``first + i``), rows out of order are sorted
    with a warning. The one place both CSV readers (forecaster and anomaly) order their rows."""
    numeric = pd.api.types.is_numeric_dtype(column)
    times = column if numeric else as_dates(column, name, source)
    if times is None:
        raise UserError(f"column {shown(name)} of {source} mixes date formats or time zones")
    missing = times.isna().to_numpy()
    if missing.any():
        row = int(np.flatnonzero(missing)[0])
        raise UserError(f"{source}:{row + first}: column {shown(name)} holds {cell(column.iloc[row])}, "
                        f"not a {'number' if numeric else 'date'}")
    repeated = times.duplicated().to_numpy()
    if repeated.any():
        row = int(np.flatnonzero(repeated)[0])
        earlier = int(np.flatnonzero((times == times.iloc[row]).to_numpy())[0])
        raise UserError(f"{source}:{row + first}: {cut(name)} {cell(column.iloc[row])} repeats line {earlier + first}")
    if times.is_monotonic_increasing:
        return np.arange(len(times))
    warnings.warn(f"{source}: rows are not in {shown(name)} order; sorted them by it", DataWarning, stacklevel=2)
    return np.argsort(times.to_numpy(), kind="stable")


def cell(value):
    """A CSV cell as it appears in a message: "an empty cell", or its text quoted and cut."""
    if pd.api.types.is_scalar(value) and pd.isna(value):
        return "an empty cell"
    return shown(str(value))


def cut(text, limit=60):
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def mostly_numeric(column):
    converted = pd.to_numeric(column, errors="coerce")
    return converted.notna().sum() > 0 and converted.notna().sum() >= 0.5 * column.notna().sum()


def clean_column(column, name, source, lines=None):
    """Numbers only; gaps interpolated (with a warning); text or infinities are errors.

    ``lines[i]``: the file line of row i, for messages (a data set without lines: row numbers)."""
    converted = pd.to_numeric(column, errors="coerce")
    bad = (column.notna() & converted.isna()).to_numpy()
    where = (lambda row: f"{source}:{int(lines[row])}: column {shown(name)}") if lines is not None else \
        (lambda row: f"column {shown(name)} of {source}, row {row + 1}:")
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise UserError(f"{where(row)} is not numeric: it holds {cell(column.iloc[row])}")
    values = converted.to_numpy(dtype="float64")
    if np.isinf(values).any():
        raise UserError(f"{where(int(np.flatnonzero(np.isinf(values))[0]))} holds an infinite value")
    missing = int(np.isnan(values).sum())
    if missing == len(values):
        raise UserError(f"column {shown(name)} of {source} has no values")
    if missing:
        values = pd.Series(values).interpolate(limit_direction="both").to_numpy()
        warnings.warn(
            f"filled {missing} missing value(s) in column {shown(name)} of {source} by interpolation",
            DataWarning,
            stacklevel=2,
        )
    return values


def _frequency(dates):
    """The pandas frequency of sorted, distinct dates, or None when they are irregular."""
    if dates is None or len(dates) < 3:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the infer_freq return-type notice
        try:
            frequency = pd.infer_freq(dates)
        except (TypeError, ValueError):
            return None
    return getattr(frequency, "freqstr", frequency)


#: Calendar cycles worth encoding, by frequency: (name, position in the cycle, cycle length).
_CALENDAR = {
    "M": ("month", lambda d: d.month - 1, 12),
    "Q": ("quarter", lambda d: d.quarter - 1, 4),
    "W": ("week", lambda d: d.isocalendar().week.to_numpy() - 1, 52),
    "D": ("weekday", lambda d: d.dayofweek, 7),
    "B": ("weekday", lambda d: d.dayofweek, 5),
    "h": ("hour", lambda d: d.hour, 24),
}


def calendar_features(dates, frequency):
    """-> (names, (n, 2) array): sine and cosine of the position in the data's natural cycle
    (month of year for monthly data...), or ((), None) for yearly or undated data."""
    base = _base(frequency) if frequency else None
    if dates is None or base not in _CALENDAR:
        return (), None
    name, position, cycle = _CALENDAR[base]
    angle = 2 * np.pi * np.asarray(position(pd.DatetimeIndex(dates)), dtype="float64") / cycle
    return (f"{name}_sin", f"{name}_cos"), np.stack([np.sin(angle), np.cos(angle)], axis=1)


def _base(frequency):
    base = frequency.lstrip("0123456789").split("-")[0].rstrip("SE") or frequency
    return {"H": "h", "ME": "M", "MS": "M", "QS": "Q", "QE": "Q"}.get(base, base)


# The calendar season of a frequency: observations per natural cycle, the calendar features' cycle.
_SEASONS = {base: cycle for base, (_, _, cycle) in _CALENDAR.items()}


#: Season inference looks at most this far back, at lags up to ``MAX_SEASON``: bounded on big files.
SEASON_SAMPLE = 200_000
MAX_SEASON = 10_000


def infer_season(values, frequency=None, max_fraction=0.25):
    """Season length for the seasonal-naive baseline, and where it came from.

    Calendar frequencies give their cycle (monthly -> 12). Yearly or undated data has no calendar
    season, so the lag of the highest autocorrelation peak is used (the ~11-year solar cycle in
    sunspots); with no clear peak the season is 1, i.e. persistence.
    """
    if frequency:
        base = _base(frequency)
        if base in _SEASONS:
            return _SEASONS[base], f"frequency {frequency}"
    values = np.asarray(values, "float64")[-SEASON_SAMPLE:]  # a long series: its most recent part
    centred = values - values.mean()
    denominator = float(np.dot(centred, centred))
    if denominator == 0.0:
        return 1, "constant series"
    max_lag = min(max(2, int(len(values) * max_fraction)), MAX_SEASON)
    # every lag at once by FFT: O(n log n), not a dot product per lag (minutes on millions of rows)
    size = 1 << int(np.ceil(np.log2(2 * len(centred))))
    spectrum = np.fft.rfft(centred, size)
    acf = np.fft.irfft(spectrum * np.conj(spectrum), size)[1 : max_lag + 1] / denominator
    # Peaks after the first dip: lag k where acf rises then falls.
    peaks = [k for k in range(1, len(acf) - 1) if acf[k] > acf[k - 1] and acf[k] >= acf[k + 1]]
    peaks = [k for k in peaks if acf[k] > 0.2]
    if not peaks:
        return 1, "no clear autocorrelation peak"
    best = max(peaks, key=lambda k: acf[k])
    return best + 1, "autocorrelation peak"
