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


class StepScores:
    """Per-step scores built chunk by chunk from windows' errors, in bounded memory.

    ``"window"``: each window's mean error, spread over every step it covers (the score of a
    step is the mean over the windows covering it); ``"step"``: each window's error at each
    position, so a step's score is the mean of the errors the covering windows make AT that
    step: a spike stays on its step instead of spreading over two windows' length; ``"both"``:
    the sum of the two (a stretch and a spike both stand out)."""

    def __init__(self, mode, window, length):
        self.mode, self.window, self.length = mode, window, length
        self.total = np.zeros(length + window + 1)
        self.count = np.zeros(length + window + 1)
        self.means = []

    def add(self, errors, starts):
        """``errors``: (windows, window) per-position errors of the windows starting at ``starts``."""
        if self.mode in ("window", "both"):
            self.means.append(errors.mean(axis=1))
        if self.mode == "window":
            return
        positions = (starts[:, None] + np.arange(self.window)).ravel()
        self.total += np.bincount(positions, weights=errors.ravel().astype("float64"), minlength=len(self.total))
        self.count += np.bincount(positions, minlength=len(self.count))

    def scores(self, starts):
        spread = point_scores(np.concatenate(self.means), starts, self.window, self.length) if self.means else 0.0
        if self.mode == "window":
            return spread
        return spread + (self.total / np.maximum(self.count, 1))[: self.length]


def log_spread(windows):
    """(count, window, features) -> (count,): the log of each window's standard deviation over
    time, averaged over the features (floored, so a constant window is very flat, not -inf)."""
    return np.log(np.maximum(np.asarray(windows, "float64").std(axis=1), 1e-12)).mean(axis=1)


class Flatness:
    """How much flatter a window is than any normal window: a stuck sensor or a frozen feed,
    which an autoencoder rebuilds perfectly (a flat line is the easiest shape there is).

    ``reference``: the log spreads of the normal (training and validation) windows. A window's
    excess is the log of how much smaller its standard deviation is than the flattest normal
    window's divided by ``RATIO``: zero for any window less than that much flatter. ``RATIO`` 4
    was chosen on the development series (``benchmarks/anomaly_series.py``): there the normal
    test windows came to at most 3.1 times flatter than the flattest normal training window (a
    quiet stretch of trading volume), and the stuck stretches 4.2 to 74 times."""

    RATIO = 4.0

    def __init__(self, reference):
        self.floor = float(np.min(reference)) - np.log(self.RATIO)

    def excess(self, spreads):
        return np.maximum(self.floor - np.asarray(spreads, "float64"), 0.0)
