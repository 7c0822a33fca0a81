"""The first paint of a study page: what its main charts and first table page need, decimated.

A study of 10,000 trials is several megabytes as a full trial list; the page's first paint
needs far less: the optimization history (at most `MAX_MARKERS` markers, and the best-so-far
line reduced to the points where it changes, which draw the same step line), the decimated
intermediate curves, and the first `TABLE_ROWS` rows of the table. The page asks for the full
list after this has been drawn.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

from lightning_autotune.analysis._payload import curves_for, trial_summary
from lightning_autotune.storage import StudyInfo
from lightning_autotune.trial import TrialRecord, TrialState

__all__ = ["MAX_MARKERS", "TABLE_ROWS", "first_paint"]

MAX_MARKERS = 1_500
"""History markers sent: the best fifth of the COMPLETE trials and an even spread of the rest."""

TABLE_ROWS = 50
"""Rows of the table's first page (by trial number)."""


def _thin(done: list[tuple[int, float]], keep: int, sign: float) -> list[tuple[int, float]]:
    if len(done) <= keep:
        return done
    ranked = sorted(done, key=lambda p: sign * p[1])
    chosen = set(ranked[: keep // 5])
    rest = [p for p in done if p not in chosen]
    need = keep - len(chosen)
    chosen.update(rest[(i * len(rest)) // need] for i in range(need))
    return [p for p in done if p in chosen]


def _history(info: StudyInfo, records: Sequence[TrialRecord]) -> dict[str, Any]:
    sign = info.directions[0].sign
    done = [
        (r.number, r.values[0])
        for r in records
        if r.state is TrialState.COMPLETE and r.values and math.isfinite(r.values[0])
    ]
    best_x: list[int] = []
    best_y: list[float] = []
    best = math.inf
    for number, value in done:
        if sign * value < best:
            best = sign * value
            best_x.append(number)
            best_y.append(value)
    if done and best_x[-1] != done[-1][0]:  # the line runs on to the latest trial
        best_x.append(done[-1][0])
        best_y.append(best_y[-1])
    markers = _thin(done, MAX_MARKERS, sign)
    return {
        "n_complete": len(done),
        "markers": {"x": [n for n, _ in markers], "y": [v for _, v in markers]},
        "best": {"x": best_x, "y": best_y},
    }


def first_paint(info: StudyInfo, records: Sequence[TrialRecord]) -> dict[str, Any]:
    """The payload of `/api/studies/NAME/summary` (records by number)."""
    counts = Counter(r.state.value for r in records)
    return {
        "n_trials": len(records),
        "counts": {s.value: counts[s.value] for s in TrialState if counts[s.value]},
        "history": _history(info, records) if len(info.directions) == 1 else None,
        "curves": curves_for(info.directions[0], records),
        "table": [trial_summary(r) for r in records[:TABLE_ROWS]],
    }
