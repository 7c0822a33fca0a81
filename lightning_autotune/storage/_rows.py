"""Reading trials and studies out of SQL rows, column by column, naming the column that is wrong.

A trial row that does not decode becomes a `MalformedRow` instead of a `TrialRecord` (see
`_problems`); a study row that does not decode raises one `StorageError` naming the study and
the column. Datetime columns are read as raw values and parsed here, because SQLAlchemy's SQLite
converter would raise on a malformed one while fetching, before any row could be skipped.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any

from sqlalchemy import ColumnElement, Connection, DateTime, Row, Text, func, select, type_coerce

from lightning_autotune.exceptions import StorageError
from lightning_autotune.storage._base import StudyInfo
from lightning_autotune.storage._problems import MalformedRow
from lightning_autotune.storage._schema import studies, trial_intermediate, trial_metrics, trials
from lightning_autotune.trial import Direction, FailureKind, TrialRecord, TrialState

__all__ = [
    "BadValue",
    "MetricRow",
    "StepRow",
    "decode_study",
    "decode_trials",
    "fetch_last_reports",
    "fetch_rows",
    "fetch_trials",
    "study_info",
    "study_names",
    "study_rows",
    "utc",
]

StepRow = tuple[Any, Any]
"""(step, value) of one stored intermediate value, as read: checked when decoded."""
MetricRow = tuple[Any, Any, Any]
"""(step, name, value) of one stored metric, as read."""

_ID_LIST = 500
_SPECIAL = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_TRIAL_COLUMNS = [
    type_coerce(c, Text).label(c.name) if isinstance(c.type, DateTime) else c for c in trials.c
]


class BadValue(Exception):
    """A stored value that does not decode: the column and what is wrong with it."""

    def __init__(self, column: str, problem: str) -> None:
        super().__init__(f"{column}: {problem}")
        self.column = column
        self.problem = problem


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def utc(moment: datetime | None) -> datetime | None:
    """A timezone-aware UTC datetime (SQLite hands back naive ones; they were written as UTC)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _moment(value: Any, column: str) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return utc(value)
    try:
        return utc(datetime.fromisoformat(value))
    except (TypeError, ValueError):
        raise BadValue(column, f"is not a timestamp: {_shown(value)}") from None


def _json(text: Any, column: str, kind: type) -> Any:
    try:
        value = json.loads(text)
    except (TypeError, ValueError) as err:
        raise BadValue(column, f"is not valid JSON ({err}): {_shown(text)}") from None
    if not isinstance(value, kind):
        raise BadValue(column, f"must hold a JSON {kind.__name__}, got {_shown(value)}")
    return value


def _int(value: Any, column: str, *, nullable: bool = False) -> Any:
    if value is None and nullable:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadValue(column, f"must be an integer, got {_shown(value)}")
    return value


def _float(value: Any, column: str) -> float:
    if value is None:  # NULL stands for NaN (see `encode_float`)
        return math.nan
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise BadValue(column, f"must be a number, got {_shown(value)}")
    return float(value)


def _enum(enum: Any, value: Any, column: str, *, nullable: bool = False) -> Any:
    if value is None and nullable:
        return None
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        raise BadValue(column, f"must be one of {allowed}, got {_shown(value)}") from None


def _values(text: Any) -> tuple[float, ...] | None:
    if text is None:
        return None
    raw = _json(text, "trials.values", list)
    out = []
    for v in raw:
        if isinstance(v, str) and v in _SPECIAL:
            out.append(_SPECIAL[v])
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out.append(float(v))
        else:
            raise BadValue("trials.values", f"must be a list of numbers, got {_shown(raw)}")
    return tuple(out)


def decode_study(row: Row[Any]) -> StudyInfo:
    """A `StudyInfo` from a row of `study_rows`.

    Raises:
        BadValue: A column does not decode.
    """
    created = _moment(row.created_at, "studies.created_at")
    directions = tuple(
        _enum(Direction, d, "studies.directions")
        for d in _json(row.directions, "studies.directions", list)
    )
    if not directions:
        raise BadValue("studies.directions", "must list at least one direction, got []")
    return StudyInfo(
        study_id=row.id,
        name=row.name,
        space=_json(row.space, "studies.space", dict),
        directions=directions,
        created_at=created,  # type: ignore[arg-type]  # NOT NULL
        user_attrs=_json(row.user_attrs, "studies.user_attrs", dict),
    )


