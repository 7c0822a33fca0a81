"""Study.optimize: trial counts, time budgets, failures, pruning and interrupts."""

from __future__ import annotations

import logging
import time

import pytest

from lightning_autotune.exceptions import ConfigError, StudyFailedError, TrialPruned
from lightning_autotune.pruners import MedianPruner
from lightning_autotune.samplers import RandomSampler
from lightning_autotune.study import Study, create_study
from lightning_autotune.trial import FailureKind, Trial, TrialState

SPACE = {"x": {"type": "continuous", "min": -2.0, "max": 2.0}}


def _study(**kwargs) -> Study:
    return create_study(space=SPACE, sampler=RandomSampler(), seed=0, **kwargs)


def quadratic(trial: Trial) -> float:
    return (trial.params["x"] - 0.5) ** 2


def test_optimize_runs_n_trials():
    study = _study()
    assert study.optimize(quadratic, n_trials=5) is study
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 5
    assert study.best_value == min(t.value for t in study.trials)
    study.optimize(quadratic, n_trials=2)  # a second call adds to the same study
    assert len(study.trials) == 7
    study.optimize(quadratic, n_trials=0)
    assert len(study.trials) == 7


def test_optimize_with_a_timeout_in_seconds():
    study = _study()

    def slow(trial: Trial) -> float:
        time.sleep(0.05)
        return quadratic(trial)

    study.optimize(slow, timeout=0.3)
    assert len(study.trials) >= 1
    assert all(t.state is TrialState.COMPLETE for t in study.trials)


def test_optimize_with_an_hms_timeout_and_n_trials():
    study = _study()
    study.optimize(quadratic, n_trials=3, timeout="00:10:00")
    assert len(study.trials) == 3


def test_optimize_stops_at_an_hms_timeout():
    study = _study()

    def slow(trial: Trial) -> float:
        time.sleep(0.25)
        return quadratic(trial)

    study.optimize(slow, timeout="00:00:01")
    assert 1 <= len(study.trials) < 100


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({}, r"optimize needs n_trials or timeout \(or both\) so that it can end"),
        ({"n_trials": -1}, r"n_trials must be an integer >= 0, got -1; or None to run until"),
        ({"n_trials": 2.5}, r"n_trials must be an integer >= 0, got 2.5"),
        ({"n_trials": True}, r"n_trials must be an integer >= 0, got True"),
        ({"n_trials": 1, "max_retries": -1}, r"max_retries must be an integer >= 0, got -1"),
        ({"n_trials": 1, "stop_grace": -1}, r"stop_grace must be a finite number >= 0, got -1"),
        (
            {"n_trials": 1, "heartbeat_interval": 0},
            r"heartbeat_interval must be a finite number > 0, got 0; e.g. 5",
        ),
        ({"timeout": "1 hour"}, r"timeout must be a number of seconds or 'HH:MM:SS'"),
        ({"timeout": -5}, r"timeout must be positive, got -5"),
    ],
)
def test_optimize_bad_arguments(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        _study().optimize(quadratic, **kwargs)


def test_objective_error_fails_the_trial_and_the_study_goes_on(caplog):
    study = _study()

    def flaky(trial: Trial) -> float:
        if trial.number == 1:
            raise ValueError("bad batch")
        return quadratic(trial)

    with caplog.at_level(logging.WARNING, logger="lightning_autotune"):
        study.optimize(flaky, n_trials=4)
    states = [t.state for t in study.trials]
    ok, failed = TrialState.COMPLETE, TrialState.FAILED
    assert states == [ok, failed, ok, ok]
    assert study.trials[1].reason == "ValueError: bad batch"
    assert "trial 1 failed: ValueError: bad batch" in caplog.text


def test_error_outside_catch_is_recorded_and_raised():
    study = _study()

    def broken(trial: Trial) -> float:
        raise RuntimeError("cuda")

    with pytest.raises(RuntimeError, match="cuda"):
        study.optimize(broken, n_trials=3, catch=(ValueError,))
    assert len(study.trials) == 1
    assert study.trials[0].state is TrialState.FAILED
    assert study.trials[0].reason == "RuntimeError: cuda"


def test_setup_errors_stop_the_study():
    study = _study()

    def misconfigured(trial: Trial) -> float:
        raise ConfigError("bad monitor")

    with pytest.raises(ConfigError, match="bad monitor"):
        study.optimize(misconfigured, n_trials=3)
    assert [(t.state, t.reason) for t in study.trials] == [
        (TrialState.FAILED, "ConfigError: bad monitor")
    ]


def test_trial_pruned_ends_the_trial_pruned():
    study = _study()

    def objective(trial: Trial) -> float:
        trial.report(1, 3.0)
        if trial.number % 2:
            raise TrialPruned("too slow")
        return 1.0

    study.optimize(objective, n_trials=4)
    states = [t.state for t in study.trials]
    assert states == [TrialState.COMPLETE, TrialState.PRUNED] * 2
    assert study.trials[1].reason == "too slow"
    assert study.trials[1].values == (3.0,)


def test_pruned_through_should_prune():
    study = _study(pruner=MedianPruner(n_startup_trials=1, n_warmup_steps=0))

    def objective(trial: Trial) -> float:
        bad = trial.number >= 1
        for step in range(1, 4):
            trial.report(step, 10.0 if bad else 1.0)
            if trial.should_prune():
                raise TrialPruned()
        return 1.0

    study.optimize(objective, n_trials=2)
    pruned = study.trials[1]
    assert pruned.state is TrialState.PRUNED
    assert pruned.reason == "MedianPruner at step 1 (value 10)"


def test_should_prune_without_raising_is_recorded_pruned():
    study = _study()

    def objective(trial: Trial) -> float:
        trial.report(1, float("nan"))
        assert trial.should_prune()
        return 0.0  # a callback that only set should_stop: the study still records PRUNED

    study.optimize(objective, n_trials=1)
    assert study.trials[0].state is TrialState.PRUNED
    assert study.trials[0].reason == "objective was nan at step 1"


def test_keyboard_interrupt_is_recorded_and_reraised():
    study = _study()

    def objective(trial: Trial) -> float:
        if trial.number == 1:
            raise KeyboardInterrupt
        return 1.0

    with pytest.raises(KeyboardInterrupt):
        study.optimize(objective, n_trials=5)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE, TrialState.FAILED]
    assert study.trials[1].reason == "interrupted: KeyboardInterrupt"


