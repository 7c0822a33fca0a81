"""Workers racing for the last trials of a `max_trials` budget never overshoot it.

Eight threads, each with its own store object (its own engine and connections, as separate
processes would have), run `optimize(max_trials=...)` on one study at once. Counting the study's
proposals and creating a trial are one transaction in the store, so the study ends with exactly
`max_trials` proposal trials.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from lightning_autotune.samplers import RandomSampler
from lightning_autotune.storage import SQLStorage
from lightning_autotune.study import create_study, load_study
from lightning_autotune.study._faults import is_proposal
from lightning_autotune.trial import Trial, TrialState

SPACE: dict[str, Any] = {"x": {"type": "continuous", "min": 0.0, "max": 1.0}}
WORKERS, MAX_TRIALS = 8, 20


def _objective(trial: Trial) -> float:
    return float(trial.params["x"])


def _race(url: str) -> list[TrialState]:
    create_study("race", SPACE, storage=url, sampler=RandomSampler(), seed=0)
    barrier = threading.Barrier(WORKERS)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            study = load_study("race", SQLStorage(url), sampler=RandomSampler())
            barrier.wait(timeout=60)
            study.optimize(_objective, max_trials=MAX_TRIALS)
        except BaseException as err:  # surfaced by the assertion below
            errors.append(err)

    threads = [threading.Thread(target=work) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert errors == []
    trials = load_study("race", url).trials
    assert sum(1 for t in trials if is_proposal(t)) == MAX_TRIALS
    return [t.state for t in trials]


@pytest.mark.parametrize("run", range(3))
def test_eight_workers_never_overshoot_max_trials_sqlite(tmp_path: Path, run: int) -> None:
    states = _race(f"sqlite:///{tmp_path / 'race.db'}")
    assert states == [TrialState.COMPLETE] * MAX_TRIALS


@pytest.mark.postgres
def test_eight_workers_never_overshoot_max_trials_postgres(postgres_db: str) -> None:
    states = _race(postgres_db)
    assert states == [TrialState.COMPLETE] * MAX_TRIALS
