"""A trial started through `ask` by a process that then dies does not stay RUNNING for good."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from lightning_autotune.exceptions import ConfigError
from lightning_autotune.samplers import RandomSampler
from lightning_autotune.storage import InMemoryStorage
from lightning_autotune.study import create_study, load_study
from lightning_autotune.trial import FailureKind, TrialState

SPACE = {"x": {"type": "continuous", "min": 0.0, "max": 1.0}}

_ASK_THEN_WAIT = """
import sys, time
from lightning_autotune.samplers import RandomSampler
from lightning_autotune.study import load_study
trial = load_study("s", sys.argv[1], sampler=RandomSampler()).ask()
print(trial.number, flush=True)
time.sleep(600)
"""


def test_a_trial_asked_by_a_killed_process_is_failed_when_the_study_is_next_opened(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'ask.db'}"
    create_study("s", SPACE, url, sampler=RandomSampler(), seed=0)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen(
        [sys.executable, "-c", _ASK_THEN_WAIT, url], stdout=subprocess.PIPE, env=env
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == b"0"
        assert load_study("s", url).trials[0].state is TrialState.RUNNING  # alive: left alone
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    study = load_study("s", url, sampler=RandomSampler())
    (dead,) = study.trials
    assert dead.state is TrialState.FAILED and dead.kind is FailureKind.PROCESS_DIED
    assert dead.reason == f"process died: worker {dead.worker} is gone"
    assert dead.worker is not None and dead.worker.endswith(f":{child.pid}")
    # no longer pending: the next ask proposes and runs beside it
    trial = study.ask()
    assert trial.number == 1
    assert [t.state for t in study.trials] == [TrialState.FAILED, TrialState.RUNNING]


def test_stale_after_fails_a_silent_trial_on_the_next_ask() -> None:
    study = create_study(
        "s", SPACE, InMemoryStorage(), sampler=RandomSampler(), seed=0, stale_after=30
    )
    assert study.stale_after == 30
    silent, alive = study.ask(), study.ask()
    store = study.storage
    old = datetime.now(timezone.utc) - timedelta(minutes=5)
    for trial in (silent, alive):  # as if both had run elsewhere, five minutes ago
        store._trials[trial.trial_id] = replace(store._trials[trial.trial_id], heartbeat_at=old)
    alive.heartbeat()
    study.ask()
    assert study.trials[0].state is TrialState.FAILED
    assert study.trials[0].kind is FailureKind.HEARTBEAT_LOST
    assert study.trials[1].state is TrialState.RUNNING


def test_stale_after_is_stored_with_the_study(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'lease.db'}"
    create_study("s", SPACE, url, stale_after=120)
    assert load_study("s", url).stale_after == 120
    with pytest.raises(ConfigError, match=r"stale_after must be a finite number >= 0, got -1"):
        create_study("t", SPACE, url, stale_after=-1)


def test_opening_a_study_reads_only_its_running_trials() -> None:
    # `load_study` looks for dead trials among the RUNNING ones; a study of 10,000 finished
    # trials is not read whole (nor filled into the incremental cache) to find them.
    storage = InMemoryStorage()
    study = create_study("s", SPACE, storage, sampler=RandomSampler(), seed=0)
    for _ in range(3):
        study.tell(study.ask(), 0.5)
    gone = storage.create_trial(
        study.study_id, {"x": 0.5}, worker=f"{socket.gethostname()}:999999999"
    )
    reads: list[object] = []
    real = storage.get_trials

    def counted(study_id: int, states: object = None) -> object:
        reads.append(states)
        return real(study_id, states)  # type: ignore[arg-type]

    storage.get_trials = counted  # type: ignore[assignment,method-assign]
    storage.read_trials = None  # type: ignore[assignment,method-assign]  # must not be called
    try:
        load_study("s", storage)
    finally:
        del storage.get_trials, storage.read_trials
    assert reads == [[TrialState.RUNNING]]
    assert storage.get_trial(gone.trial_id).kind is FailureKind.PROCESS_DIED
