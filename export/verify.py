"""Compare an artifact's outputs with Keras' on the same inputs, within the format's tolerance."""

import numpy as np


def compare(reference, actual, rtol, atol):
    """-> (max_abs_diff, tolerance, ok). Shapes must agree exactly; NaN never passes."""
    reference, actual = np.asarray(reference), np.asarray(actual)
    if reference.shape != actual.shape:
        return float("inf"), 0.0, False
    tolerance = atol + rtol * float(np.max(np.abs(reference))) if reference.size else atol
    diff = float(np.max(np.abs(reference - actual))) if reference.size else 0.0
    ok = bool(np.isfinite(actual).all()) and diff <= tolerance
    return diff, tolerance, ok
