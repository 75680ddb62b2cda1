"""CSV dialects and dates are decided from the file, never guessed silently: delimiters, decimal
commas, thousands separators, day-first dates and time-zone offsets."""

import warnings

import numpy as np
import pandas as pd
import pytest

from conftest import run_cli
from zoo.data.dialect import Dialect, choose, plain_numbers, sniff
from zoo.data.series import DataWarning, read_csv_series
from zoo.errors import UserError

DAYS = pd.date_range("2020-01-01", periods=40, freq="D")
VALUES = np.round(np.random.default_rng(0).uniform(600, 1900, len(DAYS)), 2)


@pytest.fixture(autouse=True)
def _nothing_chosen():
    choose()
    yield
    choose()


def write(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_semicolons_and_decimal_commas_are_read_as_a_german_export_means_them(tmp_path):
    rows = [f"{d:%d.%m.%Y};{v:.2f}".replace(f"{v:.2f}", f"{v:.2f}".replace(".", ",")) for d, v in zip(DAYS, VALUES)]
    series = read_csv_series(write(tmp_path / "umsatz.csv", ["datum;umsatz", *rows]))
    np.testing.assert_allclose(series.values, VALUES)  # not the cents
    assert series.name == "umsatz" and series.frequency == "D" and series.dates[12] == pd.Timestamp("2020-01-13")


def test_thousands_separators_are_numbers(tmp_path):
    rows = [f'{d:%Y-%m-%d},"{v * 1000:,.2f}"' for d, v in zip(DAYS, VALUES)]
    series = read_csv_series(write(tmp_path / "sales.csv", ["date,sales", *rows]))
    np.testing.assert_allclose(series.values, VALUES * 1000)
    rows = [f"{d:%Y-%m-%d};{v * 1000:,.2f}".replace(",", "X").replace(".", ",").replace("X", ".")
            for d, v in zip(DAYS, VALUES)]
    series = read_csv_series(write(tmp_path / "umsatz.csv", ["datum;umsatz", *rows]))  # 1.234.567,89
    np.testing.assert_allclose(series.values, VALUES * 1000)


@pytest.mark.parametrize("delimiter", ["\t", "|", ";", ","])
def test_each_delimiter(tmp_path, delimiter):
    rows = [f"{d:%Y-%m-%d}{delimiter}{v}{delimiter}{k}" for k, (d, v) in enumerate(zip(DAYS, VALUES))]
    series = read_csv_series(write(tmp_path / "data.csv", [f"date{delimiter}sales{delimiter}promo", *rows]),
                             column="sales")
    np.testing.assert_allclose(series.values, VALUES)


def test_day_first_is_decided_from_the_whole_column_not_its_first_value(tmp_path):
    """01/01/2020 ... 12/01/2020 read month first would be twelve months, then 13/01 fails."""
    rows = [f"{d:%d/%m/%Y},{v}" for d, v in zip(DAYS, VALUES)]
    series = read_csv_series(write(tmp_path / "daily.csv", ["date,sales", *rows]))
    assert len(series.values) == len(DAYS) and series.frequency == "D"
    assert list(series.dates) == list(DAYS)


def test_month_first_when_the_second_field_passes_12(tmp_path):
    rows = [f"{d:%m/%d/%Y},{v}" for d, v in zip(DAYS, VALUES)]
    series = read_csv_series(write(tmp_path / "us.csv", ["date,sales", *rows]))
    assert list(series.dates) == list(DAYS)


def test_dates_that_read_either_way_are_read_in_file_order_or_announced(tmp_path):
    days = pd.date_range("2020-03-01", periods=10, freq="D")  # 01/03 ... 10/03: daily day-first, not month-first
    rows = [f"{d:%d/%m/%Y},{v}" for d, v in zip(days, VALUES)]
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        series = read_csv_series(write(tmp_path / "daily.csv", ["date,sales", *rows]))
    assert list(series.dates) == list(days)
    months = pd.date_range("2020-01-01", periods=10, freq="MS")  # 01/01 ... 01/10: monthly or daily, both even
    rows = [f"{d:%d/%m/%Y},{v}" for d, v in zip(months, VALUES)]
    with pytest.warns(DataWarning, match="could be day or month first; read them month first .*--dayfirst"):
        read_csv_series(write(tmp_path / "either.csv", ["date,sales", *rows]))
    choose(dayfirst=True)
    series = read_csv_series(tmp_path / "either.csv")
    assert list(series.dates) == list(months)


def test_time_zone_offsets_that_change_at_daylight_saving_become_utc(tmp_path):
    hours = pd.date_range("2020-03-28 12:00", periods=len(VALUES), freq="h", tz="Europe/Berlin")
    rows = [f"{t.isoformat()},{v}" for t, v in zip(hours, VALUES)]
    series = read_csv_series(write(tmp_path / "hourly.csv", ["time,load", *rows]))
    assert series.frequency == "h" and len(series.values) == len(hours)
    assert series.dates[0] == pd.Timestamp("2020-03-28 11:00")  # UTC, across the change at 02:00


def test_a_date_column_with_an_unreadable_value_is_named_in_a_warning(tmp_path):
    rows = [f"{d:%Y-%m-%d},{v}" for d, v in zip(DAYS, VALUES)]
    rows[5] = f"someday,{VALUES[5]}"
    with pytest.warns(DataWarning, match=r"data.csv:7: column 'date' looks like dates but 1 of its values are not"):
        read_csv_series(write(tmp_path / "data.csv", ["date,sales", *rows]))


def test_rows_longer_than_the_header_are_refused_not_read_as_an_index(tmp_path):
    path = write(tmp_path / "data.csv", ["date;sales", *[f"{d:%d.%m.%Y};{v}".replace(".", ",") for d, v in
                                                           zip(DAYS, VALUES)]])
    choose(sep=",")
    with pytest.raises(UserError, match="rows have more fields than the header .* give --sep"):
        read_csv_series(path)


def test_sniffing():
    assert sniff("a;b\n1,5;2,5\n3,5;4\n") == Dialect(";", ",")
    assert sniff("a,b\n1.5,2\n") == Dialect(",", ".")
    assert sniff("datum\tumsatz\n01.01.2020\t952,85\n") == Dialect("\t", ",")
    assert sniff("x\n1\n2\n") == Dialect(",", ".")  # one column
    assert sniff("") == Dialect()
    choose(sep=";", decimal=",")
    assert sniff("a,b\n1,2\n") == Dialect(";", ",")


def test_plain_numbers_leaves_what_is_not_grouped_thousands_to_be_refused():
    assert plain_numbers(["1,234.5", "7", "1,5"], Dialect(",", ".")).tolist() == ["1234.5", "7", "1,5"]
    assert plain_numbers(["1.234,5", "7", "2,25"], Dialect(";", ",")).tolist() == ["1234.5", "7", "2.25"]


def test_panel_files_in_a_german_dialect(tmp_path):
    from zoo.models.forecaster.panel_data import read_panel

    path = write(tmp_path / "panel.csv", ["unique_id;ds;y", "a;2020-01-01;1,5", "a;2020-02-01;1.234,5",
                                          "b;2020-01-01;3", "b;2020-02-01;4"])
    panel = read_panel(path)
    assert panel.ids == ["a", "b"]
    np.testing.assert_allclose(panel.values[0], [1.5, 1234.5])


@pytest.mark.parametrize("args, message", [
    (["--sep", "ab"], "--sep takes one character"),
    (["--decimal", ";"], "Invalid value for '--decimal'"),
])
def test_dialect_options_are_checked(capsys, tmp_path, args, message):
    code, _, err = run_cli(capsys, "train", "forecaster", "--data", "x.csv", *args)
    assert code == 2 and err.startswith("error: ") and message in err


# --- Hypothesis: any dialect a spreadsheet writes, read back as the numbers written ---------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y", "%d/%m/%Y", "%m/%d/%Y", "%Y-%m-%dT%H:%M:%S+01:00")


@st.composite
def written_tables(draw):
    """(CSV text, the numbers it holds, the dates it holds) in a random dialect."""
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    decimal = "." if delimiter == "," else draw(st.sampled_from([".", ","]))
    grouped = draw(st.booleans())
    rows = draw(st.integers(min_value=14, max_value=40))
    values = draw(st.lists(st.floats(min_value=-2e6, max_value=2e6, allow_nan=False).map(lambda v: round(v, 2)),
                           min_size=rows, max_size=rows))
    start = draw(st.dates(min_value=pd.Timestamp("1990-01-01").date(), max_value=pd.Timestamp("2030-01-01").date()))
    dates = pd.date_range(start, periods=rows, freq="D")
    fmt = draw(st.sampled_from(DATE_FORMATS))

    def number(v):
        text = f"{v:,.2f}" if grouped else f"{v:.2f}"  # 1,234,567.89
        if decimal == ",":
            text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
        return f'"{text}"' if delimiter in text else text

    lines = [delimiter.join(["date", "amount"])]
    lines += [delimiter.join([d.strftime(fmt), number(v)]) for d, v in zip(dates, values)]
    return "\n".join(lines) + "\n", np.asarray(values), dates


@settings(max_examples=60, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(table=written_tables())
def test_any_dialect_reads_back_the_numbers_and_dates_written(tmp_path, table):
    text, values, dates = table
    path = tmp_path / "data.csv"
    path.write_text(text, encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)  # an either-way date reading is announced; checked above
        series = read_csv_series(path, column="amount")
    np.testing.assert_allclose(series.values, values, atol=1e-9)
    # 14 days or more always include a day above 12, so day and month are never in doubt
    expected = dates - pd.Timedelta(hours=1) if text.splitlines()[1].split(text[4])[0].endswith("+01:00") else dates
    assert list(series.dates) == list(expected)
