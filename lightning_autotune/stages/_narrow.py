"""Narrowing: the next stage's ranges, a box around the best configurations of this one."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from lightning_autotune.exceptions import ConfigError
from lightning_autotune.space import Categorical, Float, Int, Param, SearchSpace
from lightning_autotune.stages._stage import Narrowing

__all__ = ["RangeChange", "narrow_space", "stage_space"]


@dataclass(frozen=True)
class RangeChange:
    """Why one parameter's range differs from the user's in a stage (stored with the stage)."""

    name: str
    before: dict[str, Any]
    """The parameter as the user defined it (`SearchSpace.from_dict` format)."""
    after: dict[str, Any]
    """The parameter in the stage's space."""
    reason: str

    def to_json(self) -> dict[str, Any]:
        """This change as JSON."""
        return {
            "name": self.name,
            "before": self.before,
            "after": self.after,
            "reason": self.reason,
        }


def _box(p: Float | Int, values: Sequence[float], margin: float) -> tuple[float, float]:
    """[low, high] around `values` on `p`'s scale, widened by `margin` of `p`'s range."""
    to = math.log if p.log else float
    back = math.exp if p.log else float
    lo, hi = to(p.low), to(p.high)
    vals = [to(v) for v in values]
    pad = margin * (hi - lo)
    low, high = back(max(lo, min(vals) - pad)), back(min(hi, max(vals) + pad))
    low, high = max(p.low, low), min(p.high, high)
    if isinstance(p, Int):
        low, high = math.floor(low + 1e-9), math.ceil(high - 1e-9)
        if p.step not in (None, 1):  # stay on the user's grid
            step = int(p.step or 1)
            low = int(p.low + step * math.floor((low - p.low) / step))
            high = int(p.low + step * math.ceil((high - p.low) / step))
        if high <= low:  # an Int needs two values; widen by one step inside the user's range
            step = int(p.step or 1)
            low, high = (low - step, low) if low + step > p.high else (low, low + step)
    elif p.step is not None:
        # rounded so that 0.1 * 3 reads 0.3, as the user wrote the grid
        low = round(p.low + p.step * math.floor((low - p.low) / p.step + 1e-9), 12)
        high = round(p.low + p.step * math.ceil((high - p.low) / p.step - 1e-9), 12)
        if high <= low:
            low, high = (low - p.step, low) if low + p.step > p.high else (low, low + p.step)
    elif high <= low:  # all best values equal and margin 0: keep a sliver around the value
        width = 1e-6 * (p.high - p.low)
        low, high = max(p.low, low - width), min(p.high, high + width)
    return low, high


def _narrow_one(name: str, p: Param, values: list[Any], margin: float) -> Param:
    if isinstance(p, (Float, Int)):
        low, high = _box(p, [float(v) for v in values], margin)
        if isinstance(p, Int):
            return replace(p, low=int(low), high=int(high))
        return replace(p, low=float(low), high=float(high))
    if isinstance(p, Categorical):
        kept = tuple(c for c in p.choices if any(_same(c, v) for v in values))
        return replace(p, choices=kept)
    return p  # conditional parameters keep their ranges


def narrow_space(
    space: SearchSpace,
    best: Sequence[Mapping[str, Any]],
    rule: Narrowing,
    *,
    keep: Sequence[str] = (),
) -> tuple[SearchSpace, list[RangeChange]]:
    """The space around the best configurations `best`, never outside `space`'s ranges.

    Args:
        space: The current space (the user's, or an earlier stage's).
        best: The best configurations (at least one), best first.
        rule: The margin and the choice of best trials (see `Narrowing`).
        keep: Parameters left as they are (fidelities a later stage sets itself).

    Returns:
        The narrowed space, and one `RangeChange` per parameter whose range changed.

    Raises:
        ConfigError: `best` is empty (the stage completed no trial).

    Example:
        >>> space = SearchSpace({"lr": Float(1e-5, 1e-1, log=True)})
        >>> new, _ = narrow_space(space, [{"lr": 1e-3}], Narrowing(top_k=1, margin=0.25))
        >>> round(new["lr"].low, 6), round(new["lr"].high, 6)
        (0.0001, 0.01)
    """
    if not best:
        raise ConfigError(
            "the stage completed no trial, so the next stage's space would be empty; give the "
            "stage more trials or time, or set narrow=None to keep its space"
        )
    params: dict[str, Param] = {}
    changes: list[RangeChange] = []
    for name in space.order:
        p = space[name]
        values = [c[name] for c in best if name in c]
        if name in keep or not values or _fixed(p):
            params[name] = p
            continue
        q = _narrow_one(name, p, values, rule.margin)
        params[name] = q
        if q != p:
            changes.append(
                RangeChange(
                    name,
                    p.to_dict(),
                    q.to_dict(),
                    f"box around the best {len(best)} trial(s), margin {rule.margin:g} of the "
                    "range" + (" on the log scale" if getattr(p, "log", False) else ""),
                )
            )
    return SearchSpace(params, constraints=space.constraints, rules=space.rules), changes


def _same(a: Any, b: Any) -> bool:
    return bool(a == b) and isinstance(a, bool) == isinstance(b, bool)


def _fixed(p: Param) -> bool:
    return isinstance(p, Categorical) and len(p.choices) == 1


def stage_space(
    space: SearchSpace, fixed: Mapping[str, Any], reason: str
) -> tuple[SearchSpace, list[RangeChange]]:
    """`space` with the params of `fixed` held at one value each (a one-choice `Categorical`).

    Raises:
        ConfigError: A value outside the parameter's range.
    """
    params = dict(space.items())
    changes = []
    for name, value in fixed.items():
        p = space[name]
        if not p.contains(value):
            raise ConfigError(
                f"stage params: {name}={value!r} is outside the parameter's range "
                f"{p.to_dict()}; give a value inside it"
            )
        params[name] = Categorical((value,), when=p.when)
        changes.append(RangeChange(name, p.to_dict(), params[name].to_dict(), reason))
    return SearchSpace(params, constraints=space.constraints, rules=space.rules), changes
