"""The statements `SQLStorage` builds its transactions from: numbering, inserting, reading one
trial, claiming and failing live trials. Each takes an open connection; the caller owns the
transaction."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any

from sqlalchemy import Connection, func, insert, or_, select, update

from lightning_autotune.exceptions import StorageError, StudyNotFoundError, TrialStateError
from lightning_autotune.storage._base import StudyInfo, stale_reason
from lightning_autotune.storage._problems import MalformedRow
from lightning_autotune.storage._rows import (
    BadValue,
    decode_study,
    decode_trials,
    fetch_rows,
    study_info,
    study_names,
    study_rows,
)
from lightning_autotune.storage._schema import studies, trials
from lightning_autotune.trial import FailureKind, TrialRecord, TrialState

__all__ = [
    "LIVE",
    "claim_oldest_waiting",
    "close_waiting",
    "fail_stale",
    "insert_trial",
    "lock_study",
    "lock_study_row",
    "malformed_rows",
    "next_number",
    "now",
    "one_trial",
    "proposals",
    "read_trials",
    "stale_condition",
    "touch_live",
]

LIVE = (TrialState.WAITING.value, TrialState.RUNNING.value)


def now() -> datetime:
    return datetime.now(timezone.utc)


def lock_study(conn: Connection, study_id: int, url: str) -> StudyInfo:
    """The study row, locked until the transaction ends (serializes numbering in the study)."""
    found = study_rows(conn, studies.c.id == study_id, lock=True)
    if not found:
        raise StudyNotFoundError(f"no study with id {study_id} in {url}")
    return study_info(found[0])


def lock_study_row(conn: Connection, study_id: int, url: str) -> None:
    """Lock the study row until the transaction ends, reading nothing but its id (numbering
    needs the lock and the study's existence, not its decoded space).

    Raises:
        StudyNotFoundError: No study has that id.
    """
    query = select(studies.c.id).where(studies.c.id == study_id)
    if conn.dialect.name != "sqlite":  # SQLite: `BEGIN IMMEDIATE` already holds the write lock
        query = query.with_for_update()
    if conn.execute(query).first() is None:
        raise StudyNotFoundError(f"no study with id {study_id} in {url}")


def next_number(conn: Connection, study_id: int, url: str, sqlite: bool) -> int:
    """The study's next free trial number; locks the study row."""
    lock_study_row(conn, study_id, url)
    where = trials.c.study_id == study_id
    if sqlite:  # a number written as text by hand would sort above every integer
        where = where & (func.typeof(trials.c.number) == "integer")
    query = select(func.coalesce(func.max(trials.c.number) + 1, 0)).where(where)
    return int(conn.execute(query).scalar_one())


def proposals(conn: Connection, study_id: int) -> int:
    """The study's proposal trials (see `is_proposal`); call with the study row locked."""
    query = select(func.count()).where(
        trials.c.study_id == study_id,
        trials.c.retry_of.is_(None),
        or_(trials.c.kind.is_(None), trials.c.kind != FailureKind.SETUP_ERROR.value),
    )
    return int(conn.execute(query).scalar_one())


def insert_trial(
    conn: Connection,
    study_id: int,
    number: int,
    encoded: str,
    state: TrialState,
    worker: str | None,
    retry_of: int | None,
    url: str,
) -> TrialRecord:
    stamp = now() if state is TrialState.RUNNING else None
    trial_id = conn.execute(
        insert(trials)
        .values(
            study_id=study_id,
            number=number,
            state=state.value,
            params=encoded,
            started_at=stamp,
            heartbeat_at=stamp,
            worker=worker,
            retry_of=retry_of,
            user_attrs="{}",
        )
        .returning(trials.c.id)
    ).scalar_one()
    # what was just written, without reading it back
    return TrialRecord(
        trial_id=trial_id,
        number=number,
        state=state,
        params=MappingProxyType(json.loads(encoded)),
        started_at=stamp,
        heartbeat_at=stamp,
        worker=worker,
        retry_of=retry_of,
    )


def read_trials(
    conn: Connection, where: Any, fetch: Callable[..., Any] = fetch_rows
) -> tuple[list[TrialRecord], list[MalformedRow]]:
    """The trials matching `where` that decode, and the rows that do not; `fetch` reads the
    rows (`fetch_rows`, or `fetch_last_reports` for trials without their curves)."""
    rows, inter, mets = fetch(conn, where)
    found, malformed = decode_trials(rows, inter, mets, {})
    if malformed:  # name their studies (the usual read has none, and skips this query)
        ids = sorted({r.study_id for r in rows})
        query = select(studies.c.id, studies.c.name).where(studies.c.id.in_(ids))
        names = {row.id: row.name for row in conn.execute(query)}
        found, malformed = decode_trials(rows, inter, mets, names)
    return found, malformed


def one_trial(conn: Connection, trial_id: int, url: str, *, lock: bool = False) -> TrialRecord:
    """One trial.

    Raises:
        KeyError: No trial has that id.
        StorageError: Its row does not decode; the message names the study, trial and column.
    """
    if lock and conn.dialect.name != "sqlite":  # SQLite: `BEGIN IMMEDIATE` holds the lock
        conn.execute(select(trials.c.id).where(trials.c.id == trial_id).with_for_update())
    found, malformed = read_trials(conn, trials.c.id == trial_id)
    if malformed:
        raise StorageError(
            f"{malformed[0].describe()}: this trial cannot be read or changed. Repair or delete "
            "the row; `lightning-autotune studies check` lists every such row"
        )
    if not found:
        raise KeyError(f"no trial with id {trial_id} in {url}")
    return found[0]


def touch_live(conn: Connection, trial_id: int, action: str, url: str) -> None:
    """Refresh the heartbeat of a WAITING/RUNNING trial, locking its row; refuse others."""
    done = conn.execute(
        update(trials)
        .where(trials.c.id == trial_id, trials.c.state.in_(LIVE))
        .values(heartbeat_at=now())
    )
    if done.rowcount == 0:
        record = one_trial(conn, trial_id, url)
        raise TrialStateError(
            f"trial {record.number} already finished as {record.state.value}; cannot {action}"
        )


def claim_oldest_waiting(
    conn: Connection, study_id: int, worker: str, url: str, readable: set[int]
) -> TrialRecord | None:
    """Move the oldest WAITING trial among `readable` (ids of rows that decode) to RUNNING.

    Returns None if none of them waits any more.
    """
    query = (
        select(trials.c.id)
        .where(
            trials.c.study_id == study_id,
            trials.c.state == TrialState.WAITING.value,
            trials.c.id.in_(sorted(readable)),
        )
        .order_by(trials.c.number)
        .limit(1)
    )
    tid = conn.execute(query.with_for_update(skip_locked=True)).scalar()
    if tid is None:
        return None
    stamp = now()
    conn.execute(
        update(trials)
        .where(trials.c.id == tid)
        .values(state=TrialState.RUNNING.value, worker=worker, started_at=stamp, heartbeat_at=stamp)
    )
    return one_trial(conn, tid, url)


def malformed_rows(conn: Connection, name: str | None, url: str) -> list[MalformedRow]:
    """The rows of one study (every study when `name` is None) that do not decode.

    Raises:
        StudyNotFoundError: No study is named `name`.
    """
    rows = study_rows(conn, None if name is None else studies.c.name == name)
    if name is not None and not rows:
        raise StudyNotFoundError(f"no study named {name!r} in {url}; it has {study_names(conn)}")
    found: list[MalformedRow] = []
    for row in rows:
        try:
            decode_study(row)
        except BadValue as bad:
            found.append(MalformedRow(row.name, bad.column, bad.problem))
    found.extend(read_trials(conn, trials.c.study_id.in_([row.id for row in rows]))[1])
    return found


def close_waiting(conn: Connection, study_id: int, reason: str) -> list[TrialRecord]:
    """Mark FAILED (INTERRUPTED) the study's WAITING retries that no worker holds."""
    waiting = (
        (trials.c.study_id == study_id)
        & (trials.c.state == TrialState.WAITING.value)
        & trials.c.retry_of.is_not(None)
    )
    ids = list(
        conn.execute(select(trials.c.id).where(waiting).with_for_update(skip_locked=True))
        .scalars()
        .all()
    )
    if not ids:
        return []
    conn.execute(
        update(trials)
        .where(trials.c.id.in_(ids))
        .values(
            state=TrialState.FAILED.value,
            reason=reason,
            kind=FailureKind.INTERRUPTED.value,
            finished_at=now(),
        )
    )
    return read_trials(conn, trials.c.id.in_(ids))[0]


def stale_condition(study_id: int, cutoff: datetime) -> Any:
    last_sign_of_life = func.coalesce(trials.c.heartbeat_at, trials.c.started_at)
    return (
        (trials.c.study_id == study_id)
        & (trials.c.state == TrialState.RUNNING.value)
        & (last_sign_of_life < cutoff)
    )


def fail_stale(conn: Connection, study_id: int, grace: float, url: str) -> list[TrialRecord]:
    """Mark FAILED (heartbeat lost) the study's RUNNING trials silent for `grace` seconds."""
    stamp = now()
    stale = stale_condition(study_id, stamp - timedelta(seconds=grace))
    ids = conn.execute(select(trials.c.id).where(stale).with_for_update(skip_locked=True)).scalars()
    failed = []
    for record in read_trials(conn, trials.c.id.in_(list(ids)))[0]:
        conn.execute(
            update(trials)
            .where(trials.c.id == record.trial_id)
            .values(
                state=TrialState.FAILED.value,
                reason=stale_reason(record.heartbeat_at or record.started_at, stamp),
                kind=FailureKind.HEARTBEAT_LOST.value,
                finished_at=stamp,
            )
        )
        failed.append(one_trial(conn, record.trial_id, url))
    return failed
