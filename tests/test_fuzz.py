"""Property-based checks of the CLI's promise on bad input: exit 0 with a correct result, or exit 2
with exactly one ``error:`` line (``warning:`` lines allowed), never a traceback, never a
half-written output folder.

Most properties run on the input boundaries the CLI goes through (the recipes' ``load_data``,
``zoo.data.arrays``, ``predict_text`` with the runner the CLI builds), where Hypothesis can try
hundreds of inputs in seconds; a handful of examples go through the whole ``zoo`` command, and
the training ones are marked slow. Hypothesis is derandomized, so CI sees the same examples
every run. Failures these properties found are kept as plain regression tests at the end.
"""

import csv
import io
import math
import warnings
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from conftest import run_cli
from zoo.data.series import DataWarning
from zoo.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
RELEASED = ROOT / "models" / "released"

#: Every message and warning fits on a line a user can read: long values are cut.
MESSAGE_LIMIT = 400


def fuzz(examples):
    """Reproducible settings: the same examples on every run, no deadline (TF's first call is slow)."""
    return settings(max_examples=examples, derandomize=True, deadline=None, database=None, print_blob=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large, HealthCheck.large_base_example])


# ---------------------------------------------------------------------------------------------
# The properties


def outcome(call):
    """-> (result or None, error message or None, DataWarning messages). A ``UserError`` is a fine
    answer if it is one readable line; anything else escaping is a bug (the CLI would print a
    traceback and exit 1)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result, message = call(), None
        except UserError as error:
            result, message = None, str(error)
            assert message and "\n" not in message and len(message) <= MESSAGE_LIMIT, message
    notes = [str(w.message) for w in caught if issubclass(w.category, DataWarning)]
    for note in notes:
        assert "\n" not in note and len(note) <= MESSAGE_LIMIT, note
    return result, message, notes


def check_cli(code, out, err, out_dir=None):
    """The CLI's promise for one run; -> the error line or None."""
    assert "Traceback" not in out + err, err
    assert code in (0, 2), (code, err)
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    if code == 2:
        assert len(errors) == 1 and lines[-1] == errors[0], err
        assert len(errors[0]) <= MESSAGE_LIMIT + 100, errors[0]
    else:
        assert not errors, err
    if out_dir is not None:
        out_dir = Path(out_dir)
        if out_dir.exists() and any(out_dir.iterdir()):
            assert (out_dir / "metrics.json").exists(), f"partial run left in {out_dir}: {sorted(out_dir.iterdir())}"
        leftovers = [p.name for p in out_dir.parent.glob(f".{out_dir.name}*")] + \
                    [p.name for p in out_dir.parent.glob(".*.tmp*")]
        assert not leftovers, leftovers
    return errors[0] if errors else None


# ---------------------------------------------------------------------------------------------
# CSV files: headers present or not (any Unicode), dates sorted, shuffled, repeated, irregular,
# values clean or with gaps, text and infinities, any length.

DATE_MODES = ("none", "sorted", "unsorted", "duplicated", "irregular", "gap")
FREQUENCIES = ("D", "h", "MS", "YS", "W-SUN", "QS")
ODD_CELLS = ("", "nan", "NA", "inf", "-inf", "1e400", "0x10", "1,5", " 3 ", "—", "１２", "True", "1_000")


def _not_a_number(text):
    try:
        float(text)
    except ValueError:
        return not any(ch.isdigit() for ch in text[:4])  # nor a date: a header of names, not of data
    return False


header_names = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12).filter(_not_a_number)


