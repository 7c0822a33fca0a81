"""A PostgreSQL server that goes away: waited for with backoff, said once, nothing doubled."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from lightning_autotune.exceptions import ConfigError, StorageError
from lightning_autotune.storage import SQLStorage
from lightning_autotune.storage._reconnect import RECONNECT_ENV
from lightning_autotune.trial import Direction, TrialState
from tests.storage.pg_server import PausablePostgres, pausable_postgres

SPACE = {"x": {"type": "continuous", "min": 0.0, "max": 1.0}}


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    return int(port)


def test_a_store_that_never_answers_gives_up_after_reconnect_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pytest.importorskip("psycopg")
    url = f"postgresql://user:s3cret-pw@127.0.0.1:{_closed_port()}/db?reconnect_timeout=1.5"
    start = time.monotonic()
    with (
        caplog.at_level(logging.WARNING, "lightning_autotune"),
        pytest.raises(
            StorageError,
            match=r"user:\*\*\*@127\.0\.0\.1:\d+/db: could not open the store: the database server "
            r"has not answered for \d s \(connection failed: .*Connection refused\)\. Check that "
            r"it is running .* set \?reconnect_timeout=SECONDS on the store URL or "
            r"AUTOTUNE_RECONNECT_TIMEOUT\.",
        ),
    ):
        SQLStorage(url)
    assert time.monotonic() - start >= 1.5
    (line,) = [r.getMessage() for r in caplog.records]
    assert line.startswith("the store postgresql+psycopg://user:***@127.0.0.1:")
    assert "waiting up to 2 s for it to open the store" in line
    assert "s3cret-pw" not in caplog.text


@pytest.mark.parametrize(
    ("where", "value"), [("url", "soon"), ("url", "-1"), ("env", "inf"), ("env", "nan")]
)
def test_a_bad_reconnect_timeout_is_refused(
    where: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("psycopg")
    url = "postgresql://user:pw@127.0.0.1:1/db"
    if where == "url":
        url += f"?reconnect_timeout={value}"
        field = r"the store URL's \?reconnect_timeout="
    else:
        monkeypatch.setenv(RECONNECT_ENV, value)
        field = RECONNECT_ENV
    with pytest.raises(
        ConfigError,
        match=rf"^{field} must be a number of seconds >= 0 \(how long to wait for a database "
        rf"server that stopped answering\), got '{value}'; e\.g\. 60, or 0 to fail at once$",
    ):
        SQLStorage(url)


@pytest.mark.postgres
def test_wrong_credentials_fail_at_once_without_waiting(
    postgres_db: str, caplog: pytest.LogCaptureFixture
) -> None:
    user_and_password, rest = postgres_db.split("@", 1)
    wrong = f"{user_and_password}-wrong@{rest}"
    start = time.monotonic()
    with (
        caplog.at_level(logging.WARNING, "lightning_autotune"),
        pytest.raises(StorageError, match="password authentication failed"),
    ):
        SQLStorage(wrong)
    assert time.monotonic() - start < 10  # the 60 s wait is for servers that went away
    assert "does not answer" not in caplog.text


@pytest.fixture
def store(postgres_db: str) -> SQLStorage:
    return SQLStorage(postgres_db)


def _drop_answer_to_next_commit(store: SQLStorage, commit: bool) -> None:
    """The next COMMIT is carried out (`commit`) or not, and then its answer is lost."""
    import psycopg

    engine = store._db._write_engine  # the write engine: where commits happen

    def lose_the_answer(conn: object) -> None:
        event.remove(engine, "commit", lose_the_answer)
        dbapi = conn.connection.dbapi_connection  # type: ignore[attr-defined]
        dbapi.commit() if commit else dbapi.rollback()
        orig = psycopg.OperationalError("server closed the connection unexpectedly")
        raise OperationalError("COMMIT", {}, orig, connection_invalidated=True)

    event.listen(engine, "commit", lose_the_answer)


@pytest.mark.postgres
@pytest.mark.parametrize("committed", [True, False], ids=["committed", "rolled-back"])
def test_a_commit_whose_answer_is_lost_is_recorded_once(
    store: SQLStorage, committed: bool, caplog: pytest.LogCaptureFixture
) -> None:
    info = store.create_study("lost", SPACE, [Direction.MINIMIZE])
    _drop_answer_to_next_commit(store, committed)
    with caplog.at_level(logging.WARNING, "lightning_autotune"):
        record = store.create_trial(info.study_id, {"x": 0.5})
    trials = store.get_trials(info.study_id)
    assert [(t.number, t.trial_id) for t in trials] == [(0, record.trial_id)]
    assert "answers again after" in caplog.text


@pytest.fixture
def own_server() -> Iterator[PausablePostgres]:
    with pausable_postgres() as server:
        yield server


@pytest.mark.slow
def test_writers_wait_out_a_server_stopped_for_10s_and_record_everything_once(
    own_server: PausablePostgres, caplog: pytest.LogCaptureFixture
) -> None:
    url = own_server.url
    study_id = SQLStorage(url).create_study("outage", SPACE, [Direction.MINIMIZE]).study_id
    acknowledged: list[int] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def write_trials(worker: int) -> None:
        store = SQLStorage(url)
        while not stop.is_set():
            try:
                t = store.create_trial_if_next(study_id, None, {"x": 0.5}, worker=f"w{worker}")
                assert t is not None
                store.report(t.trial_id, 0, 1.0)
                store.heartbeat(t.trial_id)
                store.finish_trial(t.trial_id, TrialState.COMPLETE, [float(worker)])
                acknowledged.append(t.number)
            except BaseException as err:
                errors.append(err)
                return

    with caplog.at_level(logging.WARNING, "lightning_autotune"):
        threads = [threading.Thread(target=write_trials, args=(i,)) for i in range(3)]
        for thread in threads:
            thread.start()
        time.sleep(1.0)
        own_server.outage(10.0)
        time.sleep(2.0)
        stop.set()
        for thread in threads:
            thread.join(timeout=70)
    assert not errors, errors
    trials = SQLStorage(url).get_trials(study_id)
    print(f"{len(acknowledged)} trials acknowledged, {len(trials)} recorded")  # for the record
    assert sorted(acknowledged) == sorted(t.number for t in trials)
    assert sorted(t.number for t in trials) == list(range(len(trials)))
    assert all(t.state is TrialState.COMPLETE for t in trials)
    password = url.split("@")[0].rsplit(":", 1)[1]
    waits = [r.getMessage() for r in caplog.records if "does not answer" in r.getMessage()]
    backs = [r.getMessage() for r in caplog.records if "answers again after" in r.getMessage()]
    assert len(waits) == len(backs) == 3  # one store per thread: one line each way
    assert all(":***@127.0.0.1" in line and password not in line for line in waits + backs)
    assert all(float(line.split(" after ")[1].split(" s ")[0]) >= 9 for line in backs)
