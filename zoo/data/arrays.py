"""Model inputs from a user's file: .npy arrays or CSV tables, checked before they reach a runtime."""

from pathlib import Path

import numpy as np
import pandas as pd

from zoo.errors import UserError


def read_inputs(path, n_features):
    """-> float32 array (batch, time, n_features).

    ``.npy``: (B, T, F), (T, F) for one sequence, or (B, T) / (T,) when the model takes one
    feature. ``.csv``: one sequence, rows are time steps; its numeric columns are the features
    (with one feature the last numeric column, as in training).
    """
    path = Path(path)
    if not path.exists():
        raise UserError(f"no such input file: {path}")
    if path.suffix == ".npy":
        array = _read_npy(path)
    elif path.suffix == ".csv":
        array = _read_csv(path, n_features)
    else:
        raise UserError(f"{path}: inputs must be a .npy or .csv file")
    return _shape(array, n_features, path)


def _read_npy(path):
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as error:
        raise UserError(f"{path} is not a readable .npy file ({error})") from None
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
        raise UserError(f"{path} holds {array.dtype} values; inputs must be numeric")
    return array


def _read_csv(path, n_features):
    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise UserError(f"{path} is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise UserError(f"{path} is not a readable CSV file: {str(error).splitlines()[0]}") from None
    numeric = frame.select_dtypes(include="number")
    if numeric.empty:
        raise UserError(f"{path} has no numeric column")
    if n_features == 1:
        numeric = numeric.iloc[:, -1:]
    elif numeric.shape[1] != n_features:
        raise UserError(f"{path} has {numeric.shape[1]} numeric columns; the model takes {n_features}")
    return numeric.to_numpy()


def _shape(array, n_features, path):
    if array.size == 0:
        raise UserError(f"{path} holds no values")
    if array.ndim == 1 and n_features == 1:
        array = array[None, :, None]
    elif array.ndim == 2 and array.shape[-1] == n_features:
        array = array[None]
    elif array.ndim == 2 and n_features == 1:
        array = array[..., None]
    if array.ndim != 3 or array.shape[-1] != n_features:
        raise UserError(
            f"{path} has shape {tuple(array.shape)}; the model takes (batch, time, {n_features})"
        )
    array = array.astype("float32")
    if not np.isfinite(array).all():
        raise UserError(f"{path} holds NaN or infinite values")
    return array


def read_tokens(path):
    """Token ids for a model with an Embedding input: a .npy of integers, (T,) or (B, T)."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"no such input file: {path}")
    if path.suffix != ".npy":
        raise UserError(f"{path}: this model takes token ids; give them as a .npy of integers")
    array = _read_npy(path)
    if not np.issubdtype(array.dtype, np.integer):
        raise UserError(f"{path} holds {array.dtype} values; this model takes integer token ids")
    if array.ndim == 1:
        array = array[None]
    if array.ndim != 2 or array.size == 0:
        raise UserError(f"{path} has shape {tuple(array.shape)}; the model takes (batch, time) token ids")
    if array.min() < 0:
        raise UserError(f"{path} holds negative token ids")
    return array.astype("int32")