@st.composite
def csv_tables(draw, max_rows=90):
    """-> (CSV text, facts about it the properties check against)."""
    rows = draw(st.integers(0, max_rows))
    clean = draw(st.booleans())
    header = draw(st.booleans())
    date_mode = draw(st.sampled_from(DATE_MODES)) if rows else "none"
    n_values = draw(st.integers(1, 3))
    columns = []
    order = None
    if date_mode != "none":
        start = pd.Timestamp(draw(st.datetimes(datetime(1900, 1, 1), datetime(2100, 1, 1)))).floor("h")
        frequency = draw(st.sampled_from(FREQUENCIES))
        if date_mode == "irregular":
            steps = draw(st.lists(st.integers(1, 500), min_size=rows, max_size=rows))
            dates = pd.DatetimeIndex([start + pd.Timedelta(hours=int(h)) for h in np.cumsum(steps)])
        else:
            dates = pd.date_range(start, periods=rows, freq=frequency)
        text = [d.strftime("%Y-%m-%d %H:%M:%S" if frequency == "h" or date_mode == "irregular" else "%Y-%m-%d")
                for d in dates]
        if date_mode == "unsorted":
            order = draw(st.permutations(range(rows)))
            text = [text[k] for k in order]
        elif date_mode == "duplicated" and rows >= 2:
            i, j = sorted(draw(st.lists(st.integers(0, rows - 1), min_size=2, max_size=2, unique=True)))
            text[j] = text[i]
        elif date_mode == "gap":
            text[draw(st.integers(0, rows - 1))] = draw(st.sampled_from(["", "not a date", "2020-13-45"]))
        columns.append(text)
    for _ in range(n_values):
        if clean:
            constant = draw(st.booleans()) and draw(st.booleans())
            numbers = [draw(st.floats(-1e6, 1e6, allow_nan=False))] * rows if constant else \
                draw(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=rows, max_size=rows))
            columns.append([repr(float(v)) for v in numbers])
        else:
            cell = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr), st.integers(-10**6, 10**6).map(str),
                             st.sampled_from(ODD_CELLS), st.text(max_size=6))
            columns.append(draw(st.lists(cell, min_size=rows, max_size=rows)))
    if date_mode != "none":
        position = draw(st.integers(0, len(columns) - 1))
        columns.insert(position, columns.pop(0))
    names = draw(st.lists(header_names, min_size=len(columns), max_size=len(columns), unique=True)) if header else None
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if names:
        writer.writerow(names)
    for row in zip(*columns):
        writer.writerow(row)
    facts = {"rows": rows, "clean": clean, "header": header, "dates": date_mode, "order": order,
             "distinct": date_mode in ("sorted", "unsorted", "irregular") or (date_mode == "duplicated" and rows < 2)}
    return buffer.getvalue(), facts


def load_as_cli(name, path, data_options=None, **overrides):
    """What ``zoo train NAME --data PATH --quick [--column ...] [--set ...]`` does before training:
    its config, then the recipe's data loading."""
    from zoo.registry import get_recipe

    recipe = get_recipe(name)
    data_options = {"data": str(path), **(data_options or {})}
    config = recipe.config(**{**recipe.presets_for(data_options), **recipe.quick, **overrides})
    return recipe.load_data(config, **data_options)


def _finite_split(split):
    for name in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        array = getattr(split, name, None)
        if isinstance(array, np.ndarray) and array.dtype.kind == "f":
            assert np.isfinite(array).all(), f"{name} holds NaN or infinity"


@fuzz(150)
@given(table=csv_tables())
@example(table=("1.0\n2.0\n3.0\n", {"rows": 3, "clean": True, "header": False, "dates": "none", "order": None,
                                    "distinct": False}))
def test_forecaster_csv_loads_or_fails_cleanly(tmp_path_factory, table):
    text, facts = table
    path = tmp_path_factory.mktemp("csv") / "data.csv"
    path.write_text(text, encoding="utf-8")
    split, message, notes = outcome(lambda: load_as_cli("forecaster", path))
    if facts["dates"] == "duplicated" and facts["rows"] >= 2 and message is None:
        pytest.fail("repeated dates were accepted")
    if message is not None:
        return
    _finite_split(split)
    if facts["clean"] and facts["dates"] != "gap":
        assert split.info["length"] == facts["rows"], "rows lost (a header-less file's first row?)"
    if facts["dates"] == "unsorted" and facts["order"] != sorted(facts["order"]):
        assert any("order" in note for note in notes), "unsorted dates used as they come, without a warning"


@fuzz(60)
@given(table=csv_tables())
def test_series_values_follow_the_dates(tmp_path_factory, table):
    """Unsorted dates: the values come out in date order, the same as from the sorted file."""
    from zoo.data.series import load_series

    text, facts = table
    path = tmp_path_factory.mktemp("csv") / "data.csv"
    path.write_text(text, encoding="utf-8")
    series, message, _ = outcome(lambda: load_series(str(path)))
    if message is not None or series.dates is None:
        return
    assert series.dates.is_monotonic_increasing and series.dates.is_unique
    assert len(series.values) == len(series.dates) and np.isfinite(series.values).all()


