"""Reading a growing study incrementally: a per-study cache of trial snapshots with a revision.

Finished trials never change, so after the first read only two kinds of rows can be new: trials
numbered above the largest number seen (numbers are handed out in commit order under the study's
lock), and trials that were WAITING or RUNNING at the last read. On a SQL store the cache asks for
exactly those, in short read transactions; any other store is read whole and compared.

Each change bumps the cache's revision and stamps the changed trial with it, so a client that
sends the revision it last saw (the `since` cursor) gets only what changed after it.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from functools import partial

from lightning_autotune.storage import SQLStorage, Storage, StudyInfo
from lightning_autotune.storage._rows import fetch_trials
from lightning_autotune.storage._schema import trials
from lightning_autotune.trial import TrialRecord

__all__ = ["Cursor", "StoreReader", "StudyCache"]

_CHUNK = 2_000
"""Trials read per transaction on the first read, so no read transaction lasts long."""


@dataclass(frozen=True)
class Cursor:
    """Where a client is in a study's history: the server run (`epoch`) and the revision it saw.

    Attributes:
        epoch: Random id of the server process; a cursor of another run means "send everything".
        rev: The cache revision the client has seen (0: nothing).
    """

    epoch: str
    rev: int

    def __str__(self) -> str:
        return f"{self.epoch}.{self.rev}"

    @classmethod
    def parse(cls, text: str | None, epoch: str) -> Cursor:
        """The cursor in `text`; revision 0 (everything) when absent, malformed or stale."""
        if text:
            head, _, tail = text.partition(".")
            if head == epoch and tail.isdigit():
                return cls(epoch, int(tail))
        return cls(epoch, 0)


class StudyCache:
    """The trials of one study, refreshed at most every `min_interval` seconds.

    Args:
        store: The store to read.
        info: The study.
        min_interval: Seconds during which a refresh is answered from memory (many open pages
            then cost the store one read per interval, not one per page).
    """

    def __init__(self, store: Storage, info: StudyInfo, min_interval: float = 0.5) -> None:
        self.store = store
        self.info = info
        self.min_interval = min_interval
        self.rev = 0
        self._records: dict[int, TrialRecord] = {}
        self._revs: dict[int, int] = {}
        self._lock = threading.Lock()
        self._read_at = -float("inf")

    def refresh(self) -> None:
        """Read what may have changed since the last read (unless that read was very recent)."""
        with self._lock:
            if time.monotonic() - self._read_at < self.min_interval:
                return
            fresh = self._read_changed()
            self._read_at = time.monotonic()
            changed = [r for r in fresh if self._records.get(r.number) != r]
            if changed:
                self.rev += 1
                for record in changed:
                    self._records[record.number] = record
                    self._revs[record.number] = self.rev

    def _read_changed(self) -> list[TrialRecord]:
        sid = self.info.study_id
        if not isinstance(self.store, SQLStorage):
            return self.store.get_trials(sid)
        db = self.store._db  # the store's own engines: WAL readers never wait for writers
        live = [r.trial_id for r in self._records.values() if not r.state.is_finished]
        found: list[TrialRecord] = []
        if live:
            where = (trials.c.study_id == sid) & trials.c.id.in_(live)
            found += db.read("read live trials", lambda conn: fetch_trials(conn, where))
        top = max(self._records, default=-1)
        while True:
            where = (
                (trials.c.study_id == sid)
                & (trials.c.number > top)
                & (trials.c.number <= top + _CHUNK)
            )
            batch = db.read("read new trials", partial(fetch_trials, where=where))
            found += batch
            if not batch:
                return found
            top = max(r.number for r in batch)

    def records(self) -> list[TrialRecord]:
        """Every trial, by number."""
        with self._lock:
            return [self._records[n] for n in sorted(self._records)]

    def changed_since(self, rev: int) -> list[TrialRecord]:
        """The trials stamped with a revision above `rev`, by number."""
        with self._lock:
            return [self._records[n] for n in sorted(self._records) if self._revs[n] > rev]

    def get(self, number: int) -> TrialRecord | None:
        """Trial `number`, or None if the cache has not seen it."""
        with self._lock:
            return self._records.get(number)


class StoreReader:
    """Every study of a store, each with its own `StudyCache`, for one server run.

    Args:
        store: The store to read.
        min_interval: See `StudyCache`.
    """

    def __init__(self, store: Storage, min_interval: float = 0.5) -> None:
        self.store = store
        self.min_interval = min_interval
        self.epoch = secrets.token_hex(4)
        self._caches: dict[str, StudyCache] = {}
        self._lock = threading.Lock()

    def studies(self) -> list[StudyInfo]:
        """Every study, oldest first; caches of studies deleted since are dropped."""
        infos = self.store.list_studies()
        with self._lock:
            for name in set(self._caches) - {i.name for i in infos}:
                del self._caches[name]
        return infos

    def study(self, name: str, info: StudyInfo | None = None) -> StudyCache:
        """The refreshed cache of study `name`.

        Raises:
            StudyNotFoundError: No study of that name.
        """
        info = info or self.store.get_study(name)
        with self._lock:
            cache = self._caches.get(name)
            if cache is None or cache.info.study_id != info.study_id:
                cache = self._caches[name] = StudyCache(self.store, info, self.min_interval)
            cache.info = info  # study attributes may have changed
        cache.refresh()
        return cache
