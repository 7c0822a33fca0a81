"""`lightning-autotune worker` / `run_worker`: independent processes sharing one study."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lightning_autotune.cli import _worker, main, run_worker
from lightning_autotune.exceptions import ConfigError, StorageError
from lightning_autotune.samplers import RandomSampler
from lightning_autotune.storage import _netfs
from lightning_autotune.study import create_study, load_study
from lightning_autotune.trial import TrialState

ROOT = Path(__file__).resolve().parents[2]
SPACE = {"x": {"type": "continuous", "min": 0.0, "max": 1.0}}
OBJECTIVES = """
def objective(trial):
    x = trial.params["x"]
    trial.report(0, x)
    return x
"""


def _start_workers(tmp_path: Path, url: str, n_workers: int, n_trials: int):
    (tmp_path / "objectives.py").write_text(OBJECTIVES)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [
        sys.executable, "-m", "lightning_autotune.cli", "worker", "--study", "shared",
        "--storage", url, "--objective", "objectives:objective", "--n-trials", str(n_trials),
    ]  # fmt: skip
    return [
        subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(n_workers)
    ]


def _finish(procs) -> str:
    errors = ""
    for proc in procs:
        _out, err = proc.communicate(timeout=300)
        errors += err.decode()
        assert proc.returncode == 0, err.decode()[-3000:]
    return errors


@pytest.mark.slow
def test_eight_workers_on_one_sqlite_file_run_exactly_two_hundred_trials(tmp_path):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    create_study("shared", SPACE, url, sampler=RandomSampler(), seed=0)
    errors = _finish(_start_workers(tmp_path, url, 8, 25))
    assert "database is locked" not in errors
    trials = load_study("shared", url).trials
    assert len(trials) == 200
    assert [t.number for t in trials] == list(range(200))
    assert all(t.state is TrialState.COMPLETE and t.value == t.params["x"] for t in trials)
    assert len({t.worker for t in trials}) == 8


@pytest.mark.postgres
def test_workers_share_a_study_through_postgresql(tmp_path):
    base = os.environ.get("AUTOTUNE_TEST_POSTGRES_URL")
    if not base:
        pytest.skip('AUTOTUNE_TEST_POSTGRES_URL is not set; eval "$(.ci/postgres.sh)" sets it')
    pytest.importorskip("psycopg")
    from lightning_autotune.testing.storage_contract import fresh_postgres_database

    with fresh_postgres_database(base) as url:
        create_study("shared", SPACE, url, sampler=RandomSampler(), seed=0)
        errors = _finish(_start_workers(tmp_path, url, 3, 5))
        assert "password" not in errors.lower() or "***" in errors
        trials = load_study("shared", url).trials
        assert [t.number for t in trials] == list(range(15))
        assert all(t.state is TrialState.COMPLETE for t in trials)


def test_run_worker_in_python_joins_an_existing_study(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    create_study("shared", SPACE, url, sampler=RandomSampler(), seed=0)
    study = run_worker("shared", url, lambda t: t.params["x"], max_trials=3)
    study = run_worker("shared", url, lambda t: t.params["x"], max_trials=3)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 3


def test_sqlite_on_a_network_filesystem_is_refused(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 's.db'}"
    create_study("shared", SPACE, url)
    mounts = tmp_path / "mounts"
    mounts.write_text(f"server:/export {tmp_path} glusterfs rw 0 0\n")
    monkeypatch.setattr(_netfs, "MOUNTS", str(mounts))
    with pytest.raises(StorageError, match=r"network file system \(glusterfs\).*PostgreSQL"):
        run_worker("shared", url, lambda t: 0.0, n_trials=1)
    monkeypatch.undo()
    assert load_study("shared", url).trials == []


def test_worker_arguments_are_checked(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="must be an import path 'module:function'"):
        _worker.import_callable("objectives.objective")
    with pytest.raises(ConfigError, match="cannot import module 'no_such_module'"):
        _worker.import_callable("no_such_module:f")
    with pytest.raises(ConfigError, match="exactly one of objective= or build="):
        run_worker("s", f"sqlite:///{tmp_path / 's.db'}")
    assert (
        main(["worker", "--study", "s", "--storage", "sqlite:///x.db", "--objective", "m:f"]) == 2
    )
    assert (
        "error: worker needs --n-trials, --max-trials or --time-budget" in capsys.readouterr().err
    )
    with pytest.raises(ConfigError, match=r"max_trials must be an integer >= 1, got -1"):
        run_worker("s", f"sqlite:///{tmp_path / 's.db'}", lambda t: 0.0, max_trials=-1)


def test_the_old_timeout_spelling_still_works_with_a_warning(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    create_study("shared", SPACE, url, sampler=RandomSampler(), seed=0)
    with pytest.warns(DeprecationWarning, match=r"timeout=\.\.\.\) is deprecated; use time_budget"):
        study = run_worker("shared", url, lambda t: t.params["x"], max_trials=2, timeout=600)
    assert len(study.trials) == 2


def test_a_worker_with_build_trains_through_the_shared_objective(tmp_path):
    from lightning_autotune.testing import (
        TINY_TRAINER_KWARGS,
        TinyClassifier,
        loaders,
        random_datasets,
    )

    url = f"sqlite:///{tmp_path / 'b.db'}"
    create_study("built", SPACE, url, sampler=RandomSampler(), seed=0)

    def build(params):
        return (TinyClassifier(n_features=8, n_classes=3, lr=0.01 + params["x"] / 10),
                *loaders(*random_datasets(n=64, n_features=8)))  # fmt: skip

    study = run_worker("built", url, build=build, trainer_kwargs=TINY_TRAINER_KWARGS,
                       max_trials=1)  # fmt: skip
    assert [t.state for t in study.trials] == [TrialState.COMPLETE]
