"""How a user's CSV is written, decided from the whole file and never guessed silently: the
delimiter, the decimal mark, thousands separators, and the one format of its date column.

A German export (``datum;umsatz`` / ``01.01.2020;952,85``) read as comma-separated would train on
the cents; dates in dd/mm/yyyy read by the first value's guess would drop every day above 12.
Here the delimiter is the one that splits every sampled line, header included, into the same
number of fields; the decimal mark follows the numbers written in the file; the day comes first
when any value says so (a first field above 12), and where no value says so the reading that
gives dates in file order wins, with a ``warning:`` naming ``--dayfirst``. ``--sep``,
``--decimal`` and ``--dayfirst`` (``choose``) settle what a file cannot.
"""

import csv
import re
import warnings
from dataclasses import dataclass

import numpy as np

from zoo.errors import DataWarning, UserError, shown

#: Delimiters a file may use, preferred in this order when several split it evenly (a semicolon
#: that splits every line is the separator, whatever commas the numbers hold).
DELIMITERS = ("\t", ";", "|", ",")
#: Bytes of a file read to decide its dialect.
SAMPLE_BYTES = 256 * 1024


@dataclass(frozen=True)
class Dialect:
    delimiter: str = ","
    decimal: str = "."

    @property
    def thousands(self):
        return "." if self.decimal == "," else ","


#: What the user chose (``--sep``, ``--decimal``, ``--dayfirst``); None: decided from the file.
_CHOSEN = {"sep": None, "decimal": None, "dayfirst": None}


def choose(sep=None, decimal=None, dayfirst=None):
    """The CLI's ``--sep``/``--decimal``/``--dayfirst`` for every file this process reads."""
    if sep is not None:
        sep = {"\\t": "\t", "tab": "\t"}.get(sep, sep)
        if len(sep) != 1 or sep in "\"'\r\n" or sep.isalnum():
            raise UserError(f"--sep takes one character such as ',', ';', '|' or '\\t', got {shown(sep)}")
    if decimal is not None and decimal not in (".", ","):
        raise UserError(f"--decimal is '.' or ',', got {shown(decimal)}")
    if sep is not None and decimal is not None and sep == decimal:
        raise UserError("--sep and --decimal cannot be the same character")
    _CHOSEN.update(sep=sep, decimal=decimal, dayfirst=dayfirst)


def sniff(sample):
    """The dialect of a file whose first bytes are ``sample`` (text)."""
    lines = [line for line in sample.splitlines() if line.strip()]
    if len(sample) >= SAMPLE_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the last one may be cut
    lines = lines[:200]
    delimiter = _CHOSEN["sep"] or _delimiter(lines)
    decimal = _CHOSEN["decimal"] or (_decimal(lines[1:] or lines, delimiter) if delimiter != "," else ".")
    if delimiter == decimal:
        raise UserError(f"the file's separator and decimal mark would both be {shown(delimiter)}; give --sep")
    return Dialect(delimiter, decimal)


def _delimiter(lines):
    if not lines:
        return ","
    best = None
    for delimiter in DELIMITERS:
        counts = [len(row) for row in csv.reader(lines, delimiter=delimiter)]
        if counts[0] < 2 or any(count != counts[0] for count in counts):
            continue  # must split every line, header included, into the same number of fields
        if best is None:
            best = delimiter
    return best or ","


_COMMA_DECIMAL = re.compile(r"[+-]?(\d{1,3}(\.\d{3})+|\d+),\d+")
_POINT_DECIMAL = re.compile(r"[+-]?\d+\.\d+")


def _decimal(lines, delimiter):
    """"," where numbers in the file are written with a decimal comma (952,85 or 1.234,56)."""
    commas = points = 0
    for row in csv.reader(lines, delimiter=delimiter):
        for field in row:
            field = field.strip()
            commas += bool(_COMMA_DECIMAL.fullmatch(field))
            points += bool(_POINT_DECIMAL.fullmatch(field))
    return "," if commas > points else "."


def thousands_numbers(column, dialect):
    """A text column of numbers written with thousands separators ("1,234.5", "1.234,5") -> floats;
    None when some value is not such a number or none has a separator (then it is not this)."""
    import pandas as pd

    values = column.dropna().astype(str).str.strip()
    values = values[values != ""]
    if values.empty or not values.str.contains(dialect.thousands, regex=False).any():
        return None
    try:
        numbers = plain_numbers(values.to_numpy(), dialect).astype("float64")  # the panel reader's rule too
    except ValueError:
        return None
    result = pd.Series(np.nan, index=column.index)
    result[values.index] = numbers
    return result


def plain_numbers(cells, dialect):
    """Text cells as ``float()`` reads them: the decimal mark a point, thousands separators gone
    (only where a cell is written as grouped thousands; anything else is left to be refused)."""
    cells = np.asarray(cells, dtype=str)
    t, d = re.escape(dialect.thousands), re.escape(dialect.decimal)
    grouped = re.compile(rf"\s*[+-]?\d{{1,3}}({t}\d{{3}})+({d}\d+)?\s*")
    marked = np.char.find(cells, dialect.thousands) >= 0
    if marked.any():
        cells = cells.copy()
        for k in np.flatnonzero(marked):
            if grouped.fullmatch(cells[k]):
                cells[k] = cells[k].replace(dialect.thousands, "")
    return np.char.replace(cells, ",", ".") if dialect.decimal == "," else cells


