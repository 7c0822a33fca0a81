"""TrialState, Direction and the frozen TrialRecord snapshot."""

from __future__ import annotations

import dataclasses
import math
import random
from datetime import datetime, timedelta, timezone

import pytest

from lightning_autotune.exceptions import ConfigError
from lightning_autotune.pruners._common import best_up_to, score_curve
from lightning_autotune.trial import Direction, TrialRecord, TrialState


def test_finished_states():
    assert {s for s in TrialState if s.is_finished} == {
        TrialState.COMPLETE,
        TrialState.PRUNED,
        TrialState.FAILED,
    }
    assert TrialState("RUNNING") is TrialState.RUNNING


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("minimize", Direction.MINIMIZE),
        ("MAXIMIZE", Direction.MAXIMIZE),
        (" min ", Direction.MINIMIZE),
        ("max", Direction.MAXIMIZE),
        (Direction.MAXIMIZE, Direction.MAXIMIZE),
    ],
)
def test_direction_parse(text, expected):
    assert Direction.parse(text) is expected


@pytest.mark.parametrize("bad", ["minimise", "", None, 1, ["min"]])
def test_direction_parse_refuses(bad):
    with pytest.raises(
        ConfigError,
        match=rf"mode must be 'minimize' or 'maximize' \(or 'min'/'max'\), got {bad!r}".replace(
            "[", r"\["
        ).replace("]", r"\]"),
    ):
        Direction.parse(bad, field="mode")


def test_direction_sign():
    assert Direction.MINIMIZE.sign == 1.0
    assert Direction.MAXIMIZE.sign == -1.0


def _record(**kwargs) -> TrialRecord:
    base = {"trial_id": 3, "number": 1, "state": TrialState.COMPLETE, "params": {"x": 1}}
    return TrialRecord(**{**base, **kwargs})


def test_record_is_frozen():
    record = _record()
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.state = TrialState.FAILED  # type: ignore[misc]


def test_value_and_values():
    assert _record().value is None
    assert _record(values=(0.5,)).value == 0.5
    with pytest.raises(ValueError, match=r"trial 1 has 2 objective values; use .values"):
        _ = _record(values=(0.5, 1.0)).value


def test_last_step_and_curve():
    record = _record(intermediate={5: 0.3, 1: 0.9, 3: 0.5})
    assert record.last_step == 5
    assert _record().last_step is None
    assert list(record.curve(Direction.MINIMIZE).items()) == [(1, 0.9), (3, 0.5), (5, 0.3)]
    assert record.curve(Direction.MAXIMIZE) == {1: -0.9, 3: -0.5, 5: -0.3}


def test_scores_turn_values_lower_is_better():
    record = _record(values=(2.0, 3.0, math.nan))
    scores = record.scores((Direction.MINIMIZE, Direction.MAXIMIZE, Direction.MINIMIZE))
    assert scores[:2] == (2.0, -3.0) and math.isnan(scores[2])
    assert _record().scores((Direction.MINIMIZE,)) is None
    with pytest.raises(ValueError):
        record.scores((Direction.MINIMIZE,))


def test_duration():
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert _record(started_at=start).duration is None
    assert _record(started_at=start, finished_at=start + timedelta(seconds=90)).duration == 90.0


def test_defaults_are_empty_and_read_only():
    record = _record()
    assert dict(record.intermediate) == {} and dict(record.metrics) == {}
    assert dict(record.user_attrs) == {}
    with pytest.raises(TypeError):
        record.intermediate[1] = 0.5  # type: ignore[index]


@pytest.mark.parametrize("direction", list(Direction))
def test_best_up_to_matches_a_pass_over_the_curve(direction):
    rng = random.Random(3)
    for _ in range(200):
        steps = rng.sample(range(30), rng.randint(0, 12))
        curve = {s: rng.choice([math.nan, rng.uniform(-5, 5)]) for s in steps}
        record = TrialRecord(0, 0, TrialState.PRUNED, {}, intermediate=curve)
        for step in range(-1, 31):
            expected = best_up_to(score_curve(record, direction), step)
            assert record.best_up_to(step, direction) == expected, (curve, step)
