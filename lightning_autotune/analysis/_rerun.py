"""Sensitivity by real re-runs: evaluate the objective itself at one-at-a-time moves."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from lightning_autotune._validation import check_int
from lightning_autotune.analysis._axes import is_numeric
from lightning_autotune.analysis._perturb import one_at_a_time
from lightning_autotune.analysis._sensitivity import LocalSensitivity
from lightning_autotune.exceptions import ConfigError
from lightning_autotune.space import SearchSpace

__all__ = ["rerun_sensitivity"]


def rerun_sensitivity(
    objective: Callable[[dict[str, Any]], float],
    space: SearchSpace | Mapping[str, Any],
    around: Mapping[str, Any],
    *,
    params: Sequence[str] | None = None,
    n_points: int = 5,
    repeats: int = 1,
) -> tuple[LocalSensitivity, ...]:
    """Move each parameter alone around `around` and run the real objective there.

    The GP-based `sensitivity_analysis` is free; this costs
    `repeats * (1 + sum of values per parameter)` objective runs, and measures what the GP
    only predicts (including run-to-run noise when `repeats > 1`).

    Args:
        objective: Takes a configuration, returns the objective value (e.g. trains a model).
        space: The search space (or its dict format).
        around: The base configuration, usually `study.best_params`.
        params: Parameters to move (default: every parameter active in `around`).
        n_points: Values per numeric parameter, spread over its range on its own scale.
        repeats: Runs per configuration; the band is the mean +/- two standard errors.

    Returns:
        One `LocalSensitivity` per moved parameter; `change` is relative to the base mean.

    Raises:
        ConfigError: Bad `n_points`, `repeats` or `params`.
        SearchSpaceError: `around` is not a valid configuration.

    Example:
        >>> best = study.best_params  # doctest: +SKIP
        >>> curves = rerun_sensitivity(train_and_score, study.space, best)  # doctest: +SKIP
    """
    space = space if isinstance(space, SearchSpace) else SearchSpace.from_dict(space)
    check_int(n_points, "n_points", low=2, hint="give the number of values per parameter")
    check_int(repeats, "repeats", low=1, hint="give the number of runs per configuration")
    base = space.validate(around)
    active = space.active_names(base)
    names = list(active) if params is None else list(params)
    inactive = [n for n in names if n not in active]
    if inactive:
        raise ConfigError(
            f"params: {inactive} are not active in the base configuration (active: "
            f"{list(active)}); choose active parameters"
        )

    def run(config: dict[str, Any]) -> tuple[float, float]:
        ys = np.array([float(objective(dict(config))) for _ in range(repeats)])
        stderr = float(ys.std(ddof=1) / math.sqrt(repeats)) if repeats > 1 else 0.0
        return float(ys.mean()), stderr

    base_mean, base_err = run(base)
    out = []
    for name in names:
        values, configs = one_at_a_time(space, base, name, n_points)
        # Real runs stay inside the feasible region: infeasible moves are skipped.
        kept = [(v, c) for v, c in zip(values, configs, strict=True) if space.is_feasible(c)]
        if not kept:
            continue
        values, configs = [v for v, _ in kept], [c for _, c in kept]
        means, errs = zip(*(run(c) for c in configs), strict=True)
        change = np.asarray(means) - base_mean
        band = 2.0 * np.sqrt(np.asarray(errs) ** 2 + base_err**2)
        p = space[name]
        out.append(
            LocalSensitivity(
                name=name,
                base_value=base[name],
                values=tuple(values),
                mean=tuple(float(m) for m in means),
                change=tuple(float(c) for c in change),
                lower=tuple(float(c) for c in change - band),
                upper=tuple(float(c) for c in change + band),
                categorical=not is_numeric(p),
                log=bool(getattr(p, "log", False)),
            )
        )
    return tuple(out)
