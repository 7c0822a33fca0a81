"""The initial design of a zero-shot warm start: the portfolio while the earlier tasks hold.

A portfolio of the earlier tasks' best configurations is only as good as the earlier tasks are
for this one. When they are unrelated, their "best" configurations are arbitrary points, often
clustered where the earlier studies spent their trials, and a model fitted to a few clustered
points explores one basin of this task instead of the space. So the portfolio is evaluated
first, but as soon as this task has enough observations to rank (`RANKED_FROM`), the earlier
tasks are put to the same test the ranking-weighted ensemble uses: over bootstrap resamples of
this task's observations, do the earlier tasks' models order them better than this task's own
model does (on its leave-one-out predictions)? While they do, the portfolio goes on. When this
task's own model wins the larger share, the earlier tasks are contradicted and the rest of the
portfolio is dropped. Either way the design is completed with the cold sampler's space-filling
Sobol points (the first of its sequence not yet evaluated) and keeps the cold sampler's size,
so that the model first sees this task across its whole space, and with unrelated earlier
tasks the study starts almost as a cold one would.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import Any

import numpy as np

from lightning_autotune.space import SearchSpace

__all__ = [
    "RANKED_FROM",
    "DesignStep",
    "cold_design_size",
    "next_step",
    "source_share",
    "unproposed",
]

RANKED_FROM = 3
"""Observations of this task from which the earlier tasks are weighted by how they rank them
(below, each counts equally: the ensemble is the prior the earlier tasks agree on)."""


class DesignStep(Enum):
    """What a zero-shot study proposes next."""

    PORTFOLIO = "portfolio"
    """The next configuration of the earlier tasks' portfolio."""
    SOBOL = "sobol"
    """A space-filling point of the cold sampler's design."""
    MODEL = "model"
    """The transfer model's proposal."""


def cold_design_size(space: SearchSpace) -> int:
    """The cold BoTorch sampler's number of Sobol points for `space` (5 to 10, `dim + 1`)."""
    from lightning_autotune.samplers._botorch import BoTorchSampler

    return BoTorchSampler().initial_points(space)


def source_share(weights: np.ndarray) -> float:
    """The earlier tasks' share of ranking weights whose last entry is this task's own model."""
    return float(np.sum(weights[:-1]))


def next_step(
    *, share: float | None, portfolio_left: int, position: int, design_size: int
) -> DesignStep:
    """The zero-shot design's next step.

    Args:
        share: The earlier tasks' share of the ranking weights (see `source_share`), or None
            while this task has too few observations to rank (`RANKED_FROM`).
        portfolio_left: Portfolio configurations not yet proposed.
        position: Trials the study holds (its position in the design).
        design_size: The cold sampler's design size (`cold_design_size`).

    Returns:
        `MODEL` once the design is complete; before, `PORTFOLIO` while any of it is left and the
        earlier tasks are not contradicted (their share is at least this task's own model's),
        else `SOBOL`.
    """
    if position >= design_size:
        return DesignStep.MODEL
    if portfolio_left and (share is None or share >= 0.5):
        return DesignStep.PORTFOLIO
    return DesignStep.SOBOL


def unproposed(
    space: SearchSpace, portfolio: Sequence[dict[str, Any]], avoid: np.ndarray
) -> list[dict[str, Any]]:
    """The portfolio's configurations that are not among the `avoid` points (encoded)."""
    out: list[dict[str, Any]] = []
    for config in portfolio:
        x = space.encode([config])[0]
        if len(avoid) and np.min(np.max(np.abs(avoid - x), axis=1)) <= 1e-9:
            continue
        out.append(config)
    return out
