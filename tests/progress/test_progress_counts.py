"""Counts of a resumed or finished study, and the live panel of a trial running in process."""

from __future__ import annotations

import io
from typing import Any

import pytest

from lightning_autotune import InMemoryStorage, create_study
from lightning_autotune.progress import ProgressReporter
from lightning_autotune.study import Study

SPACE = {"x": {"type": "continuous", "min": 0.0, "max": 1.0}}


def _lines(stream: io.StringIO) -> str:
    return stream.getvalue()


def _optimize(study: Study, **budget: Any) -> str:
    stream = io.StringIO()
    reporter = ProgressReporter(stream=stream, live=False)
    study.optimize(lambda trial: trial.params["x"], progress=reporter, **budget)
    return _lines(stream)


def test_a_resumed_study_counts_the_trials_it_already_finished() -> None:
    study = create_study("resume", SPACE, InMemoryStorage(), seed=0)
    first = _optimize(study, max_trials=3)
    assert "study 'resume': starting 3 trial(s)" in first
    assert "| 3/3 done |" in first
    again = _optimize(study, max_trials=5)
    assert "study 'resume': resuming: 3 of 5 done, 2 to run" in again
    assert "| 4/5 done |" in again and "| 5/5 done |" in again
    assert "study 'resume': 2 trial(s) finished in" in again and "(5 in the study)" in again
    assert "starting" not in again


def test_a_finished_study_says_it_has_nothing_to_run() -> None:
    study = create_study("done", SPACE, InMemoryStorage(), seed=0)
    _optimize(study, max_trials=2)
    text = _optimize(study, max_trials=2)
    assert "study 'done': nothing to run: the trial budget is spent (2 trial(s) done)" in text
    assert "trial(s) finished" not in text
    assert "study 'done': best " in text
    assert len(study.trials) == 2


def test_n_trials_counts_on_top_of_the_stored_trials() -> None:
    study = create_study("more", SPACE, InMemoryStorage(), seed=0)
    _optimize(study, n_trials=2)
    text = _optimize(study, n_trials=2)
    assert "study 'more': resuming: 2 of 4 done, 2 to run" in text
    assert "| 4/4 done |" in text


def _panel(reporter: ProgressReporter) -> str:
    from rich.console import Console

    out = io.StringIO()
    Console(file=out, width=140, color_system=None).print(reporter)
    return out.getvalue()


def test_live_panel_shows_step_and_value_of_a_trial_running_in_process() -> None:
    pytest.importorskip("rich")
    study = create_study("panel", SPACE, InMemoryStorage(), seed=0)
    reporter = ProgressReporter(stream=io.StringIO(), live=True, poll_every=0)
    seen: list[str] = []

    def objective(trial: Any) -> float:
        trial.report(7, 0.125)
        seen.append(_panel(reporter))  # what rich's refresh thread draws meanwhile
        return 0.1

    study.optimize(objective, n_trials=1, progress=reporter)
    (panel,) = seen
    row = next(line for line in panel.splitlines() if "x=" in line)
    assert " 7 " in row and "0.125" in row


def test_live_panel_rereads_running_trials_at_most_every_poll_every() -> None:
    pytest.importorskip("rich")
    now = [0.0]
    study = create_study("poll", SPACE, InMemoryStorage(), seed=0)
    reporter = ProgressReporter(
        stream=io.StringIO(), live=False, poll_every=5, clock=lambda: now[0]
    )
    reporter.start(study, n_trials=1)
    trial = study.ask()
    reporter.on_trial_start(trial.snapshot())
    trial.report(1, 0.5)
    _panel(reporter)
    assert reporter.snapshot().running[0].last_value == 0.5
    trial.report(2, 0.25)
    now[0] = 4.0
    _panel(reporter)
    assert reporter.snapshot().running[0].last_step == 1  # too soon to read the store again
    now[0] = 5.0
    _panel(reporter)
    assert reporter.snapshot().running[0].last_step == 2
