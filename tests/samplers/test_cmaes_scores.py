"""`scored`: the trials CMA-ES learns from, in finish order, and its memo across suggestions."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from lightning_autotune.samplers import _cmaes_scores
from lightning_autotune.samplers._cmaes_scores import ScoreMemo, finish_order, scored
from lightning_autotune.trial import Direction, TrialRecord, TrialState

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _trial(i: int, value: float | None, *, finish: int | None = None, state=TrialState.COMPLETE):
    at = None if finish is None else T0 + timedelta(seconds=finish)
    values = None if value is None else (value,)
    return TrialRecord(i, i, state, {"x": float(i)}, values=values, finished_at=at)


def _history() -> list[TrialRecord]:
    """Finished out of number order, with a failed trial, a NaN and a pruned one."""
    return [
        _trial(0, 3.0, finish=5),
        _trial(1, 1.0, finish=2),
        _trial(2, None, finish=3, state=TrialState.FAILED),
        _trial(3, float("nan"), finish=4),
        replace(_trial(4, None, finish=1, state=TrialState.PRUNED), intermediate={2: 7.0}),
        _trial(5, 2.0),  # no finish time: first, by number
    ]


def _reference(history: list[TrialRecord], direction: Direction) -> list[tuple[float, int]]:
    """The rule written out: usable trials in `finish_order`, with the lower-is-better score."""
    out = []
    for r in finish_order(history):
        if r.state is TrialState.COMPLETE and r.values is not None:
            value = r.values[0]
        elif r.state is TrialState.PRUNED:
            value = r.values[0] if r.values else r.intermediate[max(r.intermediate)]
        else:
            continue
        if value == value:
            out.append((direction.sign * value, r.number))
    return out


def _numbers(out: list[tuple[float, TrialRecord]]) -> list[tuple[float, int]]:
    return [(s, r.number) for s, r in out]


@pytest.mark.parametrize("direction", [Direction.MINIMIZE, Direction.MAXIMIZE])
def test_scores_are_the_usable_trials_in_finish_order(direction):
    history = _history()
    assert _numbers(scored(history, direction)) == _reference(history, direction)
    assert [n for _, n in _reference(history, Direction.MINIMIZE)] == [5, 4, 1, 0]


def test_the_memo_gives_what_scoring_from_scratch_gives_as_the_history_changes():
    memo = ScoreMemo()
    history = _history()
    steps = [
        history[:3],
        history[:5],  # extends the last one
        history,
        [*history, _trial(6, 0.5, finish=0)],  # extends it, but finished before the others
        [replace(history[0], values=(-1.0,)), *history[1:]],  # a record changed
        history[2:],  # trials gone
    ]
    for direction in (Direction.MINIMIZE, Direction.MAXIMIZE):
        for step in steps:
            got = _numbers(scored(step, direction, memo))
            assert got == _reference(step, direction)


def test_a_history_that_extends_the_last_one_scores_only_its_new_trials(monkeypatch):
    calls: list[int] = []
    score = _cmaes_scores._score

    def counting(r: TrialRecord, sign: float):  # type: ignore[no-untyped-def]
        calls.append(r.number)
        return score(r, sign)

    monkeypatch.setattr(_cmaes_scores, "_score", counting)
    memo = ScoreMemo()
    history = [_trial(i, float(i), finish=i) for i in range(50)]
    scored(history[:49], Direction.MINIMIZE, memo)
    calls.clear()
    out = scored(history, Direction.MINIMIZE, memo)
    assert calls == [49]
    assert [r.number for _, r in out] == list(range(50))
    # the same records in a new list (another worker's read, trials in between): no rescoring
    calls.clear()
    scored(history[::-1], Direction.MINIMIZE, memo)
    assert calls == []
