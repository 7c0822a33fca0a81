"""`SQLStorage`: the trial store in a SQLite file or a PostgreSQL database (SQLAlchemy 2 Core).

Every operation is one short transaction. Writes that read before they write (numbering a trial,
claiming a WAITING trial, finishing one) take their lock first: `BEGIN IMMEDIATE` on SQLite,
`SELECT ... FOR UPDATE` (with `SKIP LOCKED` for claims) on PostgreSQL. Transient lock errors are
retried (see `run_transaction`), so many processes can share one SQLite file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from lightning_autotune.exceptions import DuplicateStudyError, StorageError, StudyNotFoundError
from lightning_autotune.storage._base import (
    Storage,
    StudyInfo,
    check_finish,
    check_grace,
    check_study_name,
    finish_kind,
    summarize,
)
from lightning_autotune.storage._cache import TrialCache
from lightning_autotune.storage._engine import Database, init_schema
from lightning_autotune.storage._problems import MalformedRow, StudyTrials, warn_malformed
from lightning_autotune.storage._rows import (
    BadValue,
    decode_study,
    fetch_last_reports,
    fetch_rows,
    study_info,
    study_names,
    study_rows,
)
from lightning_autotune.storage._schema import (
    decode_values,
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
from lightning_autotune.storage._sql_ops import (
    claim_oldest_waiting,
    close_waiting,
    fail_stale,
    insert_trial,
    lock_study,
    malformed_rows,
    next_number,
    now,
    one_trial,
    proposals,
    read_trials,
    stale_condition,
    touch_live,
)
from lightning_autotune.trial import Direction, FailureKind, TrialRecord, TrialState

__all__ = ["SQLStorage"]


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
        self._cache = TrialCache()
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
            "created_at": now(),
        }

        def body(conn: Connection) -> StudyInfo:
            duplicate = DuplicateStudyError(f"a study named {name!r} already exists in this store")
            if conn.execute(select(studies.c.id).where(studies.c.name == name)).first():
                raise duplicate
            try:
                conn.execute(insert(studies).values(**row))
            except IntegrityError:  # another process created it between our check and insert
                raise duplicate from None
            return study_info(study_rows(conn, studies.c.name == name)[0])

        return self._db.write("create a study", body)

    def get_study(self, name: str) -> StudyInfo:
        def body(conn: Connection) -> StudyInfo:
            found = study_rows(conn, studies.c.name == name)
            if not found:
                raise StudyNotFoundError(
                    f"no study named {name!r} in {self.url}; it has {study_names(conn)}"
                )
            return study_info(found[0])

        return self._db.read("read a study", body)

    def list_studies(self) -> list[StudyInfo]:
        infos = []
        for row in self._db.read("list studies", study_rows):
            try:
                infos.append(decode_study(row))
            except BadValue as bad:
                warn_malformed(self.url, MalformedRow(row.name, bad.column, bad.problem))
        return infos

    def delete_study(self, name: str) -> None:
        def body(conn: Connection) -> None:
            if conn.execute(delete(studies).where(studies.c.name == name)).rowcount == 0:
                raise StudyNotFoundError(
                    f"no study named {name!r} in {self.url}; it has {study_names(conn)}"
                )

        self._db.write("delete a study", body)
        self._cache.forget_study()

    def set_study_attr(self, study_id: int, key: str, value: Any) -> None:
        dump_json(value, f"study attribute {key!r}")

        def body(conn: Connection) -> None:
            attrs = lock_study(conn, study_id, self.url).user_attrs
            new = dump_json({**attrs, key: value}, f"study attribute {key!r}")
            conn.execute(update(studies).where(studies.c.id == study_id).values(user_attrs=new))

        self._db.write("set a study attribute", body)

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
            number = next_number(conn, study_id, self.url, self._sqlite)
            return insert_trial(conn, study_id, number, encoded, state, worker, retry_of, self.url)

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
            upcoming = next_number(conn, study_id, self.url, self._sqlite)  # locks the study
            if number is not None and upcoming != number:
                return None
            if max_proposals is not None and proposals(conn, study_id) >= max_proposals:
                return None
            running = TrialState.RUNNING
            return insert_trial(conn, study_id, upcoming, encoded, running, worker, None, self.url)

        return self._db.write("create a trial", body)

    @property
    def _sqlite(self) -> bool:
        return self._db.backend == "sqlite"

    def claim_waiting(self, study_id: int, worker: str) -> TrialRecord | None:
        waiting = self.get_trials(study_id, [TrialState.WAITING])
        # Usually nothing waits: find that out without taking the write lock. A WAITING row
        # that does not decode is never claimed: it is quarantined like any malformed row.
        if not waiting:
            return None
        readable = {t.trial_id for t in waiting}

        return self._db.write(
            "claim a waiting trial",
            lambda conn: claim_oldest_waiting(conn, study_id, worker, self.url, readable),
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
            touch_live(conn, trial_id, f"report step {step}", self.url)
            if value is not None:
                conn.execute(
                    self._db.upsert(trial_intermediate, ["trial_id", "step"]),
                    [{"trial_id": trial_id, "step": step, "value": encode_float(float(value))}],
                )
            if named:
                conn.execute(self._db.upsert(trial_metrics, ["trial_id", "step", "name"]), named)

        self._db.write("report a value", body)

    def heartbeat(self, trial_id: int) -> None:
        self._db.write(
            "record a heartbeat", lambda c: touch_live(c, trial_id, "heartbeat", self.url)
        )

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
            current = one_trial(conn, trial_id, self.url, lock=True)
            if not check_finish(current, state, vals):
                return current
            stamp = now()
            conn.execute(
                update(trials)
                .where(trials.c.id == trial_id)
                .values(
                    state=state.value,
                    values=encode_values(vals),
                    reason=reason,
                    kind=None if stored_kind is None else stored_kind.value,
                    finished_at=stamp,
                )
            )
            # what was just written (the row is locked), without reading it back
            return replace(
                current,
                state=state,
                values=decode_values(encode_values(vals)),
                reason=reason,
                kind=stored_kind,
                finished_at=stamp,
            )

        return self._db.write("finish a trial", body)

    def set_trial_attr(self, trial_id: int, key: str, value: Any) -> None:
        dump_json(value, f"trial attribute {key!r}")

        def body(conn: Connection) -> None:
            attrs = dict(one_trial(conn, trial_id, self.url, lock=True).user_attrs)
            new = dump_json({**attrs, key: value}, f"trial attribute {key!r}")
            conn.execute(update(trials).where(trials.c.id == trial_id).values(user_attrs=new))

        self._db.write("set a trial attribute", body)
        self._cache.forget_trial(trial_id)

    # Reads ------------------------------------------------------------------------------------
    def get_trial(self, trial_id: int) -> TrialRecord:
        return self._db.read("read a trial", lambda conn: one_trial(conn, trial_id, self.url))

    def get_trials(
        self, study_id: int, states: Iterable[TrialState] | None = None
    ) -> list[TrialRecord]:
        return self._read_trials(study_id, states, fetch_rows)

    def get_trial_summaries(
        self, study_id: int, states: Iterable[TrialState] | None = None
    ) -> list[TrialRecord]:
        return [summarize(t) for t in self._read_trials(study_id, states, fetch_last_reports)]

    def _read_trials(
        self, study_id: int, states: Iterable[TrialState] | None, fetch: Callable[..., Any]
    ) -> list[TrialRecord]:
        where = trials.c.study_id == study_id
        if states is not None:
            where = where & trials.c.state.in_([TrialState(s).value for s in states])
        found, malformed = self._db.read(
            "read trials", lambda conn: read_trials(conn, where, fetch)
        )
        for row in malformed:
            warn_malformed(self.url, row)
        return found

    def read_trials(self, study_id: int) -> StudyTrials:
        """Every trial of the study, read incrementally (see `TrialCache`).

        Only the trials created since this store's last read of the study, and those then
        WAITING, RUNNING or malformed, are fetched; finished trials come from the cache. A user
        attribute set on a finished trial by another process after this one read it is not
        seen here (`get_trials` reads everything).
        """
        read = self._db.read("read trials", lambda conn: self._cache.read(conn, study_id))
        for row in read.malformed:
            warn_malformed(self.url, row)
        return read

    def find_malformed(self, name: str | None = None) -> list[MalformedRow]:
        return self._db.read("check the store", lambda conn: malformed_rows(conn, name, self.url))

    def close_waiting_retries(self, study_id: int, reason: str) -> list[TrialRecord]:
        return self._db.write(
            "close waiting retries", lambda conn: close_waiting(conn, study_id, reason)
        )

    # Heartbeats -------------------------------------------------------------------------------
    def get_stale_trials(self, study_id: int, grace_seconds: float) -> list[TrialRecord]:
        cutoff = now() - timedelta(seconds=check_grace(grace_seconds))
        stale = stale_condition(study_id, cutoff)
        return self._db.read("find stale trials", lambda conn: read_trials(conn, stale)[0])

    def fail_stale_trials(self, study_id: int, grace_seconds: float) -> list[TrialRecord]:
        grace = check_grace(grace_seconds)
        return self._db.write(
            "fail stale trials", lambda conn: fail_stale(conn, study_id, grace, self.url)
        )