@fuzz(100)
@given(table=csv_tables(max_rows=60), window=st.integers(2, 8))
def test_anomaly_csv_loads_or_fails_cleanly(tmp_path_factory, table, window):
    text, facts = table
    path = tmp_path_factory.mktemp("csv") / "data.csv"
    path.write_text(text, encoding="utf-8")
    split, message, notes = outcome(lambda: load_as_cli("anomaly", path, window=window, stride=1))
    if facts["dates"] == "duplicated" and facts["rows"] >= 2 and message is None:
        pytest.fail("repeated times were accepted")
    if message is None:
        _finite_split(split)


raw_files = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300).map(lambda t: t.encode("utf-8")),
    st.lists(st.sampled_from(["1", "2.5", ",", "\n", "\r\n", '"', "a", "", "\ufeff", "\x00", "2020-01-01", "nan",
                              "é", "\t", ";", "-", "e9"]), max_size=120).map(lambda parts: "".join(parts).encode()),
)


@fuzz(200)
@given(raw=raw_files, reader=st.sampled_from(["forecaster", "anomaly", "inputs"]))
@example(raw=b"\xff\xfe1\n2\n", reader="forecaster")
@example(raw=b'"1\n2', reader="inputs")
def test_any_bytes_as_a_csv(tmp_path_factory, raw, reader):
    """Whatever the file holds (bytes, NULs, a BOM, stray quotes), loading it ends in data or one line."""
    from zoo.data.arrays import read_inputs

    path = tmp_path_factory.mktemp("raw") / "data.csv"
    path.write_bytes(raw)
    if reader == "inputs":
        outcome(lambda: read_inputs(path, 1))
    else:
        outcome(lambda: load_as_cli(reader, path, **({"window": 2, "stride": 1} if reader == "anomaly" else {})))


@fuzz(120)
@given(table=csv_tables(max_rows=40), model=st.sampled_from(["forecaster", "anomaly"]),
       column=st.one_of(st.none(), header_names, st.sampled_from(["1", "2", "x" * 100_000])),
       columns=st.one_of(st.none(), st.lists(st.one_of(header_names, st.sampled_from(["1", "2", ""])), max_size=3)
                         .map(",".join)))
def test_column_options(tmp_path_factory, table, model, column, columns):
    """--column and --columns name any string: a column of the file, or one error line naming the choices."""
    text, _ = table
    path = tmp_path_factory.mktemp("csv") / "data.csv"
    path.write_text(text, encoding="utf-8")
    options = {k: v for k, v in (("column", column), ("columns", columns)) if v is not None}
    extra = {"window": 2, "stride": 1} if model == "anomaly" else {}
    split, message, _ = outcome(lambda: load_as_cli(model, path, options, **extra))
    if message is None:
        _finite_split(split)


# ---------------------------------------------------------------------------------------------
# zoo predict --input: .npy arrays of any shape and dtype, CSVs with or without a header.

npy_dtypes = st.one_of(hnp.scalar_dtypes(), hnp.unicode_string_dtypes(max_len=3), hnp.byte_string_dtypes(max_len=3))
npy_arrays = hnp.arrays(dtype=npy_dtypes, shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5))


@fuzz(300)
@given(array=npy_arrays, n_features=st.sampled_from([1, 2, 3]))
@example(array=np.array([1], dtype="timedelta64[Y]"), n_features=1)  # numpy counts timedelta64 as an integer
def test_npy_inputs_are_read_exactly_or_refused(tmp_path_factory, array, n_features):
    from zoo.data.arrays import read_inputs

    path = tmp_path_factory.mktemp("npy") / "x.npy"
    np.save(path, array)
    inputs, message, _ = outcome(lambda: read_inputs(path, n_features))
    if message is not None:
        return
    assert array.dtype.kind in "biuf", f"{array.dtype} accepted"
    assert inputs.dtype == np.float32 and inputs.ndim == 3 and inputs.shape[-1] == n_features
    assert np.isfinite(inputs).all()
    np.testing.assert_array_equal(inputs.reshape(-1), array.astype("float32").reshape(-1))  # nothing dropped