def test_nan_objective_fails_the_trial_and_goes_on():
    study = _study()
    study.optimize(lambda t: float("nan") if t.number == 0 else 1.0, n_trials=2)
    assert [t.state for t in study.trials] == [TrialState.FAILED, TrialState.COMPLETE]
    assert study.trials[0].reason == "objective value was nan"


def test_wrong_number_of_values_is_recorded_and_raised():
    study = _study()
    match = r"has 1 objective\(s\) but trial 0 was told 2 value\(s\)"
    with pytest.raises(ConfigError, match=match):
        study.optimize(lambda t: [1.0, 2.0], n_trials=3)
    assert len(study.trials) == 1
    record = study.trials[0]
    assert record.state is TrialState.FAILED and record.kind is FailureKind.SETUP_ERROR
    assert record.reason is not None and record.reason.startswith("ConfigError: ")


@pytest.mark.parametrize(
    ("returned", "reason"),
    [
        (None, "the objective returned NoneType None, not a number"),
        ("0.1", "the objective returned str '0.1', not a number"),
        ({"loss": 0.1}, "the objective returned dict {'loss': 0.1}, not a number"),
        ([0.1, "x"], "the objective returned list [0.1, 'x'], not a number"),
    ],
)
def test_non_numeric_return_fails_the_trial_and_the_study_goes_on(returned, reason):
    study = _study()
    study.optimize(lambda t: returned, n_trials=3)
    assert [t.state for t in study.trials] == [TrialState.FAILED] * 3
    assert {t.kind for t in study.trials} == {FailureKind.EXCEPTION}
    assert all(t.reason is not None and t.reason.startswith(reason) for t in study.trials)


def test_non_numeric_returns_are_judged_by_the_failure_threshold():
    study = _study()
    with pytest.raises(StudyFailedError, match=r"3 x the objective returned NoneType None"):
        study.optimize(lambda t: None, n_trials=10, failure_threshold=(0.5, 3))
    assert len(study.trials) == 3


def test_multi_objective_optimize():
    study = create_study(space=SPACE, directions=["min", "max"], sampler=RandomSampler(), seed=1)
    study.optimize(lambda t: (t.params["x"] ** 2, t.params["x"]), n_trials=3)
    assert all(t.state is TrialState.COMPLETE and len(t.values) == 2 for t in study.trials)


def test_bare_trial_pruned_gets_a_reason():
    study = _study()

    def objective(trial: Trial) -> float:
        raise TrialPruned

    study.optimize(objective, n_trials=1)
    assert study.trials[0].reason == "the objective raised TrialPruned"
