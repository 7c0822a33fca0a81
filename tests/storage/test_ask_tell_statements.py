"""How many transactions and SQL statements one ask and one tell cost on a SQLite store.

The cost of an ask+tell is almost all in its round trips to the store, so they are counted here
(an SQLAlchemy event counter, not a clock): one read and one write transaction per ask, one
write transaction per tell, and the same counts whatever the size of the study.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Engine, event

from lightning_autotune import create_study
from lightning_autotune.samplers import RandomSampler
from lightning_autotune.storage import SQLStorage
from lightning_autotune.trial import TrialState

SPACE = {"x": {"type": "continuous", "min": 0.0, "max": 1.0}}


@contextmanager
def counted() -> Iterator[list[str]]:
    """Every SQL statement run by any engine inside the block, BEGINs included."""
    seen: list[str] = []

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(" ".join(statement.split()[:2]).upper())

    event.listen(Engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", note)


def costs(fn: Callable[[], Any]) -> tuple[int, int, Any]:
    """(transactions, statements other than BEGIN, result) of one call."""
    with counted() as seen:
        result = fn()
    begins = [s for s in seen if s.startswith("BEGIN")]
    return len(begins), len(seen) - len(begins), result


def study_with(tmp_path, n_finished: int, reports: int = 3):
    url = f"sqlite:///{tmp_path / 'counts.db'}"
    study = create_study("c", SPACE, SQLStorage(url), sampler=RandomSampler(seed=0), seed=0)
    for _ in range(n_finished):
        trial = study.ask()
        for step in range(reports):
            trial.report(step, 0.5)
        study.tell(trial, 0.25)
    return study


@pytest.mark.parametrize("n_finished", [5, 30])
def test_one_ask_is_one_read_and_one_write_and_one_tell_one_write(tmp_path, n_finished):
    study = study_with(tmp_path, n_finished)
    study.tell(study.ask(), 0.5)  # the process has read the study once (its cache is warm)

    ask_tx, ask_statements, trial = costs(study.ask)
    tell_tx, tell_statements, record = costs(lambda: study.tell(trial, 0.5))

    # ask: the incremental read (count, trials, their values, their metrics), then the write
    # (lock the study, next number, insert); tell: read the trial, its values and metrics, update
    assert (ask_tx, ask_statements) == (2, 7)
    assert (tell_tx, tell_statements) == (1, 4)
    assert record.state is TrialState.COMPLETE and record.values == (0.5,)


def test_an_enqueued_trial_is_claimed_after_the_same_single_read(tmp_path):
    study = study_with(tmp_path, 3)
    queued = study.enqueue({"x": 0.125})

    transactions, _, trial = costs(study.ask)

    assert trial.trial_id == queued.trial_id and trial.params["x"] == 0.125
    # the ask's read saw the queued trial, so it claims (a look and a write) instead of proposing
    assert transactions == 3


def test_a_pruned_tell_without_a_value_reads_the_last_report_once(tmp_path):
    study = study_with(tmp_path, 2)
    trial = study.ask()
    trial.report(0, 0.75)
    trial.report(1, 0.5)

    transactions, _, record = costs(lambda: study.tell(trial, state=TrialState.PRUNED))

    assert transactions == 2  # the read of the last report, and the write
    assert record.state is TrialState.PRUNED and record.values == (0.5,)


def test_telling_by_number_finds_the_trial_in_the_incremental_read(tmp_path):
    study = study_with(tmp_path, 2)
    trial = study.ask()

    record = study.tell(trial.number, 0.125)

    assert record.trial_id == trial.trial_id and record.values == (0.125,)