@fuzz(150)
@given(array=npy_arrays, vocabulary=st.sampled_from([None, 10, 20000]))
def test_token_inputs_are_read_exactly_or_refused(tmp_path_factory, array, vocabulary):
    from zoo.data.arrays import read_tokens

    path = tmp_path_factory.mktemp("npy") / "ids.npy"
    np.save(path, array)
    ids, message, _ = outcome(lambda: read_tokens(path, vocabulary))
    if message is not None:
        return
    assert ids.dtype == np.int32 and ids.ndim == 2 and ids.min() >= 0
    assert ids.max() < (vocabulary or 2**31)
    np.testing.assert_array_equal(ids.reshape(-1), array.reshape(-1))  # no wrapped or clamped id


@fuzz(120)
@given(table=csv_tables(max_rows=30), n_features=st.sampled_from([1, 2]))
def test_csv_inputs_keep_every_row(tmp_path_factory, table, n_features):
    from zoo.data.arrays import read_inputs

    text, facts = table
    path = tmp_path_factory.mktemp("csv") / "x.csv"
    path.write_text(text, encoding="utf-8")
    inputs, message, _ = outcome(lambda: read_inputs(path, n_features))
    if message is None:
        assert inputs.ndim == 3 and inputs.shape[-1] == n_features and np.isfinite(inputs).all()
        if facts["clean"] and facts["dates"] != "gap":
            from zoo.data.series import read_csv_frame

            width = read_csv_frame(path).select_dtypes("number").shape[1]
            rows_are_sequences = not facts["header"] and n_features == 1 and width > 1  # as in a .npy
            assert inputs.shape[0 if rows_are_sequences else 1] == facts["rows"], "a row was taken for a header"


@pytest.fixture(scope="module")
def npy_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("predict")


@fuzz(12)
@given(array=npy_arrays)
@example(array=np.array([1.0 + 1j, 2.0]))
@example(array=np.arange(5.0))
def test_predict_cli_on_any_npy(npy_dir, capsys, array):
    """The whole command on the released forecaster: exit 0 with one line per sequence, or one error line."""
    path = npy_dir / "x.npy"
    np.save(path, array)
    code, out, err = run_cli(capsys, "predict", RELEASED / "forecaster", "--input", path)
    check_cli(code, out, err)
    if code == 0:
        rows = [line.split() for line in out.splitlines() if line.strip()]
        assert rows and all(len(row) == len(rows[0]) and all(math.isfinite(float(v)) for v in row) for row in rows)


def _not_a_real_target(text):
    """Paths the fuzz may pass: nothing that exists, no model or data-set name (those would run)."""
    from zoo.models.anomaly.data import BUNDLED
    from zoo.data.series import BUILTIN_SERIES
    from zoo.registry import list_models

    names = {*list_models(), *BUILTIN_SERIES, *(n.lower() for n in BUNDLED)}
    if text.lower() in names or text.startswith("m1-yearly:") or text.startswith("-"):
        return False
    try:
        return not Path(text).exists()
    except (OSError, ValueError):
        return True


path_texts = st.one_of(st.text(min_size=1, max_size=30), st.sampled_from(["x" * 300, "a/" * 2000, "é" * 200, "a\x00b",
                                                                        "/proc/x", "/root/.x", "."])
                       ).filter(_not_a_real_target)


@fuzz(60)
@given(path=path_texts, command=st.sampled_from(["data", "anomaly-data", "input", "evaluate", "export", "init"]))
@example(path="a\x00b", command="data")
@example(path="x" * 300, command="evaluate")
def test_any_path_argument(tmp_path_factory, capsys, path, command):
    """A path that is not there, too long, or not encodable: one error line, nothing written."""
    out = tmp_path_factory.mktemp("paths") / "out"
    args = {"data": ["train", "forecaster", "--data", path, "--quick", "--out", out],
            "anomaly-data": ["train", "anomaly", "--data", path, "--quick", "--out", out],
            "input": ["predict", "forecaster", "--input", path],
            "evaluate": ["evaluate", path],
            "export": ["export", path, "--out", out],
            "init": ["train", "forecaster", "--init", path, "--quick", "--out", out]}[command]
    code, stdout, err = run_cli(capsys, *args)
    check_cli(code, stdout, err, out)
    assert code == 2 and not out.exists()


# ---------------------------------------------------------------------------------------------
# zoo train forecaster --set KEY=VALUE: invalid pairs fail before any work, valid ones reach training.


class _TrainingReached(Exception):
    pass


