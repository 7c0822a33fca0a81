"""JSON payloads of a study, built from trial snapshots: the dashboard's `/api/` endpoints and
the interactive report draw the same charts from them.

They live in `analysis`, below the dashboard, so that `write_report` shares them without
importing the web server. Non-finite floats become `null` (JSON has no NaN). Charts get
decimated data: at most `MAX_CURVES` intermediate curves of at most `MAX_POINTS` points each.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from lightning_autotune.storage import StudyInfo
from lightning_autotune.trial import Direction, TrialRecord, TrialState

__all__ = [
    "LOCATION_ATTRS",
    "MAX_CURVES",
    "MAX_POINTS",
    "SCHEDULE_METRICS",
    "curves_for",
    "curves_payload",
    "decimate",
    "space_view",
    "study_summary",
    "trial_detail",
    "trial_summary",
]

MAX_CURVES = 200
"""Intermediate curves drawn on a study page: the best, every pruned one, the running ones."""

MAX_POINTS = 60
"""Points kept per intermediate curve (the first and the last always among them)."""

SCHEDULE_METRICS = (
    "batch_size",
    "dropout_p",
    "optimizer_phase",
    "agc_clipped_fraction",
    "agc_threshold",
    "grad_norm",
)
"""The metrics the schedule callbacks log for the values they applied (`callbacks/_common.py`
`log_value`): a trial page shows them apart, as the schedules the trial ran."""

LOCATION_ATTRS = ("log_dir", "checkpoint_dir", "resumed_from")
"""Trial attributes that say where a trial's files are (`LightningObjective` sets them)."""


def _num(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _last_activity(record: TrialRecord) -> datetime | None:
    times = [t for t in (record.finished_at, record.heartbeat_at, record.started_at) if t]
    return max(times) if times else None


def _best(records: Iterable[TrialRecord], direction: Direction) -> TrialRecord | None:
    done = [
        r
        for r in records
        if r.state is TrialState.COMPLETE and r.values and math.isfinite(r.values[0])
    ]
    return min(done, key=lambda r: direction.sign * r.values[0]) if done else None  # type: ignore[index]


def study_summary(info: StudyInfo, records: Sequence[TrialRecord]) -> dict[str, Any]:
    """One row of the studies list: directions, state counts, best trial, last activity."""
    counts = Counter(r.state.value for r in records)
    best = _best(records, info.directions[0]) if len(info.directions) == 1 else None
    moments = [m for m in map(_last_activity, records) if m is not None]
    return {
        "name": info.name,
        "directions": [d.value for d in info.directions],
        "created_at": _time(info.created_at),
        "n_trials": len(records),
        "counts": {s.value: counts.get(s.value, 0) for s in TrialState},
        "best": None
        if best is None
        else {"number": best.number, "values": [_num(v) for v in best.values or ()]},
        "last_activity": _time(max(moments, default=info.created_at)),
    }


def trial_summary(record: TrialRecord, *, intermediate: bool = False) -> dict[str, Any]:
    """A trial as one row of the trial table (its curve only if `intermediate`)."""
    row: dict[str, Any] = {
        "number": record.number,
        "state": record.state.value,
        "values": None if record.values is None else [_num(v) for v in record.values],
        "params": dict(record.params),
        "reason": record.reason,
        "last_step": record.last_step,
        "n_steps": len(record.intermediate),
        "started_at": _time(record.started_at),
        "finished_at": _time(record.finished_at),
        "duration": record.duration,
        "worker": record.worker,
    }
    if intermediate:
        row["intermediate"] = {
            "steps": list(record.intermediate),
            "values": [_num(v) for v in record.intermediate.values()],
        }
    return row


def _series(points: Mapping[int, float]) -> dict[str, list[Any]]:
    return {"steps": list(points), "values": [_num(v) for v in points.values()]}


def trial_detail(record: TrialRecord) -> dict[str, Any]:
    """Everything about one trial: params, each metric over steps, attributes, timing."""
    by_metric: dict[str, dict[int, float]] = {}
    for step, named in record.metrics.items():
        for name, value in named.items():
            by_metric.setdefault(name, {})[step] = value
    return {
        **trial_summary(record),
        "trial_id": record.trial_id,
        "heartbeat_at": _time(record.heartbeat_at),
        "retry_of": record.retry_of,
        "user_attrs": dict(record.user_attrs),
        "objective": _series(record.intermediate),
        "metrics": {name: _series(by_metric[name]) for name in sorted(by_metric)},
        "schedules": {n: _series(by_metric[n]) for n in SCHEDULE_METRICS if n in by_metric},
        "locations": {
            k: record.user_attrs[k] for k in LOCATION_ATTRS if record.user_attrs.get(k) is not None
        },
        "transfer": record.user_attrs.get("transfer"),
    }


def space_view(space: Mapping[str, Any]) -> dict[str, Any]:
    """The space of a study (`SearchSpace.to_dict()` form) as parameters, constraints, rules."""
    rules = space.get("_rules") or ()
    return {
        "params": [
            {"name": name, "spec": spec}
            for name, spec in space.items()
            if name not in ("_constraints", "_rules")
        ],
        "constraints": [str(c) for c in space.get("_constraints") or ()],
        "rules": [f"if {r.get('condition')} then {r.get('action')}" for r in rules],
    }


def decimate(points: Mapping[int, float], max_points: int = MAX_POINTS) -> dict[int, float]:
    """At most `max_points` of a curve, evenly spaced, the first and the last always kept."""
    steps = list(points)
    if len(steps) <= max_points:
        return dict(points)
    stride = (len(steps) - 1) / (max_points - 1)
    keep = sorted({round(i * stride) for i in range(max_points)})
    return {steps[i]: points[steps[i]] for i in keep}


def _chosen(records: Sequence[TrialRecord], direction: Direction) -> list[TrialRecord]:
    with_curve = [r for r in records if r.intermediate]
    if len(with_curve) <= MAX_CURVES:
        return with_curve
    running = [r for r in with_curve if r.state is TrialState.RUNNING]
    pruned = [r for r in with_curve if r.state is TrialState.PRUNED][-MAX_CURVES // 4 :]
    complete = [r for r in with_curve if r.state is TrialState.COMPLETE]
    complete.sort(key=lambda r: direction.sign * (_num((r.values or (math.nan,))[0]) or math.inf))
    picked = {r.number: r for r in running[: MAX_CURVES // 4] + pruned}
    for r in complete:
        if len(picked) >= MAX_CURVES:
            break
        picked.setdefault(r.number, r)
    return [picked[n] for n in sorted(picked)]


def curves_payload(info: StudyInfo, records: Sequence[TrialRecord]) -> dict[str, Any]:
    """The intermediate-curves chart: decimated curves and where pruned trials stopped."""
    return curves_for(info.directions[0], records)


def curves_for(direction: Direction, records: Sequence[TrialRecord]) -> dict[str, Any]:
    """`curves_payload` for the first objective's `direction` (the report has no `StudyInfo`)."""
    chosen = _chosen(records, direction)
    curves = [
        {"number": r.number, "state": r.state.value, **_series(decimate(r.intermediate))}
        for r in chosen
    ]
    stops = [
        {"number": r.number, "step": r.last_step, "value": _num(r.intermediate[r.last_step])}
        for r in records
        if r.state is TrialState.PRUNED and r.last_step is not None
    ]
    return {
        "n_with_curve": sum(1 for r in records if r.intermediate),
        "curves": curves,
        "pruned_stops": stops,
    }
