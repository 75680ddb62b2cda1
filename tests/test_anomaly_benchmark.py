"""The anomaly benchmark's series and the baselines the anomaly model is judged against."""

import numpy as np
import pytest

from benchmarks.anomaly_series import BASES, FIRST_ANOMALY, KINDS, inject, injected
from zoo.models.anomaly.baselines import isolation_forest, rolling_zscore
from zoo.models.anomaly.scoring import roc_auc, sliding


def sine(n=1200, seed=0):
    steps = np.arange(n)
    return np.sin(2 * np.pi * steps / 50) + 0.05 * np.random.default_rng(seed).normal(size=n)


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_changes_exactly_the_labelled_steps_after_the_training_part(kind):
    values = sine()
    changed, labels = inject(values, kind, np.random.default_rng(3))
    assert labels.sum() > 0 and labels[: int(FIRST_ANOMALY * len(values))].sum() == 0
    moved = ~np.isclose(changed, values)
    assert not moved[labels == 0].any()  # nothing outside the labels moved
    assert moved[labels == 1].mean() > 0.5  # and the labelled steps did (a mirrored stretch may cross its level)


def test_groups_are_disjoint_and_cover_every_kind_on_every_base():
    benchmark, development = injected("benchmark"), injected("development")
    assert len(benchmark) == 3 * len(BASES) and len(development) == 2 * len(BASES)
    assert not {n for n, _, _ in benchmark} & {n for n, _, _ in development}
    for base in BASES:
        kinds = {k for _, b, k in benchmark + development if b == base}
        assert kinds == set(KINDS)


def test_baselines_find_a_spike_that_the_training_part_never_had():
    values = sine()
    spiked, labels = inject(values, "point", np.random.default_rng(0))
    series = spiked[:, None]
    train, test, test_labels = series[:360], series[360:], labels[360:]
    window = 32
    _, starts = sliding(test, window)
    assert roc_auc(test_labels, rolling_zscore(test, window)) > 0.95
    assert roc_auc(test_labels, isolation_forest(train, test, window, starts)) > 0.6  # weaker on spikes, as measured


def test_flatness_is_zero_where_a_window_varies_as_some_normal_one_and_finds_a_stuck_stretch():
    from zoo.models.anomaly import with_flatness
    from zoo.models.anomaly.scoring import Flatness, log_spread, point_scores

    values = sine()
    stuck, labels = inject(values, "collective", np.random.default_rng(1))
    series, window = stuck[:, None], 16  # shorter than the stuck stretch (29 steps)
    normal, _ = sliding(series[:360], window)
    reference = Flatness(log_spread(normal))
    assert reference.excess(log_spread(normal)).max() == 0  # no normal window is 4 times flatter than the flattest
    test, starts = sliding(series[360:], window)
    excess = reference.excess(log_spread(test))
    inside = np.flatnonzero(labels[360:])
    assert excess.max() > 1 and inside[0] - window < np.argmax(excess) <= inside[-1]  # the windows on the stretch
    assert excess[: inside[0] - window].max() == 0  # and none before it
    length = len(series) - 360
    steps = point_scores(excess, starts, window, length)
    errors = np.ones(length)  # an autoencoder that rebuilds everything equally well
    assert roc_auc(labels[360:], with_flatness(errors, steps)) > 0.9
    np.testing.assert_array_equal(with_flatness(errors, np.zeros(length)), errors)  # nothing flat: unchanged


@pytest.mark.slow
def test_the_discord_score_finds_a_stuck_stretch():
    from zoo.models.anomaly.baselines import discord

    values = sine()
    stuck, labels = inject(values, "collective", np.random.default_rng(1))
    series = stuck[:, None]
    _, starts = sliding(series[360:], 32)
    scores, skipped = discord(series[:360], series[360:], 32, starts)
    assert not skipped and roc_auc(labels[360:], scores) > 0.9


@pytest.mark.slow
def test_the_benchmark_runs_a_series_of_each_group_and_writes_its_tables(tmp_path, monkeypatch, capsys):
    from benchmarks.datasets import main

    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    main(["anomaly", "--quick", "--only", "taylor+point", "--out", str(tmp_path)])
    main(["anomaly", "--quick", "--group", "development", "--only", "manaus+point", "--out", str(tmp_path)])
    table = (tmp_path / "anomaly.md").read_text()
    assert "| taylor+point | 5 |" in table and "auto/both" in table and "baseline: rolling zscore" in table
    import json

    results = json.loads((tmp_path / "datasets.json").read_text())
    row = results["anomaly"]["taylor+point"]
    assert set(row["baselines"]) == {"rolling_zscore", "isolation_forest", "matrix_profile_discord"}
    assert 0 <= row["model"]["roc_auc"] <= 1 and 0 <= row["model"]["pr_auc"] <= 1
