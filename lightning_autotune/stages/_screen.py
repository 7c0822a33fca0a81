"""Screening: one-at-a-time perturbations around the middle of the space rank the parameters."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from lightning_autotune.space import SearchSpace
from lightning_autotune.trial import Direction, TrialRecord, TrialState

__all__ = ["ScreenEffect", "rank_parameters", "screening_configs"]


@dataclass(frozen=True)
class ScreenEffect:
    """What moving one parameter alone did to the objective.

    Attributes:
        name: The parameter.
        effect: The spread (max - min) of the lower-is-better scores over its moves.
        share: `effect` over the sum of every parameter's effect (0 when all are 0).
        best_value: The value of its move with the best score.
        fixed: Whether the later stages hold it at `best_value` (share below the threshold).
    """

    name: str
    effect: float
    share: float
    best_value: Any
    fixed: bool

    def to_json(self) -> dict[str, Any]:
        """This effect as JSON."""
        return {
            "name": self.name,
            "effect": self.effect,
            "share": self.share,
            "best_value": self.best_value,
            "fixed": self.fixed,
        }


def _key(config: Mapping[str, Any]) -> str:
    return json.dumps(dict(config), sort_keys=True, default=str)


def screening_configs(space: SearchSpace, points: int) -> list[tuple[str | None, dict[str, Any]]]:
    """The base configuration (the middle of every range) and its one-at-a-time moves.

    Returns:
        `(moved parameter or None for the base, configuration)` pairs, base first, without
        duplicates.
    """
    from lightning_autotune.analysis._perturb import one_at_a_time

    base = space.decode(np.full((1, space.dim), 0.5))[0]
    out: list[tuple[str | None, dict[str, Any]]] = [(None, base)]
    seen = {_key(base)}
    for name in space.order:
        if name not in base:  # inactive in the base configuration
            continue
        _, configs = one_at_a_time(space, base, name, points)
        for config in configs:
            if _key(config) not in seen:
                seen.add(_key(config))
                out.append((name, config))
    return out


def rank_parameters(
    space: SearchSpace,
    moves: Sequence[tuple[str | None, Mapping[str, Any]]],
    trials: Sequence[TrialRecord],
    direction: Direction,
    threshold: float,
) -> list[ScreenEffect]:
    """Rank the parameters by the spread of the results of their moves, largest first.

    Args:
        space: The screened space.
        moves: `screening_configs`' output.
        trials: The screening stage's trials (matched to the moves by their params).
        direction: The study's direction.
        threshold: Share of the total effect below which a parameter is fixed.

    Returns:
        One `ScreenEffect` per moved parameter; a parameter none of whose moves completed has
        effect 0 and is not fixed, and the most important parameter is never fixed.
    """
    score: dict[str, float] = {}
    for t in trials:
        scores = t.scores((direction,)) if t.state is TrialState.COMPLETE else None
        if scores is not None and math.isfinite(scores[0]):
            score[_key(t.params)] = scores[0]
    base_key = _key(moves[0][1])
    effects: dict[str, tuple[float, Any]] = {}
    names = [n for n in dict.fromkeys(name for name, _ in moves[1:]) if n is not None]
    for name in names:
        scored = [(score[_key(c)], c[name]) for n, c in moves if n == name and _key(c) in score]
        if base_key in score:
            scored.append((score[base_key], moves[0][1][name]))
        if len(scored) < 2:
            effects[name] = (0.0, None)
            continue
        values = [s for s, _ in scored]
        effects[name] = (max(values) - min(values), min(scored, key=lambda sv: sv[0])[1])
    total = sum(e for e, _ in effects.values())
    out = []
    for name, (effect, best) in effects.items():
        share = effect / total if total > 0 else 0.0
        out.append(ScreenEffect(name, effect, share, best, best is not None and share < threshold))
    out.sort(key=lambda e: -e.effect)
    if out and out[0].fixed:  # the most important parameter is always searched
        out[0] = replace(out[0], fixed=False)
    return out


def ranking_line(effects: Sequence[ScreenEffect], threshold: float) -> str:
    """One progress line: each parameter's share of the effect, the fixed ones marked."""
    parts = [
        f"{e.name} {100 * e.share:.0f}%" + (f" (fixed at {e.best_value!r})" if e.fixed else "")
        for e in effects
    ]
    return (
        f"lightning_autotune: screening ranks {', '.join(parts)}; parameters below "
        f"{100 * threshold:g}% of the total effect are fixed (Stage(threshold=...))"
    )
