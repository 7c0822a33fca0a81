"""Helpers shared by the pruners: reading curves as lower-is-better."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

from lightning_autotune.trial import Direction, TrialRecord, TrialState

__all__ = [
    "best_up_to",
    "finished",
    "previous_step",
    "score_curve",
]

_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def score_curve(trial: TrialRecord, direction: Direction) -> dict[int, float]:
    """The trial's intermediate values, lower-is-better, with NaN turned into +inf (worst)."""
    return {s: (math.inf if math.isnan(v) else v) for s, v in trial.curve(direction).items()}


def best_up_to(curve: Mapping[int, float], step: int) -> float | None:
    """The best (lowest) score reported at a step <= `step`, or None if there is none."""
    upto = [v for s, v in curve.items() if s <= step]
    return min(upto) if upto else None


def previous_step(trial: TrialRecord) -> int | None:
    """The step reported just before the last one (None if the trial reported once or never)."""
    steps = sorted(trial.intermediate)
    return steps[-2] if len(steps) >= 2 else None


def finished(history: Iterable[TrialRecord]) -> Sequence[TrialRecord]:
    """The COMPLETE and PRUNED trials of `history` (FAILED ones teach nothing about curves)."""
    return [t for t in history if t.state in _FINISHED]