@pytest.fixture
def no_training(monkeypatch):
    """Stop where training would start (after the config is checked), so that valid --set pairs cost nothing."""
    import zoo.training

    def stop(name, out_dir, **kwargs):
        from zoo.registry import get_recipe

        recipe = get_recipe(name)
        overrides = {k: v for k, v in kwargs.items() if k in recipe.defaults}
        recipe.config(**{**recipe.quick, **overrides})
        raise _TrainingReached

    monkeypatch.setattr(zoo.training, "train", stop)


set_keys = st.one_of(st.sampled_from(["units", "dropout", "window", "epochs", "base", "cell", "calendar", "horizon",
                                      "learning_rate", "test_fraction", "multi_step", "level", "batch_size",
                                      "colour", "", "=", "data"]), st.text(max_size=10))
set_values = st.one_of(st.integers(-5, 500).map(str), st.floats(allow_nan=True).map(repr),
                       st.sampled_from(["auto", "true", "no", "lstm", "drfit", "", "1e999", "[1,2]", "x" * 5000]),
                       st.text(max_size=8))


@fuzz(150)
@given(pairs=st.lists(st.tuples(set_keys, set_values), min_size=1, max_size=3), separator=st.sampled_from(["=", ":", ""]))
@example(pairs=[("units", "x" * 100_000)], separator="=")
def test_set_pairs_fail_fast_or_reach_training(no_training, tmp_path_factory, capsys, pairs, separator):
    out = tmp_path_factory.mktemp("set") / "run"
    args = ["train", "forecaster", "--quick", "--out", out]
    for key, value in pairs:
        args += ["--set", f"{key}{separator}{value}"]
    try:
        code, stdout, err = run_cli(capsys, *args)
    except _TrainingReached:
        return
    capsys.readouterr()
    assert code == 2, err
    check_cli(code, stdout, err, out)
    assert not out.exists()


# ---------------------------------------------------------------------------------------------
# zoo predict MODEL --text: any Unicode.


@pytest.fixture(scope="module")
def text_runners():
    """The released text models as ``zoo predict --text`` runs them: recipe, Keras runner, config."""
    from zoo.checkpoints import load_run_config, resolve
    from zoo.export.runtime import KerasRunner
    from zoo.registry import get_recipe

    runners = {}
    for name in ("text-classifier", "tagger", "g2p"):
        keras_path, run_dir = resolve(name)
        config = load_run_config(run_dir)
        runners[name] = (get_recipe(config["model"]), KerasRunner(keras_path), config["config"])
    return runners


texts = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40).filter(str.strip)


@fuzz(40)
@given(name=st.sampled_from(["text-classifier", "tagger", "g2p"]), batch=st.lists(texts, min_size=1, max_size=3))
@example(name="text-classifier", batch=["!!!"])
@example(name="g2p", batch=["a" * 100_000])
@example(name="tagger", batch=["qqq zzz"])
def test_text_predictions_or_one_line_errors(text_runners, name, batch):
    recipe, runner, config = text_runners[name]
    lines, message, notes = outcome(lambda: recipe.predict_text(runner, batch, config))
    if message is not None:
        return
    if name == "g2p":
        assert len(lines) == sum(len(t.split()) for t in batch)
    else:
        assert len(lines) == len(batch)
    assert all("nan" not in line.split("\t")[-1] for line in lines), lines  # no NaN probability


@fuzz(6)
@given(text=texts)
@example(text="qqq zzz")
def test_predict_text_cli(capsys, text):
    code, out, err = run_cli(capsys, "predict", "text-classifier", "--text", text)
    check_cli(code, out, err)
    if code == 0:
        assert len(out.strip().splitlines()) == 1


# ---------------------------------------------------------------------------------------------
# End to end: `zoo train` on fuzzed files (slow: each run trains for seconds).


def _shuffled_headerless_sine(rows):
    """A header-less CSV of hourly times in shuffled order and a sine: two repairs at once."""
    times = pd.date_range("2024-01-01", periods=rows, freq="h").strftime("%Y-%m-%d %H:%M:%S")
    order = np.random.default_rng(1).permutation(rows)
    text = "".join(f"{times[k]},{math.sin(k / 4):.4f}\n" for k in order)
    return text, {"rows": rows, "clean": True, "header": False, "dates": "unsorted", "order": list(order),
                  "distinct": True}


@pytest.mark.slow
@fuzz(4)
@given(table=csv_tables(max_rows=80))
@example(table=("\n".join(f"{math.sin(k / 3):.4f}" for k in range(60)) + "\n",
                {"rows": 60, "clean": True, "header": False, "dates": "none", "order": None, "distinct": False}))
