"""Where a parameter's values sit on a plot axis: numbers on their own scale, choices spread."""

from __future__ import annotations

import math
from typing import Any

from lightning_autotune.space import Categorical, Conditional, Float, Int
from lightning_autotune.space._params import Param

__all__ = ["choices_of", "is_numeric", "unit_position", "unit_ticks"]


def is_numeric(p: Param) -> bool:
    """True for Float and Int parameters."""
    return isinstance(p, (Float, Int))


def choices_of(p: Param) -> tuple[Any, ...]:
    """Every choice of a Categorical or Conditional parameter (empty for numbers)."""
    if isinstance(p, Categorical):
        return tuple(p.choices)
    if isinstance(p, Conditional):
        return tuple(p.all_choices)
    return ()


def unit_position(p: Param, value: Any) -> float:
    """Position of `value` on the parameter's axis in [0, 1]; NaN when absent (inactive).

    Numbers use the parameter's own scale (log when declared); the i-th of n choices sits at
    i / (n - 1).
    """
    if value is None:
        return math.nan
    if isinstance(p, (Float, Int)):
        try:
            return min(max(float(p.to_unit(value)), 0.0), 1.0)
        except (TypeError, ValueError):
            return math.nan
    choices = choices_of(p)
    for i, c in enumerate(choices):
        if c == value and type(c) is type(value):
            return 0.5 if len(choices) == 1 else i / (len(choices) - 1)
    return math.nan


def unit_ticks(p: Param, n: int = 5) -> tuple[list[float], list[str]]:
    """Tick positions in [0, 1] and their labels for a parameter axis."""
    choices = choices_of(p)
    if choices:
        if len(choices) == 1:
            return [0.5], [str(choices[0])]
        return [i / (len(choices) - 1) for i in range(len(choices))], [str(c) for c in choices]
    assert isinstance(p, (Float, Int))
    positions = [i / (n - 1) for i in range(n)]
    labels = [_short(_value_at(p, u)) for u in positions]
    return positions, labels


def _value_at(p: Float | Int, u: float) -> float:
    if p.log:
        lo, hi = math.log(p.low), math.log(p.high)
        return math.exp(lo + u * (hi - lo))
    return p.low + u * (p.high - p.low)


def _short(x: float) -> str:
    return f"{x:.3g}"
