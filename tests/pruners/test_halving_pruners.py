from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lightning_autotune.exceptions import ConfigError
from lightning_autotune.pruners import HyperbandPruner, SuccessiveHalvingPruner, rung_steps
from lightning_autotune.trial import Direction, TrialState

MIN = Direction.MINIMIZE
RUN = TrialState.RUNNING


def test_rung_steps():
    assert rung_steps(1, 3, 0, 30) == [1, 3, 9, 27]
    assert rung_steps(10, 2, 1, 100) == [20, 40, 80]
    assert rung_steps(10, 2, 0, 5) == []


def test_first_trial_at_a_rung_is_promoted(record):
    pruner = SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    assert not pruner.prune(record(0, {1: 9.0}, RUN), [], MIN)


def test_keeps_top_third_at_the_rung(record):
    history = [record(i, {1: float(i), 3: float(i)}) for i in range(5)]  # scores 0..4
    pruner = SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    # 6 trials at rung 1 with this one: the best 6 // 3 = 2 go on.
    assert not pruner.prune(record(9, {1: 0.5}, RUN), history, MIN)
    assert pruner.prune(record(9, {1: 1.5}, RUN), history, MIN)


def test_judged_once_per_rung_from_reported_steps(record):
    history = [record(i, {2: float(i)}) for i in range(6)]
    pruner = SuccessiveHalvingPruner(min_resource=2, reduction_factor=3)
    # Crossing rung 2 now (previous report at step 1): judged and pruned.
    assert pruner.prune(record(9, {1: 5.0, 2: 5.0}, RUN), history, MIN)
    # Rung 2 was crossed at an earlier report: no new judgement at step 4.
    assert not pruner.prune(record(9, {2: 5.0, 4: 5.0}, RUN), history, MIN)
    # Before the first rung: nothing to judge.
    assert not pruner.prune(record(9, {1: 99.0}, RUN), history, MIN)


def test_competitors_only_those_reaching_the_rung_and_not_failed(record):
    history = [
        record(0, {1: 0.0}, TrialState.PRUNED),  # stopped before rung 3
        record(1, {1: 0.0, 3: 0.0}, TrialState.FAILED),
        record(2, {3: 1.0}),
    ]
    pruner = SuccessiveHalvingPruner(min_resource=1, reduction_factor=3, min_early_stopping_rate=1)
    # Only trial 2 competes at rung 3; 2 trials -> keep 1: the better one.
    assert not pruner.prune(record(9, {2: 0.5, 3: 0.5}, RUN), history, MIN)
    assert pruner.prune(record(9, {2: 2.0, 3: 2.0}, RUN), history, MIN)


def test_min_early_stopping_rate_delays_first_rung(record):
    history = [record(i, {1: 0.0, 3: 0.0}) for i in range(5)]
    pruner = SuccessiveHalvingPruner(min_resource=1, reduction_factor=3, min_early_stopping_rate=1)
    assert not pruner.prune(record(9, {1: 9.0}, RUN), history, MIN)
    assert pruner.prune(record(9, {1: 9.0, 3: 9.0}, RUN), history, MIN)


def test_startup_trials(record):
    history = [record(i, {1: 0.0}) for i in range(5)]
    pruner = SuccessiveHalvingPruner(min_resource=1, n_startup_trials=6)
    assert not pruner.prune(record(9, {1: 9.0}, RUN), history, MIN)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"min_resource": 0}, r"min_resource must be an integer >= 1, got 0"),
        ({"reduction_factor": 1}, r"reduction_factor must be an integer >= 2, got 1"),
        ({"min_early_stopping_rate": -1}, r"min_early_stopping_rate must be an integer >= 0"),
    ],
)
def test_halving_bad_arguments(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        SuccessiveHalvingPruner(**kwargs)


def test_hyperband_brackets_are_deterministic_and_weighted():
    pruner = HyperbandPruner(min_resource=1, max_resource=27, reduction_factor=3)
    assert pruner.n_brackets == 4
    first = [pruner.bracket_of(n) for n in range(400)]
    assert first == [HyperbandPruner(1, 27, 3).bracket_of(n) for n in range(400)]
    counts = [first.count(b) for b in range(4)]
    assert all(c > 0 for c in counts)
    assert counts[0] > counts[1] > counts[3]  # aggressive brackets start more trials


def test_hyperband_compares_within_bracket_only(record):
    pruner = HyperbandPruner(min_resource=1, max_resource=27, reduction_factor=3)
    numbers = [n for n in range(200) if pruner.bracket_of(n) == 0]
    mine, same = numbers[0], numbers[1:6]
    other = [n for n in range(200) if pruner.bracket_of(n) != 0][:10]
    # Trials of other brackets are all better, but they do not compete.
    history = [record(n, {1: -100.0}) for n in other]
    assert not pruner.prune(record(mine, {1: 5.0}, RUN), history, MIN)
    history += [record(n, {1: float(i)}) for i, n in enumerate(same)]
    assert pruner.prune(record(mine, {1: 5.0}, RUN), history, MIN)


def test_hyperband_bad_arguments():
    with pytest.raises(ConfigError, match=r"max_resource must be greater than min_resource=10"):
        HyperbandPruner(min_resource=10, max_resource=10)


@settings(max_examples=50, deadline=None)
@given(
    scores=st.lists(st.floats(-5, 5), min_size=0, max_size=10),
    eta=st.integers(2, 4),
)
def test_property_best_at_rung_is_always_promoted(record, scores, eta):
    history = [record(i, {1: s}) for i, s in enumerate(scores)]
    best = min([*scores, 0.0]) - 1.0
    pruner = SuccessiveHalvingPruner(min_resource=1, reduction_factor=eta)
    assert not pruner.prune(record(99, {1: best}, RUN), history, MIN)
    # The pure decision is repeatable: same inputs, same answer.
    worst = record(99, {1: 10.0}, RUN)
    assert pruner.prune(worst, history, MIN) == pruner.prune(worst, history, MIN)