@example(table=_shuffled_headerless_sine(80))
def test_train_forecaster_end_to_end(tmp_path_factory, capsys, table):
    text, facts = table
    folder = tmp_path_factory.mktemp("e2e")
    (folder / "data.csv").write_text(text, encoding="utf-8")
    out = folder / "run"
    code, stdout, err = run_cli(capsys, "train", "forecaster", "--data", folder / "data.csv", "--quick", "--out", out)
    check_cli(code, stdout, err, out)
    if code == 0:
        assert (out / "metrics.json").exists()
        if facts["clean"] and not facts["header"] and facts["dates"] == "none":
            import json

            assert json.loads((out / "config.json").read_text())["config"]["data"]["length"] == facts["rows"]


@pytest.mark.slow
@fuzz(3)
@given(table=csv_tables(max_rows=200), window=st.integers(2, 6))
@example(table=_shuffled_headerless_sine(300), window=4)
def test_train_anomaly_end_to_end(tmp_path_factory, capsys, table, window):
    text, _ = table
    folder = tmp_path_factory.mktemp("e2e")
    (folder / "data.csv").write_text(text, encoding="utf-8")
    out = folder / "run"
    code, stdout, err = run_cli(capsys, "train", "anomaly", "--data", folder / "data.csv", "--quick", "--out", out,
                                "--set", f"window={window}")
    check_cli(code, stdout, err, out)
    if table[1]["dates"] == "unsorted" and table[1]["rows"] == 300:
        assert code == 0 and "sorted them by it" in err, err


@pytest.mark.slow
def test_valid_set_pairs_train(tmp_path, capsys):
    out = tmp_path / "run"
    code, stdout, err = run_cli(capsys, "train", "forecaster", "--quick", "--set", "units=4", "--set", "dropout=0.1",
                                "--set", "calendar=false", "--out", out)
    check_cli(code, stdout, err, out)
    assert code == 0 and (out / "metrics.json").exists()


# ---------------------------------------------------------------------------------------------
# Regression tests: the reported cases and the failures the properties above found.


