from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lightning_autotune.exceptions import ConfigError
from lightning_autotune.pruners import MedianPruner, PercentilePruner
from lightning_autotune.trial import Direction, TrialState

MIN, MAX = Direction.MINIMIZE, Direction.MAXIMIZE


def _history(record, finals):
    return [record(i, {1: v, 2: v}) for i, v in enumerate(finals)]


def test_median_prunes_worse_than_median_and_keeps_better(record):
    history = _history(record, [1.0, 2.0, 3.0])
    pruner = MedianPruner(n_startup_trials=3)
    assert pruner.prune(record(9, {1: 2.5}, TrialState.RUNNING), history, MIN)
    assert not pruner.prune(record(9, {1: 1.5}, TrialState.RUNNING), history, MIN)


def test_median_respects_direction(record):
    history = _history(record, [1.0, 2.0, 3.0])
    pruner = MedianPruner(n_startup_trials=3)
    # Maximizing: 2.5 beats the median 2.0, 1.5 does not.
    assert not pruner.prune(record(9, {1: 2.5}, TrialState.RUNNING), history, MAX)
    assert pruner.prune(record(9, {1: 1.5}, TrialState.RUNNING), history, MAX)


def test_startup_warmup_and_interval_block_decisions(record):
    history = _history(record, [1.0, 2.0])
    bad = record(9, {1: 5.0}, TrialState.RUNNING)
    assert not MedianPruner(n_startup_trials=3).prune(bad, history, MIN)
    assert not MedianPruner(n_startup_trials=0, n_warmup_steps=1).prune(bad, history, MIN)
    bad3 = record(9, {3: 5.0}, TrialState.RUNNING)
    assert not MedianPruner(n_startup_trials=0, interval_steps=2).prune(bad3, history, MIN)
    assert MedianPruner(n_startup_trials=0, interval_steps=3).prune(bad3, history, MIN)


def test_failed_and_running_trials_are_not_compared(record):
    history = [
        record(0, {1: 0.1}, TrialState.FAILED),
        record(1, {1: 0.1}, TrialState.RUNNING),
    ]
    assert not MedianPruner(n_startup_trials=0).prune(
        record(9, {1: 5.0}, TrialState.RUNNING), history, MIN
    )


def test_others_compared_by_best_value_up_to_the_step(record):
    # Another trial reported only at step 10 and 20; at step 15 its value at step 10 counts.
    history = [record(0, {10: 1.0, 20: 0.1})]
    pruner = MedianPruner(n_startup_trials=1)
    assert pruner.prune(record(9, {15: 1.5}, TrialState.RUNNING), history, MIN)
    assert not pruner.prune(record(9, {15: 0.9}, TrialState.RUNNING), history, MIN)
    assert not pruner.prune(record(9, {5: 99.0}, TrialState.RUNNING), history, MIN)


def test_nan_in_trial_counts_as_worst(record):
    history = _history(record, [1.0, 2.0, 3.0])
    assert MedianPruner(n_startup_trials=3).prune(
        record(9, {1: math.nan}, TrialState.RUNNING), history, MIN
    )


def test_lower_percentile_prunes_more(record):
    history = _history(record, [1.0, 2.0, 3.0, 4.0, 5.0])
    trial = record(9, {1: 2.5}, TrialState.RUNNING)
    assert PercentilePruner(25.0, n_startup_trials=0).prune(trial, history, MIN)
    assert not PercentilePruner(75.0, n_startup_trials=0).prune(trial, history, MIN)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"percentile": 0.0}, r"Pruner: percentile must be a number > 0 and <= 100, got 0.0"),
        ({"percentile": 101}, r"percentile .* got 101"),
        ({"percentile": 50, "n_startup_trials": -1}, r"n_startup_trials must be an integer >= 0"),
        ({"percentile": 50, "interval_steps": 0}, r"interval_steps must be an integer >= 1"),
        ({"percentile": 50, "n_min_trials": True}, r"n_min_trials must be an integer >= 1"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        PercentilePruner(**kwargs)


def test_median_is_percentile_50_and_reprs():
    assert MedianPruner().percentile == 50.0
    assert repr(MedianPruner(3)).startswith("MedianPruner(n_startup_trials=3")
    assert "percentile=10.0" in repr(PercentilePruner(10))


@settings(max_examples=60, deadline=None)
@given(
    finals=st.lists(st.floats(-10, 10), min_size=1, max_size=8),
    mine=st.floats(-10, 10),
    percentile=st.floats(1, 100),
)
def test_property_best_trial_never_pruned_and_monotone(record, finals, mine, percentile):
    history = _history(record, finals)
    pruner = PercentilePruner(percentile, n_startup_trials=0)
    trial = record(99, {2: mine}, TrialState.RUNNING)
    if mine <= min(finals):
        assert not pruner.prune(trial, history, MIN)
    if pruner.prune(trial, history, MIN):
        # A worse trial at the same step is pruned too.
        assert pruner.prune(record(99, {2: mine + 1.0}, TrialState.RUNNING), history, MIN)


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.floats(-100, 100), min_size=1, max_size=9), q=st.floats(0, 100))
def test_percentile_helper_matches_numpy(values, q):
    import numpy as np

    from lightning_autotune.pruners._percentile import percentile

    assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)), abs=1e-9)
    assert percentile([*values, math.inf, math.inf], 100.0) == math.inf
