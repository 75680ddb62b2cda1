"""Training windows of many series, cut from the series only when rows are asked for.

A panel of 100,000 series holds millions of (window, horizon) examples; stored whole they take
gigabytes, while the series themselves take megabytes. ``SeriesWindows`` keeps the series (each
left-padded with its first value, as a window that starts before the series is) in one flat array
and gathers any rows in one indexing operation; ``LazyRows`` gives such rows the two things the
training loop asks of an array: a length and ``rows[indices]``.
"""

import numpy as np


class SeriesWindows:
    """(series, origin) pairs over a list of series: row i is the ``window`` values before
    ``origins[i]`` of series ``series[i]`` (inputs) and the ``horizon`` values from it (targets).
    ``open_end``: each series is followed by ``horizon`` NaNs, so an origin near its end has
    targets past it (NaN: unknown, which ``PinballLoss`` skips)."""

    def __init__(self, values, origins, window, horizon, open_end=False):
        self.window, self.horizon = int(window), int(horizon)
        after = np.full(self.horizon if open_end else 0, np.nan)
        padded = [np.concatenate([np.full(self.window, v[0]), v, after]).astype("float32") for v in values]
        self.flat = np.concatenate(padded) if padded else np.zeros(0, "float32")
        self.base = np.concatenate([[0], np.cumsum([len(p) for p in padded])[:-1]]).astype("int64")
        self.series = np.concatenate([np.full(len(o), k, "int32") for k, o in enumerate(origins)] or
                                     [np.zeros(0, "int32")])
        self.origins = np.concatenate([np.asarray(o, "int32") for o in origins] or [np.zeros(0, "int32")])

    def __len__(self):
        return len(self.origins)

    def _starts(self, index):
        return self.base[self.series[index]] + self.origins[index]

    def inputs(self, index):
        """(n, window, 1) float32."""
        starts = self._starts(index)
        return self.flat[starts[:, None] + np.arange(self.window)][..., None]

    def targets(self, index):
        """(n, horizon) float32."""
        starts = self._starts(index) + self.window
        return self.flat[starts[:, None] + np.arange(self.horizon)]


class LazyRows:
    """An array-like of ``count`` rows made by ``make(indices)`` when indexed (an int array, a
    slice or an int): what training reads instead of an array too big to hold."""

    def __init__(self, count, make, row_shape, dtype="float32"):
        self.count, self.make, self.row_shape, self.dtype = int(count), make, tuple(row_shape), np.dtype(dtype)

    def __len__(self):
        return self.count

    @property
    def shape(self):
        return (self.count, *self.row_shape)

    def __getitem__(self, key):
        if isinstance(key, slice):
            return self.make(np.arange(self.count)[key])
        if np.isscalar(key):
            return self.make(np.array([key]))[0]
        return self.make(np.asarray(key))