def _series_csv(path, dates, values, header=True):
    lines = (["date,value"] if header else []) + [f"{d},{v}" for d, v in zip(dates, values)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_unsorted_dates_are_sorted_with_a_warning(tmp_path):
    from zoo.data.series import load_series

    dates = pd.date_range("1900-01-01", periods=120, freq="YS").strftime("%Y-%m-%d")
    values = np.sin(np.arange(120) * 2 * np.pi / 11)
    order = np.random.default_rng(0).permutation(120)
    ordered = load_series(str(_series_csv(tmp_path / "sorted.csv", dates, values)))
    with pytest.warns(DataWarning, match="not in 'date' order; sorted them"):
        shuffled = load_series(str(_series_csv(tmp_path / "shuffled.csv", dates[order], values[order])))
    np.testing.assert_array_equal(shuffled.values, ordered.values)
    assert shuffled.frequency == ordered.frequency


def test_unsorted_dates_in_the_cli_warn_and_keep_the_season(tmp_path, capsys):
    dates = pd.date_range("1900-01-01", periods=120, freq="YS").strftime("%Y-%m-%d")
    values = np.sin(np.arange(120) * 2 * np.pi / 11)
    order = np.random.default_rng(0).permutation(120)
    path = _series_csv(tmp_path / "shuffled.csv", dates[order], values[order])
    with pytest.warns(DataWarning, match="sorted them by it"):
        split = load_as_cli("forecaster", path)
    assert split.info["season"] == 11
    # The CLI shows the warning, then stops at the unwritable --out without training.
    code, _, err = run_cli(capsys, "train", "forecaster", "--data", path, "--quick", "--out", "/proc/zoo-run")
    assert code == 2 and "warning: " in err and "sorted them by it" in err


def test_repeated_dates_are_an_error_naming_the_first_repeat(tmp_path, capsys):
    dates = list(pd.date_range("1900-01-01", periods=60, freq="YS").strftime("%Y-%m-%d"))
    dates = dates[:10] + dates[9:]  # 1909 twice: lines 11 and 12 of the file
    path = _series_csv(tmp_path / "dup.csv", dates, range(len(dates)))
    code, _, err = run_cli(capsys, "train", "forecaster", "--data", path, "--quick", "--out", tmp_path / "run")
    assert code == 2 and err.strip() == f"error: {path}:12: date '1909-01-01' repeats line 11"
    assert not (tmp_path / "run").exists()


def test_headerless_csv_keeps_its_first_value(tmp_path, capsys):
    values = np.round(np.sin(np.arange(30) / 3) * 10 + 50, 3)
    csv_path = tmp_path / "window.csv"
    csv_path.write_text("\n".join(map(str, values)) + "\n")
    np.save(tmp_path / "window.npy", values)
    from zoo.data.arrays import read_inputs

    assert read_inputs(csv_path, 1)[0, :, 0].tolist() == values.astype("float32").tolist()
    with_csv = run_cli(capsys, "predict", RELEASED / "forecaster", "--input", csv_path)
    with_npy = run_cli(capsys, "predict", RELEASED / "forecaster", "--input", tmp_path / "window.npy")
    assert with_csv[0] == 0 and with_csv[1] == with_npy[1]


def test_headerless_csv_with_dates(tmp_path):
    from zoo.data.series import load_series

    path = tmp_path / "d.csv"
    path.write_text("2020-01-01,1\n2020-01-02,2\n2020-01-03,3\n")
    series = load_series(str(path))
    assert series.values.tolist() == [1, 2, 3] and series.frequency == "D"


@pytest.mark.parametrize("array, n_features, message", [
    (np.array([1.0 + 1j, 2.0]), 1, "holds complex values"),
    (np.arange(6.0), 3, r"has shape \(6,\); the model takes \(batch, time, 3\) or \(time, 3\)"),
    (np.array(["a", "b"]), 1, r"holds text values .* the model takes \(batch, time, 1\)"),
    (np.array([1e300]), 1, "beyond float32's range"),
    (np.zeros((1, 0, 1)), 1, "holds no values"),
])
def test_npy_inputs_refused_with_the_expected_shape(tmp_path, array, n_features, message):
    from zoo.data.arrays import read_inputs

    np.save(tmp_path / "x.npy", array)
    with pytest.raises(UserError, match=message):
        read_inputs(tmp_path / "x.npy", n_features)


@pytest.mark.parametrize("array, message", [
    (np.array([[5, 10**6]]), r"token id 1000000 at \(0, 1\); the model's ids are 0 to 19999"),
    (np.array([[5, 2**63]], dtype=np.uint64), "token id 9223372036854775808"),  # was wrapped to 0, silently
])
def test_token_ids_beyond_the_vocabulary(tmp_path, capsys, array, message):
    np.save(tmp_path / "ids.npy", array)
    code, _, err = run_cli(capsys, "predict", "text-classifier", "--input", tmp_path / "ids.npy")
    assert code == 2 and "Traceback" not in err
    assert pytest.importorskip("re").search(message, err), err


@pytest.mark.parametrize("model, text, message", [
    ("text-classifier", "qqq zzz", "warning: --text 1 ('qqq zzz') has no word the model knows"),
    ("tagger", "qqqzzz", "has no word or character the model knows"),
])
def test_text_of_unknown_words_warns(capsys, model, text, message):
    code, out, err = run_cli(capsys, "predict", model, "--text", text)
    assert code == 0 and out.strip() and message in err, err


@pytest.mark.parametrize("model, text, message", [
    ("text-classifier", "!!!", "error: --text 1 ('!!!') has no words"),  # answered "business nan" before
    ("g2p", "ж", "error: 'ж': the model knows only the letters"),
    ("g2p", "a" * 100_000, "error: 'aaaa"),
])
def test_text_without_words_or_letters_is_an_error(capsys, model, text, message):
    code, _, err = run_cli(capsys, "predict", model, "--text", text)
    assert code == 2 and err.startswith(message) and len(err) < 300, err[:300]


@pytest.mark.parametrize("model", ["forecaster", "anomaly"])
def test_directory_as_data(tmp_path, capsys, model):
    code, _, err = run_cli(capsys, "train", model, "--data", tmp_path, "--quick", "--out", tmp_path / "run")
    assert code == 2 and err.startswith(f"error: {tmp_path} is a directory") and len(err.splitlines()) == 1


@pytest.mark.parametrize("args", [
    ["evaluate", "forcaster"], ["bench", "forcaster"], ["generate", "forcaster"], ["export", "forcaster"],
    ["predict", "forcaster", "--input", "x.npy"],
])
def test_mistyped_model_name_as_checkpoint(capsys, args):
    code, _, err = run_cli(capsys, *args)
    # predict and generate take any artifact or export directory, so they say "file" where the
    # others say "checkpoint"
    what = "file or directory" if args[0] in ("predict", "generate") else "checkpoint"
    assert code == 2 and err.strip() == f"error: no such {what}: forcaster (did you mean 'forecaster'?)"


def test_model_name_as_predict_artifact(tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.arange(30.0))
    code, out, _ = run_cli(capsys, "predict", "forecaster", "--input", tmp_path / "x.npy")
    assert code == 0 and len(out.split()) == 1


@pytest.mark.parametrize("args", [
    ["predict", "{d}/corrupt.keras", "--input", "{d}/x.npy"],
    ["export", "{d}/corrupt.keras", "--out", "{d}/out"],
])
def test_corrupt_keras_is_not_file_not_found(tmp_path, capsys, args):
    (tmp_path / "corrupt.keras").write_bytes(b"not a zip file")
    np.save(tmp_path / "x.npy", np.arange(30.0))
    code, _, err = run_cli(capsys, *[a.format(d=tmp_path) for a in args])
    assert code == 2 and "not a readable Keras checkpoint" in err and "not found" not in err.lower(), err
    assert not (tmp_path / "out").exists()


def test_unwritable_out_names_the_folder_that_refused(tmp_path, capsys):
    code, _, err = run_cli(capsys, "train", "forecaster", "--quick", "--out", "/proc/x")
    assert code == 2 and err.strip() == "error: cannot create /proc/x: /proc does not take new folders " \
                                        "(No such file or directory)"
    (tmp_path / "file").write_text("")
    code, _, err = run_cli(capsys, "train", "forecaster", "--quick", "--out", tmp_path / "file" / "run")
    assert code == 2 and err.strip().endswith(f"{tmp_path / 'file'} is a file, not a folder")


@pytest.mark.parametrize("args", [
    ["train", "forecaster", "--data", "{long}", "--quick", "--out", "{d}/run"],
    ["train", "anomaly", "--data", "{long}", "--quick", "--out", "{d}/run"],
    ["train", "tagger", "--data", "{long}", "--quick", "--out", "{d}/run"],
    ["predict", "forecaster", "--input", "{long}.npy"],
    ["train", "forecaster", "--quick", "--out", "{d}/{long}"],
    ["evaluate", "{long}"],
])
def test_names_too_long_for_the_file_system(tmp_path, capsys, args):
    """Path.exists() raises on a name over 255 bytes: every reader met it first with a traceback."""
    long = "x" * 5000
    code, out, err = run_cli(capsys, *[a.format(d=tmp_path, long=long) for a in args])
    check_cli(code, out, err)
    assert code == 2 and len(err) < 300, err[:300]


def test_unwritable_prediction_output(tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.arange(30.0))
    code, _, err = run_cli(capsys, "predict", "forecaster", "--input", tmp_path / "x.npy", "--output",
                           tmp_path / ("p" * 300 + ".npy"))
    check_cli(code, "", err)
    assert code == 2 and "cannot write" in err and len(err) < 300
    assert not list(tmp_path.glob(".*tmp"))


def test_long_values_are_cut_in_messages(tmp_path, capsys):
    word = "x" * 100_000
    path = tmp_path / "data.csv"
    path.write_text(f"value\n1\n{word}\n3\n")
    code, _, err = run_cli(capsys, "train", "forecaster", "--data", path, "--column", word, "--quick",
                           "--out", tmp_path / "run")
    assert code == 2 and len(err) < 400, err[:400]
    code, _, err = run_cli(capsys, "train", "forecaster", "--data", path, "--quick", "--out", tmp_path / "run")
    assert code == 2 and f"{path}:3: column 'value' is not numeric" in err and len(err) < 400, err[:400]
    code, _, err = run_cli(capsys, "evaluate", word)
    assert code == 2 and len(err) < 400, err[:400]
    code, _, err = run_cli(capsys, "train", "forecaster", "--data", "m1-yearly:" + word[:3000], "--quick",
                           "--out", tmp_path / "run")
    assert code == 2 and "no M1 yearly series 'xxx" in err and len(err) < 400, err[:400]
    assert not (tmp_path / "run").exists()
