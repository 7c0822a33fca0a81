"""Pieces the evolutionary samplers share: choice columns, their learned distribution, repair."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from lightning_autotune.exceptions import ConfigError
from lightning_autotune.space import Categorical, ColumnKind, SearchSpace
from lightning_autotune.trial import TrialRecord

__all__ = ["choice_columns", "choice_probabilities", "feasible_or_fallback", "require_cmaes"]

MAX_REDRAWS = 100
"""Draws tried before a proposal that violates the space's constraints is replaced."""


def require_cmaes(owner: str) -> None:
    """Raise a `ConfigError` naming the extra to install when `cmaes` is missing."""
    if importlib.util.find_spec("cmaes") is None:
        raise ConfigError(
            f"{owner} needs the 'cmaes' package, which is not installed; run "
            "`pip install 'lightning-autotune[evolutionary]'` (or `pip install cmaes`)"
        )


def choice_columns(space: SearchSpace) -> dict[str, tuple[int, int]]:
    """Choice parameter -> its one-hot columns `start, stop` in the encoded cube."""
    names = dict.fromkeys(c.param for c in space.columns if c.kind is ColumnKind.ONE_HOT)
    return {name: space.column_span(name) for name in names}


def _choices(space: SearchSpace, name: str) -> tuple[Any, ...]:
    p = space[name]
    return p.choices if isinstance(p, Categorical) else p.all_choices  # type: ignore[union-attr]


def choice_probabilities(
    space: SearchSpace, run_trials: Sequence[tuple[float, TrialRecord]], elite: int
) -> dict[str, np.ndarray]:
    """Each choice parameter's distribution, from the best of the latest trials.

    Args:
        space: The search space.
        run_trials: (lower-is-better score, trial) of the current run, in finish order.
        elite: How many of the best trials vote; they are taken among the latest `4 * elite`
            (two generations of `2 * elite`).

    Returns:
        Choice parameter -> probabilities over its choices (all of them, for a Conditional):
        frequencies among the voters where the parameter was active, plus one pseudo-vote
        spread evenly over the choices (so none ever has probability 0).
    """
    window = sorted(run_trials[-4 * elite :], key=lambda t: t[0])[:elite]
    out = {}
    for name in choice_columns(space):
        choices = _choices(space, name)
        counts = np.full(len(choices), 1.0 / len(choices))
        for _, r in window:
            if name in r.params:
                value = r.params[name]
                for i, c in enumerate(choices):
                    if type(c) is type(value) and c == value:
                        counts[i] += 1
                        break
        out[name] = counts / counts.sum()
    return out


def feasible_or_fallback(
    space: SearchSpace, draw: Callable[[], dict[str, Any]], rng: np.random.Generator
) -> dict[str, Any]:
    """A draw with the space's rules applied that meets its constraints.

    Redraws up to `MAX_REDRAWS` times, then takes a feasible uniform sample.
    """
    if not space.constraints and not space.rules:
        return draw()
    for _ in range(MAX_REDRAWS):
        config = space.apply_rules(draw()) if space.rules else draw()
        if space.is_feasible(config):
            return space.validate(config)
    return space.sample(1, rng)[0]