def study_info(row: Row[Any]) -> StudyInfo:
    """A `StudyInfo` from a row of `study_rows`.

    Raises:
        StorageError: A column does not decode; the message names the study and the column.
    """
    try:
        return decode_study(row)
    except BadValue as bad:
        raise StorageError(
            f"study {row.name!r} cannot be read: column {bad.column} {bad.problem}. The study "
            "row was written by something other than this package, or damaged; repair the "
            "column or delete the study (`lightning-autotune studies delete`)"
        ) from None


def study_rows(
    conn: Connection, where: ColumnElement[bool] | None = None, *, lock: bool = False
) -> list[Row[Any]]:
    """Raw rows of `studies` (oldest first), the created_at column left undecoded; `lock` locks
    them until the transaction ends."""
    cols = [
        type_coerce(c, Text).label(c.name) if isinstance(c.type, DateTime) else c for c in studies.c
    ]
    query = select(*cols).order_by(studies.c.id)
    if where is not None:
        query = query.where(where)
    if lock:
        query = query.with_for_update()
    return list(conn.execute(query).all())


def fetch_rows(
    conn: Connection, where: ColumnElement[bool]
) -> tuple[list[Row[Any]], dict[int, list[StepRow]], dict[int, list[MetricRow]]]:
    """The raw trial rows matching `where` (by study and number), their intermediate values and
    their metrics, grouped by trial id: three queries whatever the number of trials."""
    # Sorted here, not by the database: an ORDER BY on (study, number) makes SQLite walk that
    # unique index over every trial of the study, where the (study, state) index or the id
    # range of an incremental read finds the few rows wanted directly.
    rows = sorted(conn.execute(select(*_TRIAL_COLUMNS).where(where)).all(), key=_row_order)
    if not rows:
        return rows, {}, {}
    # A few ids are looked up by key; a subquery there lets SQLite scan every value of
    # every trial instead. Many ids (a full read) read most values anyway.
    ids: Any = [r.id for r in rows] if len(rows) <= _ID_LIST else select(trials.c.id).where(where)
    return rows, *_values_of(conn, ids)


def fetch_last_reports(
    conn: Connection, where: ColumnElement[bool]
) -> tuple[list[Row[Any]], dict[int, list[StepRow]], dict[int, list[MetricRow]]]:
    """`fetch_rows` with only each trial's last intermediate value and no metrics: one index
    lookup per trial instead of every report of every trial.

    A trial whose reports would not decode (SQLite keeps a value of any type in any column) is
    read in full, so it comes out of `decode_trials` as the same `MalformedRow` as from
    `fetch_rows`.
    """
    rows = sorted(conn.execute(select(*_TRIAL_COLUMNS).where(where)).all(), key=_row_order)
    inter: dict[int, list[StepRow]] = defaultdict(list)
    mets: dict[int, list[MetricRow]] = defaultdict(list)
    if not rows:
        return rows, inter, mets
    ti = trial_intermediate.c
    last = select(func.max(ti.step)).where(ti.trial_id == trials.c.id).scalar_subquery()
    latest = select(trials.c.id, last.label("step")).where(where).subquery()
    on = (ti.trial_id == latest.c.id) & (ti.step == latest.c.step)
    query = select(ti.trial_id, ti.step, ti.value).join_from(trial_intermediate, latest, on)
    for trial_id, step, value in conn.execute(query).all():
        inter[trial_id].append((step, value))
    if conn.dialect.name == "sqlite":
        suspect = sorted(_undecodable_reports(conn, where))
        if suspect:
            full, named = _values_of(conn, suspect)
            for trial_id in suspect:
                inter[trial_id], mets[trial_id] = full[trial_id], named[trial_id]
    return rows, inter, mets


def _undecodable_reports(conn: Connection, where: ColumnElement[bool]) -> set[int]:
    """Ids of the trials matching `where` with a report whose step is not an integer or whose
    value is not a number or NULL (SQLite only: `typeof`), the rules `_curve` applies."""
    ids = select(trials.c.id).where(where)
    found: set[int] = set()
    for table in (trial_intermediate, trial_metrics):
        bad = (func.typeof(table.c.step) != "integer") | func.typeof(table.c.value).in_(
            ["text", "blob"]
        )
        query = select(table.c.trial_id).where(table.c.trial_id.in_(ids), bad).distinct()
        found.update(conn.execute(query).scalars())
    return found


