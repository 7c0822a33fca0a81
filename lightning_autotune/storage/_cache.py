"""`TrialCache`: a process's incremental reads of a study's trials from a SQL store.

A finished trial never changes in the store (see `Storage`), so a process keeps the finished
trials it has read and, at each later read, fetches only

- the trials with an id above the highest id it has read (trials created since), and
- the trials it read while they were WAITING or RUNNING, or malformed (they may have changed),

plus a count of the study's rows. Trial ids of one study are handed out in commit order (a
trial is inserted with its study row locked, see `SQLStorage.create_trial`), so a new trial
always has an id above the watermark. The count is the safety net: whenever it differs from
what the cache and the fetched rows add up to (a deleted study, a row written by hand), the
study is read again in full. The count and the rows come from one read transaction, one
snapshot, so a trial that commits meanwhile is either in both or in neither.

What the cache cannot see is a user attribute set on a finished trial by another process; the
reads that serve users (`Storage.get_trials`) therefore read in full, and only the optimization
loop's own reads (proposals, pruning checks) go through this cache.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from operator import attrgetter

from sqlalchemy import Connection, func, select

from lightning_autotune.storage._problems import MalformedRow, StudyTrials
from lightning_autotune.storage._rows import decode_trials, fetch_rows
from lightning_autotune.storage._schema import studies, trials
from lightning_autotune.trial import TrialRecord

__all__ = ["TrialCache"]

_by_number = attrgetter("number")


@dataclass
class _Study:
    """What one process knows of one study."""

    name: str
    finished: list[TrialRecord] = field(default_factory=list)  # by number
    finished_ids: set[int] = field(default_factory=set)
    recheck: frozenset[int] = frozenset()  # ids read while live or malformed
    watermark: int = 0  # the highest trial id read
    max_number: int = -1  # the highest trial number read, malformed rows included


class TrialCache:
    """Finished trials by study, and what to read again; safe to share between threads."""

    def __init__(self) -> None:
        self._studies: dict[int, _Study] = {}
        self._lock = threading.Lock()

    def read(self, conn: Connection, study_id: int) -> StudyTrials:
        """Every trial of the study, reading only what may have changed since the last call.

        Call it inside one read transaction (it is retried whole on lock errors).
        """
        with self._lock:
            known = self._studies.get(study_id)
            if known is None:
                name = conn.execute(select(studies.c.name).where(studies.c.id == study_id)).scalar()
                if name is None:
                    return StudyTrials([], 0)
                known = _Study(str(name))
            total = conn.execute(
                select(func.count()).select_from(trials).where(trials.c.study_id == study_id)
            ).scalar_one()
            got = _fetch(conn, study_id, known)
            if len(known.finished) + got.rows != total:
                known = _Study(known.name)
                got = _fetch(conn, study_id, known)
            updated = _merge(known, got)
            live, malformed = got.live, got.malformed
            self._studies[study_id] = updated
            live_now = tuple(sorted(live, key=_by_number))
            merged = _merged(updated.finished, live_now)
            return StudyTrials(merged, updated.max_number + 1, tuple(malformed), live_now)

    def forget_trial(self, trial_id: int) -> None:
        """Read this trial again next time (this process changed it after it finished)."""
        with self._lock:
            for study_id, known in self._studies.items():
                if trial_id in known.finished_ids:
                    self._studies[study_id] = replace(
                        known,
                        finished=[t for t in known.finished if t.trial_id != trial_id],
                        finished_ids=known.finished_ids - {trial_id},
                        recheck=known.recheck | {trial_id},
                    )
                    return

    def forget_study(self, study_id: int | None = None) -> None:
        """Drop what is known of one study (all when None)."""
        with self._lock:
            if study_id is None:
                self._studies.clear()
            else:
                self._studies.pop(study_id, None)


@dataclass(frozen=True)
class _Fetched:
    """The rows that may have changed since `known` was read, decoded."""

    rows: int
    done: list[TrialRecord]
    live: list[TrialRecord]
    malformed: list[MalformedRow]
    watermark: int
    max_number: int


def _fetch(conn: Connection, study_id: int, known: _Study) -> _Fetched:
    since = trials.c.id > known.watermark
    if known.recheck:
        since = since | trials.c.id.in_(sorted(known.recheck))
    rows, inter, mets = fetch_rows(conn, (trials.c.study_id == study_id) & since)
    records, malformed = decode_trials(rows, inter, mets, {study_id: known.name})
    return _Fetched(
        rows=len(rows),
        done=[r for r in records if r.state.is_finished],
        live=[r for r in records if not r.state.is_finished],
        malformed=malformed,
        watermark=max([known.watermark, *(r.id for r in rows)]),
        max_number=max([known.max_number, *(r.number for r in rows if isinstance(r.number, int))]),
    )


def _merged(ordered: list[TrialRecord], more: Sequence[TrialRecord]) -> list[TrialRecord]:
    """`ordered` and `more` (both by number) as one new list by number.

    The trials read since the last read usually come after every known one: then a copy does,
    where a sort would call its key on each of 10,000 trials at every proposal.
    """
    if not more or not ordered or ordered[-1].number < more[0].number:
        return [*ordered, *more]
    return sorted([*ordered, *more], key=_by_number)


def _merge(known: _Study, got: _Fetched) -> _Study:
    """`known` updated with `got`, as a new object: a read retried after a lock error starts
    again from what was known before it."""
    finished, finished_ids = known.finished, known.finished_ids
    if got.done:
        finished = _merged(finished, sorted(got.done, key=_by_number))
        finished_ids = finished_ids | {t.trial_id for t in got.done}
    return _Study(
        name=known.name,
        finished=finished,
        finished_ids=finished_ids,
        recheck=frozenset(
            [*(t.trial_id for t in got.live), *(m.trial_id for m in got.malformed if m.trial_id)]
        ),
        watermark=got.watermark,
        max_number=got.max_number,
    )
