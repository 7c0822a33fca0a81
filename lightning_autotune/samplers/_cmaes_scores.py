"""The trials CMA-ES learns from, scored and in the order they finished.

Read from the whole history at every suggestion, so `scored` keeps a memo of what it made of
the records it has seen.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import itemgetter

from lightning_autotune.trial import Direction, TrialRecord, TrialState

__all__ = ["ScoreMemo", "finish_order", "scored"]

_Made = tuple[tuple[int, float, int], float]
"""A trial's finish-order key and its lower-is-better score."""
_Keyed = tuple[tuple[int, float, int], float, TrialRecord]
_by_key = itemgetter(0)


@dataclass
class ScoreMemo:
    """What `scored` made of the last history, reused while its records are the same objects.

    The history is read whole at every suggestion. An in-memory store hands back the same
    record objects for trials that did not change, so a history that extends the last one
    costs only its new trials, and any other history only the records that are new objects.
    Records read afresh (another store) are recomputed, with the same result.
    """

    sign: float = 1.0
    entries: dict[int, tuple[TrialRecord, _Made | None]] = field(default_factory=dict)
    last: tuple[list[TrialRecord], list[_Keyed], list[tuple[float, TrialRecord]]] = ([], [], [])
    """The last history, its keyed trials and the (score, record) pairs returned for them,
    replaced in one assignment (threads may share the memo: a reader never sees one without
    the others). A history that extends the last one in finish order gets the same pair
    objects for its old trials, which lets `replay` recognize them without a pass over them."""


def scored(
    history: Sequence[TrialRecord], direction: Direction, memo: ScoreMemo | None = None
) -> list[tuple[float, TrialRecord]]:
    """The trials CMA-ES learns from, with their lower-is-better score, in finish order.

    COMPLETE trials with a finite value, and PRUNED trials with a finite last reported value
    (a pessimistic estimate of where they were heading). FAILED trials carry no value. The
    order is `finish_order`'s.

    Args:
        history: The study's finished trials.
        direction: The objective's direction.
        memo: Optional; reused and updated so that unchanged records are not scored again.
    """
    sign = direction.sign
    memo = memo if memo is not None else ScoreMemo(sign)
    history = list(history)
    before, before_keyed, before_pairs = memo.last
    n = len(before)
    keyed: list[_Keyed]
    if memo.sign == sign and 0 < n <= len(history) and history[:n] == before:
        # identity first: a list comparison of the same objects never calls __eq__
        keyed, todo, pairs = list(before_keyed), history[n:], list(before_pairs)
    else:
        if memo.sign != sign:
            memo.entries.clear()
            memo.sign = sign
        keyed, todo, pairs = [], history, []
    entries = memo.entries
    last = keyed[-1][0] if keyed else None
    ordered = True
    for r in todo:
        hit = entries.get(r.trial_id)
        if hit is not None and hit[0] is r:
            made = hit[1]
        else:
            made = _score(r, sign)
            entries[r.trial_id] = (r, made)
        if made is not None:
            if last is not None and made[0] < last:
                ordered = False
            last = made[0]
            keyed.append((made[0], made[1], r))
            pairs.append((made[1], r))
    if not ordered:
        keyed.sort(key=_by_key)
        pairs = [(score, r) for _, score, r in keyed]
    memo.last = (history, keyed, pairs)
    return list(pairs)


def _score(r: TrialRecord, sign: float) -> _Made | None:
    """`r`'s finish-order key and lower-is-better score, or None when it has no usable value."""
    if r.state is TrialState.COMPLETE:
        value = r.values[0] if r.values is not None else None
    elif r.state is TrialState.PRUNED:
        value = r.values[0] if r.values else _last(r)
    else:
        return None
    if value is None or not math.isfinite(value):
        return None
    at = r.finished_at
    key = (0, 0.0, r.number) if at is None else (1, at.timestamp(), r.number)
    return key, sign * float(value)


def finish_order(history: Sequence[TrialRecord]) -> list[TrialRecord]:
    """Trials by the time they finished (ties and unknown times by number).

    A generation is filled by the trials that finish, so trials that finish later never
    change the generations already formed, whatever their numbers.
    """

    def key(r: TrialRecord) -> tuple[int, float, int]:
        at = r.finished_at
        return (0, 0.0, r.number) if at is None else (1, at.timestamp(), r.number)

    return sorted(history, key=key)


def _last(r: TrialRecord) -> float | None:
    return r.intermediate[max(r.intermediate)] if r.intermediate else None
