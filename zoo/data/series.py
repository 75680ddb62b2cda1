"""Univariate time series from a user's CSV or a data set shipped with statsmodels.

Everything that can go wrong with a user's file becomes a one-line ``UserError``; gaps are filled
by linear interpolation with a warning that says how many, because a forecaster needs a regular
series and silently dropping rows would shift every later time step.
"""

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from zoo.errors import UserError


class DataWarning(UserWarning):
    """Something about the data was repaired; the CLI shows it as one ``warning:`` line."""


@dataclass
class Series:
    values: np.ndarray  # float64, no NaN
    name: str  # the column
    source: str  # file path or data-set name
    frequency: str | None = None  # pandas offset alias when the data has dates


# Data sets that ship inside statsmodels: name -> (loader, column, date column or fixed frequency).
def _statsmodels_frame(name):
    try:
        from statsmodels.api import datasets
    except ImportError:
        raise UserError(
            f"data set {name!r} comes from statsmodels: pip install 'lstm-zoo[data]'"
        ) from None
    if name == "sunspots":
        return datasets.sunspots.load_pandas().data, "SUNACTIVITY", "YS"
    if name == "nile":
        return datasets.nile.load_pandas().data, "volume", "YS"
    if name == "co2":
        frame = datasets.co2.load_pandas().data
        return frame, "co2", "W"
    if name == "elnino":
        frame = datasets.elnino.load_pandas().data
        months = frame.drop(columns="YEAR").to_numpy().reshape(-1)
        return pd.DataFrame({"temperature": months}), "temperature", "MS"
    raise AssertionError(name)


BUILTIN_SERIES = ("sunspots", "nile", "co2", "elnino")


def load_series(data="sunspots", column=None):
    """A built-in data-set name or a CSV path -> ``Series``."""
    if data in BUILTIN_SERIES:
        frame, default_column, frequency = _statsmodels_frame(data)
        column = column or default_column
        if column not in frame.columns:
            raise UserError(f"data set {data!r} has no column {column!r}")
        values = _clean(frame[column], column, data)
        return Series(values=values, name=column, source=data, frequency=frequency)
    return read_csv_series(data, column)


def read_csv_series(path, column=None):
    path = Path(path)
    if not path.exists():
        raise UserError(
            f"no such data file: {path} (or use a built-in data set: {', '.join(BUILTIN_SERIES)})"
        )
    try:
        # A blank line in a one-column file is a gap, not nothing: keep it as NaN.
        frame = pd.read_csv(path, skip_blank_lines=False)
    except pd.errors.EmptyDataError:
        raise UserError(f"{path} is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise UserError(f"{path} is not a readable CSV file: {str(error).splitlines()[0]}") from None
    last_row = frame.notna().any(axis=1).to_numpy().nonzero()[0]
    frame = frame.iloc[: last_row[-1] + 1] if len(last_row) else frame.iloc[:0]
    if frame.empty:
        raise UserError(f"{path} has a header but no rows")
    if column is None:
        numeric = [c for c in frame.columns if _mostly_numeric(frame[c])]
        if not numeric:
            raise UserError(f"{path} has no numeric column; columns: {', '.join(map(str, frame.columns))}")
        column = numeric[-1]
    elif column not in frame.columns:
        raise UserError(f"{path} has no column {column!r}; columns: {', '.join(map(str, frame.columns))}")
    values = _clean(frame[column], column, str(path))
    return Series(values=values, name=str(column), source=str(path), frequency=_frequency(frame))


def _mostly_numeric(column):
    converted = pd.to_numeric(column, errors="coerce")
    return converted.notna().sum() > 0 and converted.notna().sum() >= 0.5 * column.notna().sum()


def _clean(column, name, source):
    """Numbers only; gaps interpolated (with a warning); text or infinities are errors."""
    converted = pd.to_numeric(column, errors="coerce")
    bad = column.notna() & converted.isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise UserError(
            f"column {name!r} of {source} is not numeric: row {row + 1} holds {column.iloc[row]!r}"
        )
    values = converted.to_numpy(dtype="float64")
    if np.isinf(values).any():
        raise UserError(f"column {name!r} of {source} holds an infinite value")
    missing = int(np.isnan(values).sum())
    if missing == len(values):
        raise UserError(f"column {name!r} of {source} has no values")
    if missing:
        values = pd.Series(values).interpolate(limit_direction="both").to_numpy()
        warnings.warn(
            f"filled {missing} missing value(s) in column {name!r} of {source} by interpolation",
            DataWarning,
            stacklevel=2,
        )
    return values


def _frequency(frame):
    """The pandas frequency of the first column that parses as regular dates, if any."""
    for name in frame.columns:
        if pd.api.types.is_numeric_dtype(frame[name]):
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # format guessing and the infer_freq return-type notice
            dates = pd.to_datetime(frame[name], errors="coerce")
            if dates.notna().all() and len(dates) >= 3:
                try:
                    frequency = pd.infer_freq(pd.DatetimeIndex(dates))
                except (TypeError, ValueError):
                    return None
                return getattr(frequency, "freqstr", frequency)
    return None


# The calendar season of a frequency: observations per natural cycle.
_SEASONS = {"h": 24, "D": 7, "B": 5, "W": 52, "M": 12, "Q": 4}


def infer_season(values, frequency=None, max_fraction=0.25):
    """Season length for the seasonal-naive baseline, and where it came from.

    Calendar frequencies give their cycle (monthly -> 12). Yearly or undated data has no calendar
    season, so the lag of the highest autocorrelation peak is used (the ~11-year solar cycle in
    sunspots); with no clear peak the season is 1, i.e. persistence.
    """
    if frequency:
        base = frequency.lstrip("0123456789").split("-")[0].rstrip("SE") or frequency
        base = {"H": "h", "ME": "M", "MS": "M", "QS": "Q", "QE": "Q"}.get(base, base)
        if base in _SEASONS:
            return _SEASONS[base], f"frequency {frequency}"
    centred = values - values.mean()
    denominator = float(np.dot(centred, centred))
    if denominator == 0.0:
        return 1, "constant series"
    max_lag = max(2, int(len(values) * max_fraction))
    acf = np.array([np.dot(centred[:-lag], centred[lag:]) / denominator for lag in range(1, max_lag + 1)])
    # Peaks after the first dip: lag k where acf rises then falls.
    peaks = [k for k in range(1, len(acf) - 1) if acf[k] > acf[k - 1] and acf[k] >= acf[k + 1]]
    peaks = [k for k in peaks if acf[k] > 0.2]
    if not peaks:
        return 1, "no clear autocorrelation peak"
    best = max(peaks, key=lambda k: acf[k])
    return best + 1, "autocorrelation peak"
