"""Labelled anomaly-detection series: the UCR anomaly archive series aeon ships, or a user's CSV.

Training data is anomaly-free by construction (the archive's TRAIN part; for a user's CSV, the
first ``train_fraction`` of the rows, which must hold no labelled anomaly), the test part carries
a 0/1 label per time step.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from zoo.errors import UserError

LABEL = "is_anomaly"
#: Bundled names -> the archive files inside aeon's data folder.
BUNDLED = {"InternalBleeding16": ("KDD-TSAD_135", "135_UCR_Anomaly_InternalBleeding16")}


@dataclass
class LabelledSeries:
    train: np.ndarray  # (T_train, F) float
    test: np.ndarray  # (T_test, F) float
    labels: np.ndarray  # (T_test,) 0/1
    columns: list
    source: str


def load(data="InternalBleeding16", train_fraction=0.3):
    if data in BUNDLED:
        try:
            import aeon
        except ImportError:
            raise UserError("the anomaly series come from aeon: pip install 'lstm-zoo[data]'") from None
        folder, stem = BUNDLED[data]
        base = Path(aeon.__file__).parent / "datasets" / "data" / folder
        train, test = pd.read_csv(base / f"{stem}_TRAIN.csv"), pd.read_csv(base / f"{stem}_TEST.csv")
        return _split(train, test, data)
    path = Path(data)
    if not path.exists():
        raise UserError(f"no such data set or file: {data} (bundled: {', '.join(BUNDLED)})")
    try:
        frame = pd.read_csv(path)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError):
        raise UserError(f"{path} is not a readable CSV file") from None
    if LABEL not in frame.columns:
        raise UserError(f"{path} needs an '{LABEL}' column (0/1 per row)")
    cut = int(len(frame) * train_fraction)
    if frame[LABEL].iloc[:cut].any():
        raise UserError(f"{path}: the first {train_fraction:.0%} of rows (the training part) hold labelled anomalies")
    return _split(frame.iloc[:cut], frame.iloc[cut:], str(path))


def _split(train, test, source):
    columns = [c for c in train.columns if c not in (LABEL, "timestamp") and pd.api.types.is_numeric_dtype(train[c])]
    if not columns:
        raise UserError(f"{source}: no numeric value column")
    labels = test[LABEL].to_numpy().astype(int) if LABEL in test else None
    if labels is None or labels.sum() == 0 or labels.sum() == len(labels):
        raise UserError(f"{source}: the test part needs both normal and anomalous labels")
    values = [part[columns].to_numpy(dtype="float64") for part in (train, test)]
    if any(not np.isfinite(v).all() for v in values):
        raise UserError(f"{source}: the series hold NaN or infinite values")
    return LabelledSeries(values[0], values[1], labels, columns, source)
