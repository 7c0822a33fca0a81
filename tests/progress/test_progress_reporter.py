from __future__ import annotations

import io

import pytest

from lightning_autotune import InMemoryStorage, create_study
from lightning_autotune.exceptions import ConfigError
from lightning_autotune.progress import ProgressReporter
from lightning_autotune.trial import TrialState

SPACE = {
    "lr": {"type": "continuous", "min": 1e-4, "max": 1e-1, "scale": "log"},
    "opt": {"type": "categorical", "values": ["adam", "sgd"]},
}


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _study(name: str = "progress"):
    return create_study(name, SPACE, InMemoryStorage(), seed=0)


def test_plain_lines_when_not_a_terminal():
    stream, clock = io.StringIO(), FakeClock()
    study = _study()
    reporter = ProgressReporter(stream=stream, clock=clock)
    reporter.start(study, n_trials=4)
    for i, value in enumerate([0.5, 0.3, None, 0.4]):
        trial = study.ask()
        reporter.on_trial_start(trial.snapshot())
        trial.report(0, 1.0)
        clock.now += 10.0
        if value is None:
            record = study.tell(trial, state=TrialState.PRUNED, reason="MedianPruner at step 0")
        else:
            record = study.tell(trial, value)
        reporter.on_trial_end(record)
        if i == 1:
            assert reporter.snapshot().remaining == pytest.approx(20.0)
    reporter.close()
    lines = stream.getvalue().splitlines()
    assert all(line.startswith("[autotune ") for line in lines)
    text = "\n".join(lines)
    assert "study 'progress': starting 4 trial(s)" in text
    assert "trial 0 started: lr=" in text and "opt=" in text
    assert "trial 0 COMPLETE value=0.5 | best 0.5 (trial 0: lr=" in text
    assert "| 1/4 done | elapsed 00:00:10, ~00:00:30 left" in text
    assert "trial 1 COMPLETE value=0.3 | best 0.3 (trial 1" in text
    assert "trial 2 PRUNED value=1 (MedianPruner at step 0) | best 0.3 (trial 1" in text
    assert "study 'progress': 4 trial(s) finished in 00:00:40; best 0.3 (trial 1" in text
    snap = reporter.snapshot()
    assert snap.done == 4 and snap.states == {TrialState.COMPLETE: 3, TrialState.PRUNED: 1}
    assert snap.remaining == 0.0 and snap.running == ()


def test_time_budget_bounds_the_estimate_and_maximize_picks_the_largest():
    stream, clock = io.StringIO(), FakeClock()
    study = create_study("max", SPACE, InMemoryStorage(), "maximize", seed=0)
    reporter = ProgressReporter(stream=stream, clock=clock)
    reporter.start(study, n_trials=100, time_budget=60.0)
    assert reporter.snapshot().remaining == pytest.approx(60.0)
    for value in (1.0, 3.0, 2.0):
        trial = study.ask()
        reporter.on_trial_start(trial.snapshot())
        clock.now += 5.0
        reporter.on_trial_end(study.tell(trial, value))
    snap = reporter.snapshot()
    assert snap.best_value == 3.0 and snap.best_number == 1
    assert snap.remaining == pytest.approx(45.0)  # budget left, not 97 trials at 5 s each
    assert "time budget 00:01:00" in stream.getvalue()


def test_refresh_shows_the_last_value_of_running_trials():
    stream, clock = io.StringIO(), FakeClock()
    study = _study()
    reporter = ProgressReporter(stream=stream, clock=clock, status_every=0)
    reporter.start(study)
    trial = study.ask()
    reporter.on_trial_start(trial.snapshot())
    trial.report(3, 0.25)
    reporter.refresh(study)
    (running,) = reporter.snapshot().running
    assert (running.number, running.last_step, running.last_value) == (0, 3, 0.25)
    assert "trial 0 running, step 3: 0.25" in stream.getvalue()
    trial.report(4, 0.2)
    reporter.on_trial_report(trial.snapshot())
    assert reporter.snapshot().running[0].last_value == 0.2


def test_resumed_study_starts_from_its_stored_best():
    study = _study()
    study.tell(study.ask(), 0.1)
    reporter = ProgressReporter(quiet=True)
    reporter.start(study, n_trials=1)
    snap = reporter.snapshot()
    assert snap.best_value == 0.1 and snap.done == 0


def test_quiet_prints_nothing():
    stream = io.StringIO()
    study = _study()
    with ProgressReporter(quiet=True, stream=stream).start(study, n_trials=1) as reporter:
        trial = study.ask()
        reporter.on_trial_start(trial.snapshot())
        reporter.on_trial_end(study.tell(trial, 1.0))
    assert stream.getvalue() == ""
    assert reporter.snapshot().best_value == 1.0


def test_rich_panel_when_live():
    pytest.importorskip("rich")
    stream = io.StringIO()
    study = _study("live")
    reporter = ProgressReporter(stream=stream, live=True)
    reporter.start(study, n_trials=2)
    trial = study.ask()
    reporter.on_trial_start(trial.snapshot())
    trial.report(1, 0.7)
    reporter.refresh(study)
    reporter.on_trial_end(study.tell(trial, 0.5))
    reporter.close()
    text = stream.getvalue()
    assert "lightning-autotune: live" in text
    assert "1/2" in text and "best" in text and "0.5" in text


def test_hooks_need_start_and_status_every_is_checked():
    reporter = ProgressReporter()
    study = _study()
    with pytest.raises(ConfigError, match=r"start\(study, \.\.\.\) must be called before"):
        reporter.on_trial_start(study.ask().snapshot())
    with pytest.raises(ConfigError, match=r"status_every must be a finite number >= 0, got -1"):
        ProgressReporter(status_every=-1)
