"""Windows over a series and per-step scores from window scores: what the model and its
baselines share."""

import numpy as np


def sliding(values, window, stride=1):
    """(windows, starts): every ``stride``-th window of ``values`` (n, features) as a strided view,
    (count, window, features), no copy; index it to hold a part."""
    view = np.moveaxis(np.lib.stride_tricks.sliding_window_view(values, window, axis=0), -1, 1)[::stride]
    return view, np.arange(0, len(values) - window + 1, stride)


def point_scores(window_errors, starts, window, length):
    """Mean error of the windows covering each time step (by running sums: linear in the steps)."""
    total, count = np.zeros(length + window + 1), np.zeros(length + window + 1)
    np.add.at(total, starts, window_errors)
    np.add.at(total, starts + window, -np.asarray(window_errors, "float64"))
    np.add.at(count, starts, 1.0)
    np.add.at(count, starts + window, -1.0)
    total, count = np.cumsum(total)[:length], np.rint(np.cumsum(count)[:length])
    return total / np.maximum(count, 1)


def roc_auc(labels, scores):
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores))
