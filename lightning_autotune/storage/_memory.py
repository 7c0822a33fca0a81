"""`InMemoryStorage`: a store that lives as long as the process; the default of `create_study`."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any

from lightning_autotune.exceptions import (
    ConfigError,
    DuplicateStudyError,
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
from lightning_autotune.storage._problems import StudyTrials
from lightning_autotune.trial import Direction, FailureKind, TrialRecord, TrialState

__all__ = ["InMemoryStorage"]

_LIVE = frozenset({TrialState.WAITING, TrialState.RUNNING})


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _check_json(field: str, value: Any) -> None:
    """Refuse what a SQL store could not keep either, so both stores behave alike."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise ConfigError(
            f"{field} must be JSON-serializable (str, number, bool, None, lists and dicts of "
            f"them), got {value!r} ({err}); convert it, e.g. to a string"
        ) from None


class InMemoryStorage(Storage):
    """Keeps studies and trials in dictionaries guarded by one lock.

    Each study keeps the ids of its trials in number order, and those that may still be
    WAITING or RUNNING apart, so a read costs a pass over the study's trials and no sort or
    filter over the whole store: the study's loop reads once per proposal.

    Example:
        >>> store = InMemoryStorage()
        >>> info = store.create_study("demo", {"x": {"type": "continuous", "min": 0, "max": 1}},
        ...                           [Direction.MINIMIZE])
        >>> store.create_trial(info.study_id, {"x": 0.5}).number
        0
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._studies: dict[str, StudyInfo] = {}
        self._trials: dict[int, TrialRecord] = {}
        self._trial_study: dict[int, int] = {}
        self._numbered: dict[int, list[int]] = {}  # study id -> its trial ids, by number
        # study id -> ids of its trials that may be WAITING or RUNNING, by number: a superset,
        # pruned by each read (a finished trial never becomes live again)
        self._maybe_live: dict[int, dict[int, None]] = {}
        self._next_study = 0
        self._next_trial = 0

    def __repr__(self) -> str:
        return "InMemoryStorage()"

    def create_study(
        self,
        name: str,
        space: Mapping[str, Any],
        directions: Sequence[Direction],
        user_attrs: Mapping[str, Any] | None = None,
    ) -> StudyInfo:
        check_study_name(name)
        with self._lock:
            if name in self._studies:
                raise DuplicateStudyError(f"a study named {name!r} already exists in this store")
            _check_json("study user_attrs", dict(user_attrs or {}))
            info = StudyInfo(
                self._next_study,
                name,
                MappingProxyType(copy.deepcopy(dict(space))),
                tuple(directions),
                _now(),
                MappingProxyType(copy.deepcopy(dict(user_attrs or {}))),
            )
            self._next_study += 1
            self._studies[name] = info
            return info

    def get_study(self, name: str) -> StudyInfo:
        with self._lock:
            try:
                return self._studies[name]
            except KeyError:
                raise StudyNotFoundError(
                    f"no study named {name!r}; the store has {sorted(self._studies)}"
                ) from None

    def list_studies(self) -> list[StudyInfo]:
        with self._lock:
            return sorted(self._studies.values(), key=lambda s: s.study_id)

    def delete_study(self, name: str) -> None:
        with self._lock:
            info = self.get_study(name)
            del self._studies[name]
            for tid in self._numbered.pop(info.study_id, []):
                del self._trials[tid], self._trial_study[tid]
            self._maybe_live.pop(info.study_id, None)

    def set_study_attr(self, study_id: int, key: str, value: Any) -> None:
        with self._lock:
            info = self._study_by_id(study_id)
            _check_json(f"study attribute {key!r}", value)
            attrs = MappingProxyType({**info.user_attrs, key: copy.deepcopy(value)})
            self._studies[info.name] = replace(info, user_attrs=attrs)

    def _study_by_id(self, study_id: int) -> StudyInfo:
        for info in self._studies.values():
            if info.study_id == study_id:
                return info
        raise StudyNotFoundError(f"no study with id {study_id}")

    def create_trial(
        self,
        study_id: int,
        params: Mapping[str, Any],
        *,
        state: TrialState = TrialState.RUNNING,
        worker: str | None = None,
        retry_of: int | None = None,
    ) -> TrialRecord:
        with self._lock:
            self._study_by_id(study_id)
            numbered = self._numbered.setdefault(study_id, [])
            number = len(numbered)
            now = _now()
            record = TrialRecord(
                trial_id=self._next_trial,
                number=number,
                state=state,
                params=MappingProxyType(dict(params)),
                started_at=now if state is TrialState.RUNNING else None,
                heartbeat_at=now if state is TrialState.RUNNING else None,
                worker=worker,
                retry_of=retry_of,
            )
            self._next_trial += 1
            self._trials[record.trial_id] = record
            self._trial_study[record.trial_id] = study_id
            numbered.append(record.trial_id)
            if state in _LIVE:
                self._maybe_live.setdefault(study_id, {})[record.trial_id] = None
            return record

    def create_trial_if_next(
        self,
        study_id: int,
        number: int | None,
        params: Mapping[str, Any],
        *,
        worker: str | None = None,
        max_proposals: int | None = None,
    ) -> TrialRecord | None:
        with self._lock:
            self._study_by_id(study_id)
            ids = self._numbered.get(study_id, [])
            if number is not None and len(ids) != number:
                return None
            if max_proposals is not None:
                mine = map(self._trials.__getitem__, ids)
                proposals = sum(
                    1 for t in mine if t.retry_of is None and t.kind is not FailureKind.SETUP_ERROR
                )
                if proposals >= max_proposals:
                    return None
            return self.create_trial(study_id, params, worker=worker)

    def claim_waiting(self, study_id: int, worker: str) -> TrialRecord | None:
        with self._lock:
            for record in self.get_trials(study_id, [TrialState.WAITING]):
                now = _now()
                claimed = replace(
                    record,
                    state=TrialState.RUNNING,
                    worker=worker,
                    started_at=now,
                    heartbeat_at=now,
                )
                self._trials[record.trial_id] = claimed
                return claimed
            return None

    def _live(self, trial_id: int, action: str) -> TrialRecord:
        record = self.get_trial(trial_id)
        if record.state.is_finished:
            raise TrialStateError(
                f"trial {record.number} already finished as {record.state.value}; cannot {action}"
            )
        return record

    def report(
        self,
        trial_id: int,
        step: int,
        value: float | None,
        metrics: Mapping[str, float] | None = None,
    ) -> None:
        with self._lock:
            record = self._live(trial_id, f"report step {step}")
            intermediate = dict(record.intermediate)
            if value is not None:
                intermediate[int(step)] = float(value)
            all_metrics = dict(record.metrics)
            if metrics:
                merged = {
                    **all_metrics.get(int(step), {}),
                    **{k: float(v) for k, v in metrics.items()},
                }
                all_metrics[int(step)] = MappingProxyType(merged)
            self._trials[trial_id] = replace(
                record,
                intermediate=MappingProxyType(intermediate),
                metrics=MappingProxyType(all_metrics),
                heartbeat_at=_now(),
            )

    def heartbeat(self, trial_id: int) -> None:
        with self._lock:
            record = self._live(trial_id, "heartbeat")
            self._trials[trial_id] = replace(record, heartbeat_at=_now())

    def finish_trial(
        self,
        trial_id: int,
        state: TrialState,
        values: Sequence[float] | None = None,
        reason: str | None = None,
        kind: FailureKind | None = None,
    ) -> TrialRecord:
        with self._lock:
            record = self.get_trial(trial_id)
            vals = None if values is None else tuple(float(v) for v in values)
            if not check_finish(record, state, vals):
                return record
            finished = replace(
                record,
                state=state,
                values=vals,
                reason=reason,
                kind=finish_kind(state, kind),
                finished_at=_now(),
            )
            self._trials[trial_id] = finished
            return finished

    def set_trial_attr(self, trial_id: int, key: str, value: Any) -> None:
        with self._lock:
            record = self.get_trial(trial_id)
            _check_json(f"trial attribute {key!r}", value)
            attrs = MappingProxyType({**record.user_attrs, key: copy.deepcopy(value)})
            self._trials[trial_id] = replace(record, user_attrs=attrs)

    def get_trial(self, trial_id: int) -> TrialRecord:
        with self._lock:
            try:
                return self._trials[trial_id]
            except KeyError:
                raise KeyError(f"no trial with id {trial_id}") from None

    def get_trials(
        self, study_id: int, states: Iterable[TrialState] | None = None
    ) -> list[TrialRecord]:
        wanted = None if states is None else set(states)
        with self._lock:
            if wanted is not None and wanted <= _LIVE:
                return [t for t in self._live_trials(study_id) if t.state in wanted]
            records = list(map(self._trials.__getitem__, self._numbered.get(study_id, [])))
        if wanted is None:
            return records
        return [t for t in records if t.state in wanted]

    def read_trials(self, study_id: int) -> StudyTrials:
        """Every trial of the study, by number, with the WAITING and RUNNING ones apart: the
        loop looks for those several times per proposal, a pass over every trial each time
        otherwise."""
        with self._lock:
            found = self.get_trials(study_id)
            live = tuple(self._live_trials(study_id))
        return StudyTrials(found, found[-1].number + 1 if found else 0, live=live)

    def _live_trials(self, study_id: int) -> list[TrialRecord]:
        """The study's WAITING and RUNNING trials, by number (forgetting those that finished)."""
        maybe = self._maybe_live.get(study_id, {})
        live = []
        for tid in list(maybe):
            record = self._trials[tid]
            if record.state in _LIVE:
                live.append(record)
            else:
                del maybe[tid]
        return live

    def get_stale_trials(self, study_id: int, grace_seconds: float) -> list[TrialRecord]:
        cutoff = _now() - timedelta(seconds=check_grace(grace_seconds))
        return [
            t
            for t in self.get_trials(study_id, [TrialState.RUNNING])
            if (last := t.heartbeat_at or t.started_at) is not None and last < cutoff
        ]

    def close_waiting_retries(self, study_id: int, reason: str) -> list[TrialRecord]:
        with self._lock:
            closed = []
            for record in self.get_trials(study_id, [TrialState.WAITING]):
                if record.retry_of is None:
                    continue
                done = replace(
                    record,
                    state=TrialState.FAILED,
                    reason=reason,
                    kind=FailureKind.INTERRUPTED,
                    finished_at=_now(),
                )
                self._trials[record.trial_id] = done
                closed.append(done)
            return closed

    def fail_stale_trials(self, study_id: int, grace_seconds: float) -> list[TrialRecord]:
        with self._lock:
            now = _now()
            failed = []
            for record in self.get_stale_trials(study_id, grace_seconds):
                reason = stale_reason(record.heartbeat_at or record.started_at, now)
                done = replace(
                    record,
                    state=TrialState.FAILED,
                    reason=reason,
                    kind=FailureKind.HEARTBEAT_LOST,
                    finished_at=now,
                )
                self._trials[record.trial_id] = done
                failed.append(done)
            return failed
