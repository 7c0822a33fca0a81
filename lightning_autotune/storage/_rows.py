"""Reading trials and studies out of SQL rows (one query per table, grouped in Python)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, select

from lightning_autotune.storage._base import StudyInfo
from lightning_autotune.storage._schema import (
    decode_float,
    decode_values,
    studies,
    trial_intermediate,
    trial_metrics,
    trials,
)
from lightning_autotune.trial import Direction, FailureKind, TrialRecord, TrialState

__all__ = ["fetch_trials", "study_info", "study_names", "utc"]


def utc(moment: datetime | None) -> datetime | None:
    """A timezone-aware UTC datetime (SQLite hands back naive ones; they were written as UTC)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def study_info(row: Row[Any]) -> StudyInfo:
    """A `StudyInfo` from a row of `studies`."""
    created = utc(row.created_at)
    assert created is not None  # the column is NOT NULL
    return StudyInfo(
        study_id=row.id,
        name=row.name,
        space=json.loads(row.space),
        directions=tuple(Direction(d) for d in json.loads(row.directions)),
        created_at=created,
        user_attrs=json.loads(row.user_attrs),
    )


def fetch_trials(conn: Connection, where: ColumnElement[bool]) -> list[TrialRecord]:
    """Every trial matching `where` (a condition on the `trials` table), by study and number.

    Three queries whatever the number of trials: the trials, their intermediate values, their
    metrics.
    """
    ids = select(trials.c.id).where(where)
    rows = conn.execute(
        select(trials).where(where).order_by(trials.c.study_id, trials.c.number)
    ).all()
    if not rows:
        return []
    inter: dict[int, dict[int, float]] = defaultdict(dict)
    for tid, step, value in conn.execute(
        select(trial_intermediate).where(trial_intermediate.c.trial_id.in_(ids))
    ):
        inter[tid][step] = decode_float(value)
    mets: dict[int, dict[int, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    for tid, step, name, value in conn.execute(
        select(trial_metrics).where(trial_metrics.c.trial_id.in_(ids))
    ):
        mets[tid][step][name] = decode_float(value)
    return [_record(row, inter.get(row.id, {}), mets.get(row.id, {})) for row in rows]


def _record(
    row: Row[Any],
    intermediate: Mapping[int, float],
    metrics: Mapping[int, Mapping[str, float]],
) -> TrialRecord:
    return TrialRecord(
        trial_id=row.id,
        number=row.number,
        state=TrialState(row.state),
        params=MappingProxyType(json.loads(row.params)),
        values=decode_values(row.values),
        intermediate=MappingProxyType(dict(sorted(intermediate.items()))),
        metrics=MappingProxyType(
            {step: MappingProxyType(dict(m)) for step, m in sorted(metrics.items())}
        ),
        reason=row.reason,
        kind=None if row.kind is None else FailureKind(row.kind),
        started_at=utc(row.started_at),
        finished_at=utc(row.finished_at),
        heartbeat_at=utc(row.heartbeat_at),
        worker=row.worker,
        retry_of=row.retry_of,
        user_attrs=MappingProxyType(json.loads(row.user_attrs)),
    )


def study_names(conn: Connection, limit: int = 20) -> list[str]:
    """Up to `limit` study names, for 'no such study' messages."""
    return list(conn.execute(select(studies.c.name).order_by(studies.c.id).limit(limit)).scalars())