# --- dates -------------------------------------------------------------------------------------

_ISO = re.compile(r"\d{4}-\d{1,2}(-\d{1,2}([ T]\d{1,2}(:\d{2}(:\d{2}(\.\d+)?)?)?)?)?\s*(Z|[+-]\d{2}(:?\d{2})?)?")
_OFFSET = re.compile(r".*(Z|[+-]\d{2}:?\d{2})$")
#: day and month as numbers in either order: 01/02/2020, 1.2.20, 01-02-2020 13:45
_NUMERIC_DAY_MONTH = re.compile(r"(\d{1,2})([./-])(\d{1,2})\2(\d{4}|\d{2})\b.*")


def as_dates(column, name=None, source=None):
    """A column of dates -> pandas datetimes (NaT where a value is not a date; offsets become UTC
    without a zone), or None when it is not a date column. One format for the whole column."""
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(column):  # a big file's dates, read as they were parsed
        return column
    reader = date_reader(column, name, source)
    return reader(column) if reader is not None else None


def date_reader(column, name=None, source=None):
    """The one format ``column``'s dates are written in, as a function from a column (this one, or
    the next chunk of a big file) to datetimes; None when it is not a column of dates."""
    import pandas as pd

    if pd.api.types.is_numeric_dtype(column):
        return None
    values = column.dropna().astype(str).str.strip()
    values = values[values != ""]
    if values.empty:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas' notices about formats it guessed
        if values.str.fullmatch(_ISO).all():
            zoned = bool(values.str.match(_OFFSET).any())
            padded = bool((values.str.len() != column.dropna().astype(str).str.len()).any())
            return lambda c: _iso_dates(c, zoned, padded)
        parts = values.str.extract(_NUMERIC_DAY_MONTH)
        numeric_day_month = bool(parts[0].notna().all())
    if numeric_day_month:
        fmt = _day_month_format(column, values, parts, name, source)
    else:
        fmt = _guess(values.iloc[0])
    return None if fmt is False else lambda c: _formatted_dates(c, fmt)


def _iso_dates(column, zoned, padded):
    import pandas as pd

    text = column.astype("string").str.strip() if padded else column
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dates = pd.to_datetime(text, format="ISO8601", utc=zoned, errors="coerce")
    return dates.dt.tz_convert(None) if zoned else dates


def _formatted_dates(column, fmt):
    import pandas as pd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            dates = pd.to_datetime(column, format=fmt, errors="coerce") if fmt else \
                pd.to_datetime(column, errors="coerce")
        except (ValueError, TypeError, OverflowError):  # e.g. mixed time zones
            return None
    return dates if pd.api.types.is_datetime64_any_dtype(dates) else None


def _guess(value):
    from pandas.tseries.api import guess_datetime_format

    return guess_datetime_format(value)


def _day_month_format(column, values, parts, name, source):
    """dd/mm or mm/dd, from every value of the column (not its first) -> the format, or False
    when the column mixes both (then it is not one column of dates)."""
    import pandas as pd

    first, second = parts[0].astype(int), parts[2].astype(int)
    day_first_seen, month_first_seen = bool((first > 12).any()), bool((second > 12).any())
    if day_first_seen and month_first_seen:
        return False
    formats = {day_first: _guess_with(values.iloc[0], day_first) for day_first in (True, False)}
    if _CHOSEN["dayfirst"] is not None:
        return formats[_CHOSEN["dayfirst"]]
    if day_first_seen or month_first_seen:
        return formats[day_first_seen]
    # Every day is 12 or less: the reading whose dates run in file order (either way) and evenly wins.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ordered = {day_first: _orderly(pd.to_datetime(column, format=fmt, errors="coerce"))
                   for day_first, fmt in formats.items() if fmt}
    if ordered.get(True, 0) != ordered.get(False, 0):
        return formats[max(ordered, key=ordered.get)]
    day_first = parts[1].iloc[0] == "."  # 01.02.2020 is European
    where = f"column {shown(str(name))} of {source}" if name is not None else "a date column"
    warnings.warn(f"{where}: dates like {values.iloc[0]} could be day or month first; read them "
                  f"{'day' if day_first else 'month'} first (--dayfirst or --monthfirst to choose)", DataWarning)
    return formats[day_first]


def _guess_with(value, day_first):
    from pandas.tseries.api import guess_datetime_format

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return guess_datetime_format(value, dayfirst=day_first)


def _orderly(dates):
    """2 for dates in file order (rising or falling) at a calendar frequency, 1 in order, 0 otherwise."""
    import pandas as pd

    if dates is None or dates.isna().any():
        return 0
    steps = np.diff(dates.to_numpy().astype("int64"))
    if not (steps > 0).all() and not (steps < 0).all():
        return 0
    if len(dates) < 3:
        return 1
    try:
        return 2 if pd.infer_freq(pd.DatetimeIndex(dates.sort_values())) else 1
    except (TypeError, ValueError):
        return 1
