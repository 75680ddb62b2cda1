"""What a practitioner tries first on a labelled series, scored per test step like the model:
a rolling z-score, an IsolationForest over windows, and a matrix-profile discord score.

The last two see the training part as the model does (taken as normal): the forest is fitted on
its windows, and the discord score is each test subsequence's z-normalised distance to its
nearest training subsequence (stumpy's AB-join). A window's score becomes each step's as the
model's does: the mean over the windows that cover the step.
"""

import numpy as np

from zoo.models.anomaly.scoring import point_scores, sliding

#: Windows the forest is fitted on at most (a wider stride beyond).
FOREST_WINDOWS = 5_000
#: The discord score's cost is test x training subsequences: beyond this it is skipped, said so.
MAX_DISCORD_PAIRS = 2e9


def rolling_zscore(values, window):
    """|x_t - mean of the previous window| / its std, the classic streaming detector."""
    import pandas as pd

    frame = pd.DataFrame(values)
    mean = frame.rolling(window, min_periods=2).mean().shift(1)
    std = frame.rolling(window, min_periods=2).std().shift(1).replace(0, np.nan)
    return ((frame - mean).abs() / std).max(axis=1).fillna(0).to_numpy()


def isolation_forest(train, test, window, starts, seed=0):
    """IsolationForest (scikit-learn, 100 trees) fitted on the training part's windows, each test
    window scored by how easily it is isolated -> per-step scores."""
    from sklearn.ensemble import IsolationForest

    stride = max(1, int(np.ceil((len(train) - window + 1) / FOREST_WINDOWS)))
    fitted, _ = sliding(train.astype("float32"), window, stride)
    forest = IsolationForest(n_estimators=100, random_state=seed).fit(fitted.reshape(len(fitted), -1))
    windows, _ = sliding(test.astype("float32"), window)
    windows = windows[starts]
    scores = -forest.score_samples(np.ascontiguousarray(windows).reshape(len(windows), -1))
    return point_scores(scores, starts, window, len(test))


def discord(train, test, window, starts):
    """Matrix-profile discord (stumpy): each test subsequence's z-normalised Euclidean distance to
    its nearest training subsequence, summed over the features -> per-step scores, or None with
    the reason when the join would be too costly."""
    import stumpy

    pairs = float(len(test) - window + 1) * (len(train) - window + 1)
    if pairs > MAX_DISCORD_PAIRS:
        return None, f"skipped: {pairs:.2g} subsequence pairs (more than {MAX_DISCORD_PAIRS:.0g})"
    profile = np.zeros(len(test) - window + 1)
    for feature in range(test.shape[1]):
        joined = stumpy.stump(test[:, feature].astype("float64"), window, T_B=train[:, feature].astype("float64"),
                              ignore_trivial=False)
        distances = joined[:, 0].astype("float64")
        profile += np.where(np.isfinite(distances), distances, 0.0)
    return point_scores(profile[starts], starts, window, len(test)), ""
