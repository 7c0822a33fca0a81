from __future__ import annotations

import math

import pytest

from lightning_autotune.exceptions import ConfigError
from lightning_autotune.pruners import (
    AdaptiveThresholdPruner,
    AnyPruner,
    DivergencePruner,
    MedianPruner,
    NopPruner,
)
from lightning_autotune.trial import Direction, TrialState

MIN, MAX = Direction.MINIMIZE, Direction.MAXIMIZE
RUN = TrialState.RUNNING


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_divergence_prunes_non_finite_at_once(record, bad):
    assert DivergencePruner().prune(record(0, {1: bad}, RUN), [], MIN)
    assert DivergencePruner().prune(record(0, {1: bad}, RUN), [], MAX)


def test_divergence_threshold_in_raw_units(record):
    pruner = DivergencePruner(threshold=3.0)
    assert pruner.prune(record(0, {1: 3.5}, RUN), [], MIN)
    assert not pruner.prune(record(0, {1: 2.5}, RUN), [], MIN)
    # Maximizing an accuracy: below the threshold is worse.
    pruner = DivergencePruner(threshold=0.2)
    assert pruner.prune(record(0, {1: 0.1}, RUN), [], MAX)
    assert not pruner.prune(record(0, {1: 0.3}, RUN), [], MAX)


def test_divergence_growth_against_own_best(record):
    pruner = DivergencePruner(growth_factor=3.0, n_warmup_steps=1)
    assert pruner.prune(record(0, {1: 1.0, 2: 0.2, 3: 0.7}, RUN), [], MIN)
    assert not pruner.prune(record(0, {1: 1.0, 2: 0.2, 3: 0.5}, RUN), [], MIN)
    assert not pruner.prune(record(0, {0: 0.2, 1: 9.0}, RUN), [], MIN)  # warm-up


def test_divergence_bad_arguments():
    with pytest.raises(ConfigError, match=r"growth_factor must be a finite number > 1, got 1"):
        DivergencePruner(growth_factor=1)
    with pytest.raises(ConfigError, match=r"threshold must be a finite number"):
        DivergencePruner(threshold=math.nan)


def _finished(record, n, spread=1.0):
    # Incumbent 0 reaches 0.0 at step 2; the others end at 1..n-1 times `spread`.
    return [record(i, {1: 1.0 + i * spread, 2: i * spread}) for i in range(n)]


def test_adaptive_gap_formula():
    p = AdaptiveThresholdPruner(initial_gap=3.0, final_gap=0.25, half_life=4.0, n_startup_trials=5)
    assert p.gap(0) == 3.0 and p.gap(5) == 3.0
    assert p.gap(9) == pytest.approx(0.25 + 2.75 / 2)
    assert p.gap(1000) == pytest.approx(0.25)


def test_adaptive_tightens_as_trials_finish(record):
    p = AdaptiveThresholdPruner(initial_gap=3.0, final_gap=0.25, half_life=2.0, n_startup_trials=5)
    trial = record(99, {2: 1.5}, RUN)
    few = _finished(record, 5)  # median 2, min 0 -> spread 2; w=3 -> allowed 6
    assert not p.prune(trial, few, MIN)
    many = _finished(record, 5) + [record(10 + i, {2: 0.0 + 4.0 * (i % 2)}) for i in range(20)]
    # Spread and reference barely change, but w(25) ~ 0.25: now 1.5 is too far behind.
    assert p.prune(trial, many, MIN)


def test_adaptive_compares_with_incumbent_curve_at_same_step(record):
    p = AdaptiveThresholdPruner(initial_gap=0.5, final_gap=0.5, n_startup_trials=3)
    history = [
        record(0, {1: 5.0, 2: 0.0}),  # incumbent: slow start, best end
        record(1, {1: 1.0, 2: 1.0}),
        record(2, {1: 3.0, 2: 3.0}),
    ]
    # At step 1: ref 5.0 (incumbent's own curve), spread = median 3 - min 1 = 2: allowed 6.
    assert not p.prune(record(9, {1: 5.5}, RUN), history, MIN)
    assert p.prune(record(9, {1: 6.5}, RUN), history, MIN)


def test_adaptive_waits_for_startup_and_a_complete_trial(record):
    p = AdaptiveThresholdPruner(n_startup_trials=3)
    trial = record(9, {2: 100.0}, RUN)
    assert not p.prune(trial, _finished(record, 2), MIN)
    pruned_only = [record(i, {2: float(i)}, TrialState.PRUNED) for i in range(4)]
    assert not p.prune(trial, pruned_only, MIN)


def test_adaptive_bad_arguments():
    with pytest.raises(
        ConfigError,
        match=r"initial_gap must be a finite number >= 0.5, got 0.1; the gap starts at "
        r"initial_gap and shrinks to final_gap=0.5",
    ):
        AdaptiveThresholdPruner(initial_gap=0.1, final_gap=0.5)
    with pytest.raises(
        ConfigError, match=r"AdaptiveThresholdPruner: half_life must be a finite number > 0, got 0"
    ):
        AdaptiveThresholdPruner(half_life=0)


def test_any_pruner(record):
    trial = record(9, {1: math.nan}, RUN)
    combo = AnyPruner([NopPruner(), DivergencePruner()])
    assert combo.prune(trial, [], MIN)
    assert isinstance(combo.which(trial, [], MIN), DivergencePruner)
    assert not AnyPruner([NopPruner(), MedianPruner()]).prune(record(9, {1: 1.0}, RUN), [], MIN)
    with pytest.raises(ConfigError, match=r"at least one Pruner"):
        AnyPruner([])
    with pytest.raises(ConfigError, match=r"pruners\[0\] must be a Pruner instance"):
        AnyPruner([MedianPruner])  # type: ignore[list-item]


def test_any_pruner_names_the_pruner_that_decided(record):
    trial = record(9, {1: 5.0}, RUN)
    combo = AnyPruner([NopPruner(), AnyPruner([DivergencePruner(threshold=3.0)])])
    assert combo.describe(trial, [], MIN) == "DivergencePruner"
    assert MedianPruner().describe(trial, [], MIN) == "MedianPruner"


def test_the_recorded_prune_reason_names_the_sub_pruner():
    from lightning_autotune.study import create_study

    pruner = AnyPruner([NopPruner(), DivergencePruner(threshold=3.0)])
    study = create_study(space={"x": {"type": "continuous", "min": 0, "max": 1}}, pruner=pruner)
    trial = study.ask({"x": 0.5})
    trial.report(2, 5.0)
    assert trial.should_prune()
    record = study.tell(trial, state=TrialState.PRUNED, reason=trial.prune_reason)
    assert record.reason == "DivergencePruner at step 2 (value 5)"
