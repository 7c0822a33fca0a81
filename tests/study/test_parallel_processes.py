"""Trials in their own processes: results, failures, OOM, SIGKILL, budgets, scripts, resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from lightning_autotune.samplers import RandomSampler
from lightning_autotune.study import ProcessExecutor, create_study, load_study
from lightning_autotune.trial import TrialState

pytestmark = pytest.mark.slow

GRID = {"x": {"type": "discrete", "values": [1, 2, 3, 4]}}
ROOT = Path(__file__).resolve().parents[2]


def _url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'study.db'}"


def objective_by_case(trial):
    x = trial.params["x"]
    if x == 2:
        raise ValueError("x=2 is not allowed")
    if x == 3:
        hog = bytearray(3 * 10**9)  # far beyond memory_limit: MemoryError under RLIMIT_AS
        return float(len(hog))
    if x == 4 and trial.snapshot().retry_of is None:
        os.kill(os.getpid(), signal.SIGKILL)
    return float(x)


def test_trial_processes_record_results_failures_oom_and_a_sigkilled_child(tmp_path):
    study = create_study("p", GRID, _url(tmp_path), sampler=RandomSampler(), seed=0)
    for x in (1, 2, 3, 4):
        study.enqueue({"x": x})
    study.optimize(
        objective_by_case, max_trials=4, executor=ProcessExecutor(2, memory_limit="300MB")
    )
    by_x = {t.params["x"]: t for t in study.trials if t.retry_of is None}
    assert by_x[1].state is TrialState.COMPLETE and by_x[1].value == 1.0
    assert by_x[2].state is TrialState.FAILED
    assert by_x[2].reason == "ValueError: x=2 is not allowed"
    assert by_x[2].user_attrs["error_at"].startswith("test_parallel_processes.py:")
    assert by_x[3].state is TrialState.FAILED and by_x[3].reason.startswith("oom: MemoryError")
    assert by_x[4].state is TrialState.FAILED and by_x[4].reason == "process died: signal SIGKILL"
    retry = [t for t in study.trials if t.retry_of == by_x[4].number]
    assert len(retry) == 1 and retry[0].state is TrialState.COMPLETE and retry[0].value == 4.0
    assert all(t.heartbeat_at is not None for t in study.trials)
    assert sorted(t.number for t in study.trials) == list(range(5))


def sleepy(trial):
    time.sleep(60)
    return 0.0


def test_time_budget_stops_running_trial_processes_and_says_so(tmp_path):
    study = create_study("b", GRID, _url(tmp_path), sampler=RandomSampler(), seed=0)
    study.optimize(sleepy, n_trials=10, timeout=3, n_workers=2, stop_grace=1)
    # Stopped, not waited for: a trial that slept its 60 s would be COMPLETE with value 0.
    assert len(study.trials) == 2
    assert {t.state for t in study.trials} == {TrialState.FAILED}
    assert {t.reason for t in study.trials} == {"stopped: time budget reached"}
    assert study.user_attrs["last_stop"]["reason"] == "time budget reached"


def wrong_setup(trial):
    from lightning_autotune.exceptions import MetricNotFoundError

    raise MetricNotFoundError("monitor 'val_los' was not logged")


def test_a_setup_error_in_a_trial_process_stops_the_study_with_its_own_type(tmp_path):
    from lightning_autotune.exceptions import MetricNotFoundError

    study = create_study("e", GRID, _url(tmp_path), sampler=RandomSampler(), seed=0)
    with pytest.raises(MetricNotFoundError, match="'val_los' was not logged"):
        study.optimize(wrong_setup, n_trials=6, executor=ProcessExecutor(1))
    assert len(study.trials) == 1


SCRIPT = """
import sys, time
from lightning_autotune.samplers import RandomSampler
from lightning_autotune.study import create_study

PAUSE = float(sys.argv[3])


