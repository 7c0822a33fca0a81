"""The multi-node path as it is used: a real two-node Ray cluster, a PostgreSQL store, faults.

The head (`node_a`) and a second node (`node_b`) are separate `ray start` processes with one CPU
each; the study's trials are tiny Lightning runs spread over both by `RayExecutor`. The faults:
the second node's raylet is SIGKILLed mid-study, and PostgreSQL is stopped for 10 s mid-study.
Every assertion reads the store: each trial number accounted for, none left RUNNING, retries
pointing to their originals with the kind of failure, as many complete trials as asked for.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("psycopg")

from ray_cluster import EPOCHS, RAY_CLI, RayCluster, tiny_lightning_trial  # noqa: E402

from lightning_autotune.samplers import RandomSampler  # noqa: E402
from lightning_autotune.study import RayExecutor, create_study  # noqa: E402
from lightning_autotune.trial import FailureKind, TrialRecord, TrialState  # noqa: E402
from tests.storage.pg_server import pausable_postgres  # noqa: E402

pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the raylet in /proc"),
]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SPACE = {"lr": {"type": "continuous", "min": 1e-3, "max": 1e-1, "scale": "log"}}
N_TRIALS = 4
STUDY_TIMEOUT_S = 120  # a hung study still ends, with its running trials recorded
TEST_LIMIT_S = 240  # per test; the cluster's start has limits of its own


@pytest.fixture(autouse=True)
def _time_limit() -> Iterator[None]:
    """Fail a test that runs past TEST_LIMIT_S (its study is interrupted and recorded)."""

    def expire(signum: int, frame: object) -> None:
        raise TimeoutError(f"the test ran past {TEST_LIMIT_S} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, TEST_LIMIT_S)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module")
def cluster() -> Iterator[RayCluster]:
    if not RAY_CLI.exists():
        pytest.skip(f"Ray's command line ({RAY_CLI}) is not installed beside this Python")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("RAY_AUTH_MODE", "disabled")  # as the cluster's nodes run (see RayCluster)
        started = RayCluster.start(joining=("node_b",))
        try:
            ray.init(
                address=started.address,
                log_to_driver=False,
                runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join([str(ROOT), str(HERE)])}},
            )
            yield started
        finally:
            ray.shutdown()
            started.stop()


@pytest.fixture
def two_nodes(cluster: RayCluster) -> RayCluster:
    """The cluster with both nodes alive (a test before may have killed `node_b`)."""
    node = cluster.nodes["node_b"]
    if node.raylet_pid() is None:
        node.stop()
        cluster.add_node("node_b")
    deadline = time.monotonic() + 30
    while ray.cluster_resources().get("node_b", 0) < 1:
        assert time.monotonic() < deadline, "node_b did not join the cluster"
        time.sleep(0.2)
    return cluster


@pytest.fixture
def pg_url() -> Iterator[str]:
    base = os.environ.get("AUTOTUNE_TEST_POSTGRES_URL")
    if not base:
        pytest.skip('AUTOTUNE_TEST_POSTGRES_URL is not set; eval "$(.ci/postgres.sh)" sets it')
    from lightning_autotune.testing.storage_contract import fresh_postgres_database

    with fresh_postgres_database(base) as url:
        yield url


def _node_names() -> dict[str, str]:
    """Ray node id -> our node name ('node_a' / 'node_b'), from each node's custom resource."""
    names = {}
    for node in ray.nodes():
        for name in ("node_a", "node_b"):
            if name in node["Resources"]:
                names[node["NodeID"]] = name
    return names


def _in_background(fault: Callable[[], None]) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            fault()
        except BaseException as err:  # reported by the test, not lost in the thread
            errors.append(err)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, errors


def _table(trials: list[TrialRecord]) -> str:
    return "\n".join(
        f"{t.number} {t.state.value} kind={t.kind} retry_of={t.retry_of} {t.reason}" for t in trials
    )


def _check_accounting(trials: list[TrialRecord], n_asked: int) -> None:
    """Every number once, nothing left RUNNING/WAITING, `n_asked` proposals complete."""
    print(_table(trials))  # shown when the test fails
    assert sorted(t.number for t in trials) == list(range(len(trials)))
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    by_number = {t.number: t for t in trials}
    proposals = [t for t in trials if t.retry_of is None]
    assert len(proposals) == n_asked
    for t in trials:
        if t.retry_of is not None:
            original = by_number[t.retry_of]
            assert original.state is TrialState.FAILED and original.kind.retryable
            assert t.params == original.params
    # each proposal ends COMPLETE exactly once along its chain of retries
    for p in proposals:
        chain, t = [p], p
        while True:
            nxt = [r for r in trials if r.retry_of == t.number]
            assert len(nxt) <= 1, f"trial {t.number} was retried {len(nxt)} times"
            if not nxt:
                break
            t = nxt[0]
            chain.append(t)
        assert [c.state for c in chain].count(TrialState.COMPLETE) == 1, chain