def _values_of(
    conn: Connection, ids: Any
) -> tuple[dict[int, list[StepRow]], dict[int, list[MetricRow]]]:
    """The intermediate values and the metrics of the trials `ids` (a list or a subquery)."""
    inter: dict[int, list[StepRow]] = defaultdict(list)
    mets: dict[int, list[MetricRow]] = defaultdict(list)
    ti, tm = trial_intermediate.c, trial_metrics.c
    query = select(ti.trial_id, ti.step, ti.value).where(ti.trial_id.in_(ids))
    for trial_id, step, value in conn.execute(query).all():
        inter[trial_id].append((step, value))
    named = select(tm.trial_id, tm.step, tm.name, tm.value).where(tm.trial_id.in_(ids))
    for trial_id, step, name, value in conn.execute(named).all():
        mets[trial_id].append((step, name, value))
    return inter, mets


def _row_order(row: Row[Any]) -> tuple[int, int, int]:
    number = row.number if isinstance(row.number, int) else -1  # a malformed number first
    return row.study_id, number, row.id


def decode_trials(
    rows: Iterable[Row[Any]],
    inter: Mapping[int, list[StepRow]],
    mets: Mapping[int, list[MetricRow]],
    study_name: Mapping[int, str],
) -> tuple[list[TrialRecord], list[MalformedRow]]:
    """Decode rows from `fetch_rows`; those that do not decode come back as `MalformedRow`."""
    records, malformed = [], []
    for row in rows:
        try:
            records.append(_record(row, inter.get(row.id, ()), mets.get(row.id, ())))
        except BadValue as bad:
            number = row.number if isinstance(row.number, int) else None
            study = study_name.get(row.study_id, f"<study id {row.study_id}>")
            malformed.append(MalformedRow(study, bad.column, bad.problem, row.id, number))
    return records, malformed


def fetch_trials(conn: Connection, where: ColumnElement[bool]) -> list[TrialRecord]:
    """The trials matching `where` whose rows decode (malformed ones are left out silently;
    `SQLStorage` reads warn about them)."""
    rows, inter, mets = fetch_rows(conn, where)
    return decode_trials(rows, inter, mets, {})[0]


def _curve(rows: Iterable[StepRow]) -> dict[int, float]:
    """A trial's objective by step. Rows of the column types this package writes (an integer
    step, a float or NULL value) take the fast path: a large study holds a million of them."""
    curve: dict[int, float] = {}
    for step, value in rows:
        if type(step) is int and type(value) is float:
            curve[step] = value
        else:
            step = _int(step, "trial_intermediate.step")
            curve[step] = _float(value, f"trial_intermediate.value (step {step})")
    return dict(sorted(curve.items()))


def _metrics(rows: Iterable[MetricRow]) -> dict[int, dict[str, float]]:
    """A trial's other metrics by step and name (fast path as in `_curve`)."""
    metrics: dict[int, dict[str, float]] = defaultdict(dict)
    for step, name, value in rows:
        if type(step) is int and type(value) is float:
            metrics[step][str(name)] = value
        else:
            step = _int(step, "trial_metrics.step")
            metrics[step][str(name)] = _float(value, f"trial_metrics.value (step {step})")
    return metrics


def _record(row: Row[Any], inter: Iterable[StepRow], mets: Iterable[MetricRow]) -> TrialRecord:
    metrics = _metrics(mets)
    return TrialRecord(
        trial_id=row.id,
        number=_int(row.number, "trials.number"),
        state=_enum(TrialState, row.state, "trials.state"),
        params=MappingProxyType(_json(row.params, "trials.params", dict)),
        values=_values(row.values),
        intermediate=MappingProxyType(_curve(inter)),
        metrics=MappingProxyType(
            {step: MappingProxyType(m) for step, m in sorted(metrics.items())}
        ),
        reason=row.reason,
        kind=_enum(FailureKind, row.kind, "trials.kind", nullable=True),
        started_at=_moment(row.started_at, "trials.started_at"),
        finished_at=_moment(row.finished_at, "trials.finished_at"),
        heartbeat_at=_moment(row.heartbeat_at, "trials.heartbeat_at"),
        worker=row.worker,
        retry_of=_int(row.retry_of, "trials.retry_of", nullable=True),
        user_attrs=MappingProxyType(_json(row.user_attrs, "trials.user_attrs", dict)),
    )


def study_names(conn: Connection, limit: int = 20) -> list[str]:
    """Up to `limit` study names, for 'no such study' messages."""
    return list(conn.execute(select(studies.c.name).order_by(studies.c.id).limit(limit)).scalars())
