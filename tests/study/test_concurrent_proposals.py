"""Workers that ask one study at the same instant get distinct configurations.

Each of four processes waits at a barrier before every `ask`, so the four asks of a round race
each other: the first round is the Sobol initial design, the later ones are model-based with the
other workers' trials pending.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
from pathlib import Path
from typing import Any

import pytest

from lightning_autotune.samplers import BoTorchSampler, RandomSampler
from lightning_autotune.storage import InMemoryStorage
from lightning_autotune.study import create_study, load_study
from lightning_autotune.trial import TrialState

SPACE: dict[str, Any] = {
    "x": {"type": "continuous", "min": -1.0, "max": 1.0},
    "n": {"type": "integer", "min": 1, "max": 4},
    "opt": {"type": "categorical", "values": ["adam", "sgd"]},
}
WORKERS, ROUNDS = 4, 3


def _objective(params: dict[str, Any]) -> float:
    return (params["x"] - 0.3) ** 2 + 0.1 * params["n"] + (0.2 if params["opt"] == "sgd" else 0.0)


def _worker(url: str, barrier: Any) -> None:
    study = load_study("race", url, sampler=BoTorchSampler(n_initial_points=4))
    for _ in range(ROUNDS):
        barrier.wait(timeout=120)
        trial = study.ask()
        study.tell(trial, _objective(dict(trial.params)))


def _race(url: str) -> list[dict[str, Any]]:
    create_study("race", SPACE, storage=url, seed=0)
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(WORKERS)
    procs = [ctx.Process(target=_worker, args=(url, barrier)) for _ in range(WORKERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=600)
    assert [p.exitcode for p in procs] == [0] * WORKERS
    trials = load_study("race", url).trials
    assert len(trials) == WORKERS * ROUNDS
    assert all(t.state is TrialState.COMPLETE for t in trials)
    return [dict(t.params) for t in trials]


def _assert_distinct(configs: list[dict[str, Any]]) -> None:
    keys = [json.dumps(c, sort_keys=True) for c in configs]
    repeated = {k for k in keys if keys.count(k) > 1}
    assert not repeated, f"configurations proposed twice: {sorted(repeated)}"


@pytest.mark.slow
def test_simultaneous_workers_on_sqlite_get_distinct_configs(tmp_path: Path) -> None:
    _assert_distinct(_race(f"sqlite:///{tmp_path / 'race.db'}"))


@pytest.mark.slow
@pytest.mark.postgres
def test_simultaneous_workers_on_postgresql_get_distinct_configs() -> None:
    base = os.environ.get("AUTOTUNE_TEST_POSTGRES_URL")
    if not base:
        pytest.skip('AUTOTUNE_TEST_POSTGRES_URL is not set; eval "$(.ci/postgres.sh)" sets it')
    from lightning_autotune.testing.storage_contract import fresh_postgres_database

    with fresh_postgres_database(base) as url:
        _assert_distinct(_race(url))


def test_each_recorded_proposal_saw_every_trial_before_it() -> None:
    """A trial recorded by another process between the read and the write is not missed."""
    store = InMemoryStorage()
    study = create_study("s", SPACE, storage=store, sampler=RandomSampler(), seed=1)
    seen: list[int] = []
    real = study.sampler.suggest

    def suggest(space: Any, history: Any, **kw: Any) -> list[dict[str, Any]]:
        seen.append(len(history) + len(kw["pending"]))
        if len(seen) == 1:  # another worker records a trial while this one proposes
            store.create_trial(study.study_id, {"x": 0.0, "n": 1, "opt": "adam"})
        return real(space, history, **kw)

    study.sampler.suggest = suggest  # type: ignore[method-assign]
    trial = study.ask()
    assert seen == [0, 1]  # proposed again, from a read that holds the other trial
    assert trial.number == 1


def test_ask_never_repeats_a_running_trial() -> None:
    """Exact repeats of a RUNNING trial are proposed again, even by a sampler that ignores them."""
    study = create_study("s", {"n": SPACE["n"]}, sampler=RandomSampler(), seed=0)
    assert sorted(study.ask().params["n"] for _ in range(4)) == [1, 2, 3, 4]