def test_killing_a_nodes_raylet_mid_study_retries_its_trials_on_the_other_node(
    two_nodes: RayCluster, pg_url: str
) -> None:
    study = create_study("node-kill", SPACE, pg_url, sampler=RandomSampler(), seed=0)
    node_b = two_nodes.nodes["node_b"]
    names = _node_names()
    killed: list[int] = []

    def kill_node_b_while_it_runs_a_trial() -> None:
        deadline = time.monotonic() + STUDY_TIMEOUT_S
        while time.monotonic() < deadline:
            running = study.get_trials([TrialState.RUNNING])
            on_b = [t for t in running if names.get(t.user_attrs.get("node", "")) == "node_b"]
            if on_b:
                killed.extend(t.number for t in on_b)
                node_b.kill_raylet()
                return
            time.sleep(0.05)
        raise AssertionError("no trial ever ran on node_b")

    thread, errors = _in_background(kill_node_b_while_it_runs_a_trial)
    study.optimize(
        tiny_lightning_trial,
        max_trials=N_TRIALS,
        timeout=STUDY_TIMEOUT_S,
        executor=RayExecutor(n_workers=2, num_cpus=1),
    )
    thread.join(timeout=5)
    assert not errors, errors
    trials = study.trials
    _check_accounting(trials, N_TRIALS)
    by_number = {t.number: t for t in trials}
    for number in killed:
        dead = by_number[number]
        assert dead.state is TrialState.FAILED and dead.kind is FailureKind.PROCESS_DIED
        assert "Ray task failed" in (dead.reason or ""), dead.reason
        (retry,) = [t for t in trials if t.retry_of == number]
        assert retry.state is TrialState.COMPLETE
        assert names[retry.user_attrs["node"]] == "node_a"  # node_b is gone
    complete = [t for t in trials if t.state is TrialState.COMPLETE]
    assert len(complete) == N_TRIALS
    assert len(trials) == N_TRIALS + len(killed)
    assert {names[t.user_attrs["node"]] for t in trials} == {"node_a", "node_b"}


def test_stopping_postgresql_for_10s_mid_study_loses_and_doubles_nothing(
    two_nodes: RayCluster, caplog: pytest.LogCaptureFixture
) -> None:
    with pausable_postgres() as server:
        study = create_study("pg-outage", SPACE, server.url, sampler=RandomSampler(), seed=0)
        down: list[float] = []

        def stop_postgres_while_trials_run() -> None:
            deadline = time.monotonic() + STUDY_TIMEOUT_S
            while time.monotonic() < deadline:
                running = study.get_trials([TrialState.RUNNING])
                if any(t.user_attrs.get("node") for t in running):  # a trial's objective runs
                    down.append(server.outage(10.0))
                    return
                time.sleep(0.05)
            raise AssertionError("no trial ever started")

        thread, errors = _in_background(stop_postgres_while_trials_run)
        with caplog.at_level(logging.WARNING, "lightning_autotune"):
            study.optimize(
                tiny_lightning_trial,
                max_trials=N_TRIALS,
                timeout=STUDY_TIMEOUT_S,
                executor=RayExecutor(n_workers=2, num_cpus=1),
            )
        thread.join(timeout=30)
        assert not errors, errors
        assert down and down[0] >= 10.0
        trials = study.trials
        _check_accounting(trials, N_TRIALS)
        # a 10 s outage is waited out: no trial failed, none was retried
        assert [t.state for t in trials] == [TrialState.COMPLETE] * N_TRIALS, _table(trials)
        assert all(len(t.intermediate) == EPOCHS for t in trials)
        password = server.url.split("@")[0].rsplit(":", 1)[1]
        said = [r.getMessage() for r in caplog.records]
        masked = f"{server.url.split('@')[0].rsplit(':', 1)[0]}:***@".replace(
            "postgresql://", "postgresql+psycopg://"
        )
        assert any(masked in m and "does not answer" in m for m in said), said
        back = [m for m in said if masked in m and "answers again after" in m]
        assert back and float(back[0].split(" after ")[1].split(" s ")[0]) >= 9.0, said
        assert password not in caplog.text
        # the trial processes on the Ray nodes waited too, and said so in their own logs
        worker_logs = "".join(
            p.read_text(errors="replace") for p in two_nodes.root.glob("*/session_*/logs/worker-*")
        )
        assert masked in worker_logs and "answers again after" in worker_logs
        assert password not in worker_logs
