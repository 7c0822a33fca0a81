"""One-at-a-time moves: configurations that differ from a base in one parameter only."""

from __future__ import annotations

from typing import Any

import numpy as np

from lightning_autotune.analysis._axes import choices_of
from lightning_autotune.space import Conditional, Float, Int, SearchSpace

__all__ = ["one_at_a_time"]


def one_at_a_time(
    space: SearchSpace, base: dict[str, Any], name: str, n_points: int
) -> tuple[list[Any], list[dict[str, Any]]]:
    """Values of `name` to try and the configurations that use them, all else as in `base`.

    A numeric parameter takes `n_points` values evenly spread on its own scale (fewer when its
    grid has fewer levels); a categorical takes each allowed choice. A move that activates a
    child parameter gives the child the middle of its range (or its first choice); a move that
    deactivates one drops it.

    Args:
        space: The search space.
        base: A valid configuration.
        name: The parameter to move (active in `base`).
        n_points: Grid size for numeric parameters.

    Returns:
        The values, and one valid configuration per value.
    """
    p = space[name]
    if isinstance(p, (Float, Int)):
        values: list[Any] = []
        for u in np.linspace(0.0, 1.0, n_points):
            v = p.from_unit(float(u))
            if v not in values:
                values.append(v)
    elif isinstance(p, Conditional):
        values = list(p.choices_for(base))
    else:
        values = list(choices_of(p))
    base_row = space.encode([base])[0]
    start, stop = space.column_span(name)
    rows = []
    for v in values:
        row = base_row.copy()
        if isinstance(p, (Float, Int)):
            row[start] = p.to_unit(v)
        else:
            row[start:stop] = 0.0
            row[start + next(i for i, c in enumerate(choices_of(p)) if _same(c, v))] = 1.0
        rows.append(row)
    configs = space.decode(np.asarray(rows))
    for v, config in zip(values, configs, strict=True):
        # Decoding rounds floats through the unit cube; put the exact values back.
        for key in config:
            if key == name:
                config[key] = v
            elif key in base:
                config[key] = base[key]
    # Moving one parameter alone may leave the feasible region; the model can still score it.
    return values, [space.validate(c, check_constraints=False) for c in configs]


def _same(a: Any, b: Any) -> bool:
    return bool(a == b and type(a) is type(b))
