"""MedianPruner decisions on hand-made TrialRecords."""

from __future__ import annotations

import math

import pytest

from lightning_autotune.exceptions import ConfigError
from lightning_autotune.pruners import MedianPruner, NopPruner, Pruner
from lightning_autotune.trial import Direction, TrialRecord, TrialState

MIN, MAX = Direction.MINIMIZE, Direction.MAXIMIZE


def rec(number: int, curve: dict[int, float], state=TrialState.COMPLETE) -> TrialRecord:
    return TrialRecord(trial_id=number, number=number, state=state, params={}, intermediate=curve)


# Three finished trials whose best values up to step 2 are 1.0, 2.0 and 3.0 (median 2.0).
HISTORY = [
    rec(0, {1: 1.5, 2: 1.0, 3: 0.5}),
    rec(1, {1: 2.0, 2: 2.5, 3: 0.1}),
    rec(2, {1: 4.0, 2: 3.0}, TrialState.PRUNED),
]


def test_prunes_a_trial_worse_than_the_median():
    pruner = MedianPruner(n_startup_trials=3)
    assert pruner.prune(rec(9, {1: 5.0, 2: 2.1}, TrialState.RUNNING), HISTORY, MIN) is True
    assert pruner.prune(rec(9, {1: 5.0, 2: 1.9}, TrialState.RUNNING), HISTORY, MIN) is False
    # Equal to the median is not worse.
    assert pruner.prune(rec(9, {2: 2.0}, TrialState.RUNNING), HISTORY, MIN) is False


def test_compares_best_values_up_to_the_same_step_only():
    pruner = MedianPruner(n_startup_trials=3)
    # At step 1 the others' bests are 1.5, 2.0, 4.0 (median 2.0); their later values do not count.
    assert pruner.prune(rec(9, {1: 2.5}, TrialState.RUNNING), HISTORY, MIN) is True
    assert pruner.prune(rec(9, {1: 1.9}, TrialState.RUNNING), HISTORY, MIN) is False


def test_uses_the_trials_best_value_so_far():
    pruner = MedianPruner(n_startup_trials=3)
    # The latest value (9.0) is bad, but the best so far (0.5) beats the median.
    assert pruner.prune(rec(9, {1: 0.5, 2: 9.0}, TrialState.RUNNING), HISTORY, MIN) is False


def test_maximize_direction():
    pruner = MedianPruner(n_startup_trials=3)
    # Maximizing, the others' bests up to step 2 are 1.5, 2.5 and 4.0 (median 2.5).
    assert pruner.prune(rec(9, {2: 2.0}, TrialState.RUNNING), HISTORY, MAX) is True
    assert pruner.prune(rec(9, {2: 3.0}, TrialState.RUNNING), HISTORY, MAX) is False


def test_startup_trials():
    trial = rec(9, {2: 100.0}, TrialState.RUNNING)
    assert MedianPruner(n_startup_trials=4).prune(trial, HISTORY, MIN) is False
    assert MedianPruner(n_startup_trials=3).prune(trial, HISTORY, MIN) is True
    # Running and failed trials do not count as finished.
    history = [*HISTORY[:2], rec(5, {1: 0.1, 2: 0.1}, TrialState.RUNNING)]
    history.append(rec(6, {1: 0.1, 2: 0.1}, TrialState.FAILED))
    assert MedianPruner(n_startup_trials=3).prune(trial, history, MIN) is False


def test_warmup_steps():
    pruner = MedianPruner(n_startup_trials=0, n_warmup_steps=2)
    assert pruner.prune(rec(9, {1: 100.0, 2: 100.0}, TrialState.RUNNING), HISTORY, MIN) is False
    assert pruner.prune(rec(9, {3: 100.0}, TrialState.RUNNING), HISTORY, MIN) is True


def test_interval_steps_after_warmup():
    pruner = MedianPruner(n_startup_trials=0, n_warmup_steps=1, interval_steps=2)
    history = [rec(i, {s: 1.0 for s in range(1, 8)}) for i in range(3)]
    decisions = {
        step: pruner.prune(rec(9, {step: 50.0}, TrialState.RUNNING), history, MIN)
        for step in range(1, 8)
    }
    assert decisions == {1: False, 2: False, 3: True, 4: False, 5: True, 6: False, 7: True}


def test_n_min_trials():
    trial = rec(9, {3: 100.0}, TrialState.RUNNING)
    # All three finished trials reported by step 3, so three values are compared.
    assert MedianPruner(n_startup_trials=0, n_min_trials=3).prune(trial, HISTORY, MIN) is True
    late = [rec(0, {5: 1.0}), rec(1, {5: 1.0}), rec(2, {1: 1.0})]
    assert MedianPruner(n_startup_trials=0, n_min_trials=2).prune(trial, late, MIN) is False
    assert MedianPruner(n_startup_trials=0, n_min_trials=1).prune(trial, late, MIN) is True


def test_nothing_reported_never_prunes():
    pruner = MedianPruner(n_startup_trials=0)
    assert pruner.prune(rec(9, {}, TrialState.RUNNING), HISTORY, MIN) is False
    assert pruner.prune(rec(9, {2: 5.0}, TrialState.RUNNING), [], MIN) is False


def test_nan_values_are_ignored():
    pruner = MedianPruner(n_startup_trials=0)
    history = [rec(0, {1: math.nan, 2: 1.0}), rec(1, {1: 2.0, 2: math.nan})]
    # Others' bests up to step 2 are 1.0 and 2.0 (median 1.5) whatever the NaN positions.
    assert pruner.prune(rec(9, {1: math.nan, 2: 1.8}, TrialState.RUNNING), history, MIN) is True
    assert pruner.prune(rec(9, {1: 1.2, 2: math.nan}, TrialState.RUNNING), history, MIN) is False
    assert pruner.prune(rec(9, {1: math.nan}, TrialState.RUNNING), history, MIN) is False


def test_pruners_are_pure():
    pruner = MedianPruner(n_startup_trials=3)
    trial = rec(9, {2: 2.1}, TrialState.RUNNING)
    assert [pruner.prune(trial, HISTORY, MIN) for _ in range(3)] == [True] * 3
    assert NopPruner().prune(trial, HISTORY, MIN) is False
    assert isinstance(pruner, Pruner)
    assert repr(NopPruner()) == "NopPruner()"
    assert repr(pruner) == (
        "MedianPruner(n_startup_trials=3, n_warmup_steps=0, interval_steps=1, n_min_trials=1)"
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_startup_trials": -1}, r"n_startup_trials must be an integer >= 0, got -1"),
        ({"n_warmup_steps": 1.5}, r"n_warmup_steps must be an integer >= 0, got 1.5"),
        ({"interval_steps": 0}, r"interval_steps must be an integer >= 1, got 0"),
        ({"n_min_trials": True}, r"n_min_trials must be an integer >= 1, got True"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ConfigError, match=rf"MedianPruner: {match}"):
        MedianPruner(**kwargs)
