"""`SQLStorage`: the trial store in a SQLite file or a PostgreSQL database (SQLAlchemy 2 Core).

Every operation is one short transaction. Writes that read before they write (numbering a trial,
claiming a WAITING trial, finishing one) take their lock first: `BEGIN IMMEDIATE` on SQLite,
`SELECT ... FOR UPDATE` (with `SKIP LOCKED` for claims) on PostgreSQL. Transient lock errors are
retried (see `run_transaction`), so many processes can share one SQLite file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Connection, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from lightning_autotune.exceptions import (
    DuplicateStudyError,
    StorageError,
    StudyNotFoundError,
    TrialStateError,
)
from lightning_autotune.storage._base import (
    Storage,
    StudyInfo,
    check_finish,
    check_grace,
    check_study_name,
    finish_kind,
    stale_reason,
)
from lightning_autotune.storage._engine import Database, init_schema
from lightning_autotune.storage._rows import fetch_trials, study_info, study_names
from lightning_autotune.storage._schema import (
    dump_json,
    encode_float,
    encode_values,
    mask_url,
    parse_url,
    studies,
    trial_intermediate,
    trial_metrics,
    trials,
)
from lightning_autotune.trial import Direction, FailureKind, TrialRecord, TrialState

__all__ = ["SQLStorage"]

_LIVE = (TrialState.WAITING.value, TrialState.RUNNING.value)


def _now() -> datetime:
    return datetime.now(timezone.utc)


class SQLStorage(Storage):
    """A trial store in a SQLite file, in memory, or in PostgreSQL.

    Args:
        url: 'sqlite:///path/to/file.db' (the folder must exist; the file is created),
            'sqlite://' (in memory, this process only), or 'postgresql://user:pw@host:5432/db'
            (psycopg 3; install `lightning-autotune[postgres]`).
        engine_kwargs: Extra arguments for `sqlalchemy.create_engine`.

    Raises:
        ConfigError: The URL is not one of the supported kinds.
        StorageError: The SQLite folder does not exist, the database cannot be reached, or it holds
            a store of another schema version.

    Example:
        >>> store = SQLStorage("sqlite://")
        >>> info = store.create_study("demo", {"x": {"type": "continuous", "min": 0, "max": 1}},
        ...                           [Direction.MINIMIZE])
        >>> store.create_trial(info.study_id, {"x": 0.5}).number
        0
    """

    def __init__(self, url: str, *, engine_kwargs: dict[str, Any] | None = None) -> None:
        self._raw_url = url
        self._engine_kwargs = dict(engine_kwargs or {})
        self._db = Database(parse_url(url), engine_kwargs)
        self._db.write("open the store", lambda conn: init_schema(conn, self._db.url))

    # Identity ---------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The store's URL with its password hidden."""
        return mask_url(self._db.url)

    @property
    def backend(self) -> str:
        """'sqlite' or 'postgresql'."""
        return self._db.backend

    def __repr__(self) -> str:
        return f"SQLStorage({self.url!r})"

    def __getstate__(self) -> dict[str, Any]:
        if self._db.memory:
            raise StorageError(
                "an in-memory SQLite store cannot be shared with another process; use a file "
                "('sqlite:///autotune.db') or PostgreSQL"
            )
        return {"url": self._raw_url, "engine_kwargs": self._engine_kwargs}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["url"], engine_kwargs=state["engine_kwargs"])  # type: ignore[misc]

    def close(self) -> None:
        """Close every pooled connection (the store reconnects if used again)."""
        self._db.dispose()

    # Studies ----------------------------------------------------------------------------------
    def create_study(
        self,
        name: str,
        space: Mapping[str, Any],
        directions: Sequence[Direction],
        user_attrs: Mapping[str, Any] | None = None,
    ) -> StudyInfo:
        check_study_name(name)
        row = {
            "name": name,
            "space": dump_json(dict(space), "space"),
            "directions": dump_json([Direction(d).value for d in directions], "directions"),
            "user_attrs": dump_json(dict(user_attrs or {}), "user_attrs"),
            "created_at": _now(),
        }

        def body(conn: Connection) -> StudyInfo:
            duplicate = DuplicateStudyError(f"a study named {name!r} already exists in this store")
            if conn.execute(select(studies.c.id).where(studies.c.name == name)).first():
                raise duplicate
            try:
                conn.execute(insert(studies).values(**row))
            except IntegrityError:  # another process created it between our check and insert
                raise duplicate from None
            return study_info(conn.execute(select(studies).where(studies.c.name == name)).one())

        return self._db.write("create a study", body)

    def get_study(self, name: str) -> StudyInfo:
        def body(conn: Connection) -> StudyInfo:
            row = conn.execute(select(studies).where(studies.c.name == name)).first()
            if row is None:
                raise StudyNotFoundError(
                    f"no study named {name!r} in {self.url}; it has {study_names(conn)}"
                )
            return study_info(row)

        return self._db.read("read a study", body)

    def list_studies(self) -> list[StudyInfo]:
        query = select(studies).order_by(studies.c.id)
        return self._db.read(
            "list studies", lambda conn: [study_info(r) for r in conn.execute(query)]
        )

    def delete_study(self, name: str) -> None:
        def body(conn: Connection) -> None:
            if conn.execute(delete(studies).where(studies.c.name == name)).rowcount == 0:
                raise StudyNotFoundError(
                    f"no study named {name!r} in {self.url}; it has {study_names(conn)}"
                )

        self._db.write("delete a study", body)

    def set_study_attr(self, study_id: int, key: str, value: Any) -> None:
        dump_json(value, f"study attribute {key!r}")

        def body(conn: Connection) -> None:
            attrs = self._lock_study(conn, study_id).user_attrs
            new = dump_json({**attrs, key: value}, f"study attribute {key!r}")
            conn.execute(update(studies).where(studies.c.id == study_id).values(user_attrs=new))

        self._db.write("set a study attribute", body)

    def _lock_study(self, conn: Connection, study_id: int) -> StudyInfo:
        query = select(studies).where(studies.c.id == study_id).with_for_update()
        row = conn.execute(query).first()
        if row is None:
            raise StudyNotFoundError(f"no study with id {study_id} in {self.url}")
        return study_info(row)

    # Trials -----------------------------------------------------------------------------------
    def create_trial(
        self,
        study_id: int,
        params: Mapping[str, Any],
        *,
        state: TrialState = TrialState.RUNNING,
        worker: str | None = None,
        retry_of: int | None = None,
    ) -> TrialRecord:
        encoded = dump_json(dict(params), "params")

        def body(conn: Connection) -> TrialRecord:
            number = self._next_number(conn, study_id)
            return self._insert_trial(conn, study_id, number, encoded, state, worker, retry_of)

        return self._db.write("create a trial", body)

    def create_trial_if_next(
        self,
        study_id: int,
        number: int | None,
        params: Mapping[str, Any],
        *,
        worker: str | None = None,
        max_proposals: int | None = None,
    ) -> TrialRecord | None:
        encoded = dump_json(dict(params), "params")

        def body(conn: Connection) -> TrialRecord | None:
            next_number = self._next_number(conn, study_id)  # locks the study row
            if number is not None and next_number != number:
                return None
            if max_proposals is not None and self._proposals(conn, study_id) >= max_proposals:
                return None
            running = TrialState.RUNNING
            return self._insert_trial(conn, study_id, next_number, encoded, running, worker, None)

        return self._db.write("create a trial", body)

    def _next_number(self, conn: Connection, study_id: int) -> int:
        self._lock_study(conn, study_id)  # serializes numbering within the study
        return int(
            conn.execute(
                select(func.coalesce(func.max(trials.c.number) + 1, 0)).where(
                    trials.c.study_id == study_id
                )
            ).scalar_one()
        )

    def _proposals(self, conn: Connection, study_id: int) -> int:
        """The study's proposal trials (see `is_proposal`); call with the study row locked."""
        return int(
            conn.execute(
                select(func.count()).where(
                    trials.c.study_id == study_id,
                    trials.c.retry_of.is_(None),
                    or_(
                        trials.c.kind.is_(None),
                        trials.c.kind != FailureKind.SETUP_ERROR.value,
                    ),
                )
            ).scalar_one()
        )

    def _insert_trial(
        self,
        conn: Connection,
        study_id: int,
        number: int,
        encoded: str,
        state: TrialState,
        worker: str | None,
        retry_of: int | None,
    ) -> TrialRecord:
        now = _now() if state is TrialState.RUNNING else None
        tid = conn.execute(
            insert(trials)
            .values(
                study_id=study_id,
                number=number,
                state=state.value,
                params=encoded,
                started_at=now,
                heartbeat_at=now,
                worker=worker,
                retry_of=retry_of,
                user_attrs="{}",
            )
            .returning(trials.c.id)
        ).scalar_one()
        return self._one(conn, tid)

    def claim_waiting(self, study_id: int, worker: str) -> TrialRecord | None:
        oldest = (
            select(trials.c.id)
            .where(trials.c.study_id == study_id, trials.c.state == TrialState.WAITING.value)
            .order_by(trials.c.number)
            .limit(1)
        )
        # Usually nothing waits: find that out without taking the write lock.
        if (
            self._db.read("look for waiting trials", lambda conn: conn.execute(oldest).first())
            is None
        ):
            return None

        def body(conn: Connection) -> TrialRecord | None:
            tid = conn.execute(oldest.with_for_update(skip_locked=True)).scalar()
            if tid is None:
                return None
            now = _now()
            conn.execute(
                update(trials)
                .where(trials.c.id == tid)
                .values(
                    state=TrialState.RUNNING.value, worker=worker, started_at=now, heartbeat_at=now
                )
            )
            return self._one(conn, tid)

        return self._db.write("claim a waiting trial", body)

    def _touch_live(self, conn: Connection, trial_id: int, action: str) -> None:
        """Refresh the heartbeat of a WAITING/RUNNING trial, locking its row; refuse others."""
        done = conn.execute(
            update(trials)
            .where(trials.c.id == trial_id, trials.c.state.in_(_LIVE))
            .values(heartbeat_at=_now())
        )
        if done.rowcount == 0:
            record = self._one(conn, trial_id)
            raise TrialStateError(
                f"trial {record.number} already finished as {record.state.value}; cannot {action}"
            )

    def report(
        self,
        trial_id: int,
        step: int,
        value: float | None,
        metrics: Mapping[str, float] | None = None,
    ) -> None:
        step = int(step)
        named = [
            {"trial_id": trial_id, "step": step, "name": str(k), "value": encode_float(float(v))}
            for k, v in (metrics or {}).items()
        ]

        def body(conn: Connection) -> None:
            self._touch_live(conn, trial_id, f"report step {step}")
            if value is not None:
                conn.execute(
                    self._db.upsert(trial_intermediate, ["trial_id", "step"]),
                    [{"trial_id": trial_id, "step": step, "value": encode_float(float(value))}],
                )
            if named:
                conn.execute(self._db.upsert(trial_metrics, ["trial_id", "step", "name"]), named)

        self._db.write("report a value", body)

    def heartbeat(self, trial_id: int) -> None:
        self._db.write("record a heartbeat", lambda c: self._touch_live(c, trial_id, "heartbeat"))

    def finish_trial(
        self,
        trial_id: int,
        state: TrialState,
        values: Sequence[float] | None = None,
        reason: str | None = None,
        kind: FailureKind | None = None,
    ) -> TrialRecord:
        vals = None if values is None else tuple(float(v) for v in values)
        stored_kind = finish_kind(state, kind)

        def body(conn: Connection) -> TrialRecord:
            current = self._one(conn, trial_id, lock=True)
            if not check_finish(current, state, vals):
                return current
            conn.execute(
                update(trials)
                .where(trials.c.id == trial_id)
                .values(
                    state=state.value,
                    values=encode_values(vals),
                    reason=reason,
                    kind=None if stored_kind is None else stored_kind.value,
                    finished_at=_now(),
                )
            )
            return self._one(conn, trial_id)

        return self._db.write("finish a trial", body)

    def set_trial_attr(self, trial_id: int, key: str, value: Any) -> None:
        dump_json(value, f"trial attribute {key!r}")

        def body(conn: Connection) -> None:
            attrs = dict(self._one(conn, trial_id, lock=True).user_attrs)
            new = dump_json({**attrs, key: value}, f"trial attribute {key!r}")
            conn.execute(update(trials).where(trials.c.id == trial_id).values(user_attrs=new))

        self._db.write("set a trial attribute", body)

    def get_trial(self, trial_id: int) -> TrialRecord:
        return self._db.read("read a trial", lambda conn: self._one(conn, trial_id))

    def _one(self, conn: Connection, trial_id: int, *, lock: bool = False) -> TrialRecord:
        if lock:
            conn.execute(select(trials.c.id).where(trials.c.id == trial_id).with_for_update())
        found = fetch_trials(conn, trials.c.id == trial_id)
        if not found:
            raise KeyError(f"no trial with id {trial_id} in {self.url}")
        return found[0]

    def get_trials(
        self, study_id: int, states: Iterable[TrialState] | None = None
    ) -> list[TrialRecord]:
        where = trials.c.study_id == study_id
        if states is not None:
            where = where & trials.c.state.in_([TrialState(s).value for s in states])
        return self._db.read("read trials", lambda conn: fetch_trials(conn, where))

    def close_waiting_retries(self, study_id: int, reason: str) -> list[TrialRecord]:
        def body(conn: Connection) -> list[TrialRecord]:
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
                    finished_at=_now(),
                )
            )
            return fetch_trials(conn, trials.c.id.in_(ids))

        return self._db.write("close waiting retries", body)

    # Heartbeats -------------------------------------------------------------------------------
    def get_stale_trials(self, study_id: int, grace_seconds: float) -> list[TrialRecord]:
        cutoff = _now() - timedelta(seconds=check_grace(grace_seconds))
        return self._db.read(
            "find stale trials", lambda conn: fetch_trials(conn, _stale(study_id, cutoff))
        )

    def fail_stale_trials(self, study_id: int, grace_seconds: float) -> list[TrialRecord]:
        grace = check_grace(grace_seconds)

        def body(conn: Connection) -> list[TrialRecord]:
            now = _now()
            stale = _stale(study_id, now - timedelta(seconds=grace))
            ids = conn.execute(
                select(trials.c.id).where(stale).with_for_update(skip_locked=True)
            ).scalars()
            failed = []
            for record in fetch_trials(conn, trials.c.id.in_(list(ids))):
                conn.execute(
                    update(trials)
                    .where(trials.c.id == record.trial_id)
                    .values(
                        state=TrialState.FAILED.value,
                        reason=stale_reason(record.heartbeat_at or record.started_at, now),
                        kind=FailureKind.HEARTBEAT_LOST.value,
                        finished_at=now,
                    )
                )
                failed.append(self._one(conn, record.trial_id))
            return failed

        return self._db.write("fail stale trials", body)


def _stale(study_id: int, cutoff: datetime) -> Any:
    last_sign_of_life = func.coalesce(trials.c.heartbeat_at, trials.c.started_at)
    return (
        (trials.c.study_id == study_id)
        & (trials.c.state == TrialState.RUNNING.value)
        & (last_sign_of_life < cutoff)
    )
