"""Model inputs from a user's file: .npy arrays or CSV tables, checked before they reach a runtime."""

from pathlib import Path

import numpy as np

from zoo.errors import UserError, shown_path


def read_inputs(path, n_features):
    """-> float32 array (batch, time, n_features).

    ``.npy``: (B, T, F), (T, F) for one sequence, or (B, T) / (T,) when the model takes one
    feature. ``.csv``: one sequence, rows are time steps; its numeric columns are the features
    (with one feature the last numeric column, as in training). A CSV whose first row is all
    numbers has no header: that row is the first time step.
    """
    path = _existing(path)
    if path.suffix == ".npy":
        array = _read_npy(path, _shapes(n_features))
    elif path.suffix == ".csv":
        array = _read_csv(path, n_features)
    else:
        raise UserError(f"{path}: inputs must be a .npy or .csv file")
    return _shape(array, n_features, path)


def _existing(path):
    path = Path(path)
    if not path.exists():
        raise UserError(f"no such input file: {shown_path(path)}")
    if path.is_dir():
        raise UserError(f"{path} is a directory; --input takes a .npy or .csv file")
    return path


def _shapes(n_features):
    """The shapes a model taking ``n_features`` features per step accepts, for messages."""
    if n_features == 1:
        return "(batch, time, 1), (batch, time) or (time,)"
    return f"(batch, time, {n_features}) or (time, {n_features})"


def _read_npy(path, expected):
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        reason = str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__
        raise UserError(f"{path} is not a readable .npy file ({reason})") from None
    if not isinstance(array, np.ndarray):
        raise UserError(f"{path} is not a .npy array file")
    if array.dtype.kind not in "biuf":  # not issubdtype: numpy counts timedelta64 as an integer
        kind = _KINDS.get(array.dtype.kind, "non-numeric")
        raise UserError(f"{path} holds {kind} values ({array.dtype}); inputs must be numeric (real numbers) of shape {expected}")
    return array


#: numpy dtype kinds a model cannot take, as a message names them.
_KINDS = {"c": "complex", "U": "text", "S": "bytes", "O": "Python object", "M": "date", "m": "time span",
          "V": "structured"}


def _read_csv(path, n_features):
    from zoo.data.series import read_csv_frame

    frame = read_csv_frame(path)
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
        raise UserError(f"{path} holds no values; the model takes shape {_shapes(n_features)}")
    if array.ndim == 1 and n_features == 1:
        array = array[None, :, None]
    elif array.ndim == 2 and array.shape[-1] == n_features:
        array = array[None]
    elif array.ndim == 2 and n_features == 1:
        array = array[..., None]
    if array.ndim != 3 or array.shape[-1] != n_features:
        raise UserError(
            f"{path} has shape {tuple(array.shape)}; the model takes (batch, time, {n_features})"
            + ("" if n_features == 1 else f" or (time, {n_features})")
        )
    with np.errstate(over="ignore", invalid="ignore"):
        converted = array.astype("float32")
    if not np.isfinite(converted).all():
        if np.isfinite(array.astype("float64")).all():
            raise UserError(f"{path} holds values beyond float32's range (about ±3.4e38)")
        raise UserError(f"{path} holds NaN or infinite values")
    return converted


def read_tokens(path, vocabulary_size=None):
    """Token ids for a model with an Embedding input: a .npy of integers, (T,) or (B, T), each
    below ``vocabulary_size`` where the model says (int32 range in any case)."""
    path = _existing(path)
    if path.suffix != ".npy":
        raise UserError(f"{path}: this model takes token ids; give them as a .npy of integers")
    array = _read_npy(path, "(batch, time) or (time,) integer token ids")
    if not np.issubdtype(array.dtype, np.integer):
        raise UserError(f"{path} holds {array.dtype} values; this model takes integer token ids")
    if array.ndim == 1:
        array = array[None]
    if array.ndim != 2 or array.size == 0:
        raise UserError(f"{path} has shape {tuple(array.shape)}; the model takes (batch, time) token ids")
    if array.min() < 0:
        raise UserError(f"{path} holds negative token ids")
    limit = vocabulary_size if vocabulary_size is not None else 2**31
    if int(array.max()) >= limit:
        first = tuple(int(k) for k in np.argwhere(array >= limit)[0])
        raise UserError(f"{path} holds token id {int(array[first])} at {first}; the model's ids are 0 to {limit - 1}")
    return array.astype("int32")
