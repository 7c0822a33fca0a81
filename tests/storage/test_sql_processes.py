"""Several processes on one store: concurrent writers, a study read by another process, SIGKILL.

Kept free of torch imports: spawned workers import this module.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from lightning_autotune.samplers import RandomSampler
from lightning_autotune.storage import SQLStorage
from lightning_autotune.study import create_study, load_study
from lightning_autotune.trial import Direction, FailureKind, Trial, TrialState

ROOT = Path(__file__).resolve().parents[2]
SPACE = {"x": {"type": "continuous", "min": 0.0, "max": 1.0}}
N_PROCESSES, N_TRIALS = 8, 25

# A study loop run in a separate interpreter (spawned by subprocess, so it can be SIGKILLed).
STUDY_SCRIPT = """
import sys, time
from lightning_autotune.samplers import RandomSampler
from lightning_autotune.study import create_study

study = create_study("s", {"x": {"type": "continuous", "min": 0.0, "max": 1.0}}, sys.argv[1],
                     sampler=RandomSampler(), seed=0)

def objective(trial):
    x = trial.params["x"]
    for step in range(4):
        trial.report(step, x + step, {"twice": 2 * x})
        time.sleep(float(sys.argv[3]))
    return x

study.optimize(objective, n_trials=int(sys.argv[2]))
"""


def _objective(trial: Trial) -> float:
    x = float(trial.params["x"])
    for step in range(2):
        trial.report(step, x + step, {"twice": 2 * x})
    return x


def _check_trial(trial, steps: int) -> None:
    """A finished trial of `_objective` (2 steps) / STUDY_SCRIPT (4) holds all it reported."""
    x = trial.params["x"]
    assert trial.values == (x,)
    assert dict(trial.intermediate) == {s: x + s for s in range(steps)}
    assert {s: dict(m) for s, m in trial.metrics.items()} == {
        s: {"twice": 2 * x} for s in range(steps)
    }


def _run_study(url: str, name: str, n_trials: int) -> None:
    """One worker process: open the shared study and run its share of trials."""
    load_study(name, url, sampler=RandomSampler()).optimize(_objective, n_trials=n_trials)


def _spawn_study(url: str, n_trials: int, sleep: float) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-c", STUDY_SCRIPT, url, str(n_trials), str(sleep)]
    return subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store URL several processes can share: a SQLite file, or PostgreSQL when configured."""
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_db"))
    return f"sqlite:///{tmp_path / 'shared.db'}"


@pytest.mark.slow
def test_many_processes_record_every_trial(shared_url: str) -> None:
    create_study("shared", SPACE, shared_url)
    ctx = mp.get_context("spawn")
    workers = [
        ctx.Process(target=_run_study, args=(shared_url, "shared", N_TRIALS))
        for _ in range(N_PROCESSES)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    assert [w.exitcode for w in workers] == [0] * N_PROCESSES
    trials = load_study("shared", shared_url).trials
    assert len(trials) == N_PROCESSES * N_TRIALS
    assert [t.number for t in trials] == list(range(N_PROCESSES * N_TRIALS))
    assert {t.state for t in trials} == {TrialState.COMPLETE}
    for trial in trials:
        _check_trial(trial, 2)


def test_two_coordinators_fail_each_stale_trial_once(shared_url: str) -> None:
    info = SQLStorage(shared_url).create_study("s", SPACE, [Direction.MINIMIZE])
    seed = SQLStorage(shared_url)
    for _ in range(20):
        seed.create_trial(info.study_id, {"x": 0.5})
    time.sleep(0.3)
    failed: list[list[int]] = [[], []]

    def coordinator(i: int) -> None:
        store = SQLStorage(shared_url)  # its own engine and connections
        for _ in range(5):
            failed[i] += [t.number for t in store.fail_stale_trials(info.study_id, 0.1)]

    threads = [threading.Thread(target=coordinator, args=(i,)) for i in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(failed[0] + failed[1]) == list(range(20))
    assert {t.state for t in seed.get_trials(info.study_id)} == {TrialState.FAILED}


def test_study_written_by_another_process(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'other.db'}"
    child = _spawn_study(url, 6, 0.0)
    _, err = child.communicate(timeout=120)
    assert child.returncode == 0, err.decode()
    trials = load_study("s", url).trials
    assert [t.number for t in trials] == list(range(6))
    for trial in trials:
        assert trial.state is TrialState.COMPLETE
        _check_trial(trial, 4)


def _count_complete(path: Path) -> int:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as conn:
            row = conn.execute("SELECT count(*) FROM trials WHERE state = 'COMPLETE'").fetchone()
            return int(row[0])
    except sqlite3.OperationalError:  # not created yet
        return 0


@pytest.mark.slow
def test_sigkill_mid_study_keeps_every_finished_trial(tmp_path: Path) -> None:
    path = tmp_path / "killed.db"
    url = f"sqlite:///{path}"
    child = _spawn_study(url, 100_000, 0.01)
    deadline = time.monotonic() + 60
    while _count_complete(path) < 8 and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.05)
    assert child.poll() is None, "the study process ended before it could be killed"
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL

    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    study = load_study("s", url, sampler=RandomSampler())
    trials = study.trials
    done = [t for t in trials if t.state is TrialState.COMPLETE]
    assert len(done) >= 8
    for trial in done:
        _check_trial(trial, 4)
    # Opening the study found the killed trial: its worker process is gone.
    interrupted = [t for t in trials if t.state is not TrialState.COMPLETE]
    assert [(t.state, t.kind) for t in interrupted] in (
        [],
        [(TrialState.FAILED, FailureKind.PROCESS_DIED)],
    )
    assert [t.number for t in trials] == list(range(len(trials)))

    # The study continues with fresh numbers.
    study.optimize(_objective, n_trials=2)
    assert [t.number for t in study.trials] == list(range(len(trials) + 2))
    for trial in study.trials[-2:]:
        _check_trial(trial, 2)