def objective(trial):  # defined in __main__: travels to trial processes with cloudpickle
    time.sleep(PAUSE)
    return (trial.params["x"] - 0.3) ** 2

study = create_study(
    "resume", {"x": {"type": "continuous", "min": 0, "max": 1}}, "sqlite:///" + sys.argv[1],
    sampler=RandomSampler(), seed=7,
)
study.optimize(objective, max_trials=6, n_workers=int(sys.argv[2]), heartbeat_interval=0.5)
print("done", len(study.trials))
"""


def _run_script(tmp_path: Path, db: str, workers: int, pause: float) -> subprocess.Popen:
    script = tmp_path / "tune.py"
    script.write_text(textwrap.dedent(SCRIPT))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / db), str(workers), str(pause)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


def _kill_after_completions(proc: subprocess.Popen, url: str, n: int, signum: int) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            done = load_study("resume", url).get_trials([TrialState.COMPLETE])
        except Exception:  # not created yet
            done = []
        if len(done) >= n:
            break
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.1)
    os.kill(proc.pid, signum)
    proc.wait(timeout=60)


def _proposals(url: str) -> list[float]:
    return [t.params["x"] for t in load_study("resume", url).trials if t.retry_of is None]


def _check_resumed(url: str) -> None:
    trials = load_study("resume", url).trials
    assert [t.number for t in trials] == list(range(len(trials)))
    assert sum(t.retry_of is None for t in trials) == 6
    assert not [t for t in trials if not t.state.is_finished]
    complete = {t.params["x"] for t in trials if t.state is TrialState.COMPLETE}
    assert complete == {t.params["x"] for t in trials}  # every config finished in the end


@pytest.mark.parametrize(
    ("signum", "workers"), [(signal.SIGKILL, 1), (signal.SIGKILL, 2), (signal.SIGINT, 2)]
)
def test_killed_coordinator_resumes_as_if_uninterrupted(tmp_path, signum, workers):
    plain = _run_script(tmp_path, "plain.db", workers, 0.0)
    _out, err = plain.communicate(timeout=300)
    assert plain.returncode == 0, err.decode()[-2000:]
    killed = _run_script(tmp_path, "killed.db", workers, 0.7)
    url = f"sqlite:///{tmp_path / 'killed.db'}"
    _kill_after_completions(killed, url, 2, signum)
    if signum == signal.SIGINT:  # Ctrl-C: the running trials are recorded, none left RUNNING
        left = load_study("resume", url).trials
        assert not [t for t in left if t.state is TrialState.RUNNING]
    before = {t.number: t for t in load_study("resume", url).get_trials([TrialState.COMPLETE])}
    again = _run_script(tmp_path, "killed.db", workers, 0.0)
    _out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err.decode()[-2000:]
    _check_resumed(url)
    after = {t.number: t for t in load_study("resume", url).trials}
    assert all(after[n] == rec for n, rec in before.items())  # finished trials untouched
    if workers == 1:  # one proposal at a time: the same sequence as the uninterrupted run
        assert _proposals(url) == _proposals(f"sqlite:///{tmp_path / 'plain.db'}")


@pytest.mark.postgres
def test_trial_processes_reconnect_to_postgresql():
    base = os.environ.get("AUTOTUNE_TEST_POSTGRES_URL")
    if not base:
        pytest.skip('AUTOTUNE_TEST_POSTGRES_URL is not set; eval "$(.ci/postgres.sh)" sets it')
    pytest.importorskip("psycopg")
    from lightning_autotune.testing.storage_contract import fresh_postgres_database

    with fresh_postgres_database(base) as url:
        study = create_study("pg", GRID, url, sampler=RandomSampler(), seed=0)
        for x in (1, 2, 1):
            study.enqueue({"x": x})
        study.optimize(objective_by_case, max_trials=3, n_workers=2)
        states = [t.state for t in load_study("pg", url).trials]
        assert states.count(TrialState.COMPLETE) == 2 and states.count(TrialState.FAILED) == 1
