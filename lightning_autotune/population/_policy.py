"""Exploit: which member copies which, decided from the population's results in the store."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lightning_autotune._lineage import CopyReason, Lineage
from lightning_autotune.population._config import PopulationBasedTraining
from lightning_autotune.population._pb2_data import IntervalRecord
from lightning_autotune.space import SearchSpace

__all__ = ["Exploit", "decide", "quantile_cut", "ranked"]


@dataclass(frozen=True)
class Exploit:
    """A member copies `parent`'s checkpoint and continues with `params`.

    Attributes:
        parent: The copied member.
        checkpoint: Path of the parent's weights and optimizer state.
        boundary: The boundary at which the parent saved them.
        params: The hyperparameters the member continues with.
        reason: Why it copies.
    """

    parent: int
    checkpoint: str
    boundary: int
    params: dict[str, Any]
    reason: CopyReason


def ranked(population: Mapping[int, Lineage], boundary: int) -> list[tuple[float, int]]:
    """`(value, member)` of every member with a result at `boundary`, best first (NaN last)."""
    pairs = []
    for member, lineage in population.items():
        result = lineage.result_at(boundary)
        if result is not None:
            value = result.value if math.isfinite(result.value) else math.inf
            pairs.append((value, member))
    return sorted(pairs)


def quantile_cut(quantile: float, n: int) -> int:
    """How many of `n` ranked members form the top (and the bottom) `quantile`.

    `ceil(quantile * n)`, at least 1 and at most `n // 2`, so the two groups never overlap.
    """
    return max(1, min(math.ceil(quantile * n - 1e-9), n // 2))


def _fixed(space: SearchSpace, mutable: tuple[str, ...], params: Mapping[str, Any]) -> dict:
    return {k: v for k, v in params.items() if k in space.names and k not in mutable}


def decide(
    config: PopulationBasedTraining,
    space: SearchSpace,
    me: Lineage,
    population: Mapping[int, Lineage],
    boundary: int,
    rng: np.random.Generator,
    history: Mapping[int, Sequence[IntervalRecord]] | None = None,
) -> Exploit | None:
    """Whether `me` copies a top member at `boundary`, and with which new hyperparameters.

    A member copies when its value there is NaN or infinite (reason DIVERGED) or when it ranks
    in the bottom `quantile` of the members that reached the boundary (UNDERPERFORMING). The
    parent is drawn from the top `quantile` among members with the same fixed (non-mutable)
    params whose checkpoint still exists. `history` (each member's own interval records) goes
    to the explore step.

    Returns:
        The copy to make, or None to go on unchanged.
    """
    mine = me.result_at(boundary)
    if mine is None:
        return None
    mutable = config.mutable_names(space)
    fixed = _fixed(space, mutable, me.params)
    peers = {
        m: lin
        for m, lin in population.items()
        if m == me.member or _fixed(space, mutable, lin.params) == fixed
    }
    order = ranked({**peers, me.member: me}, boundary)
    diverged = not math.isfinite(mine.value)
    if len(order) < 2 and not diverged:
        return None
    cut = quantile_cut(config.quantile, len(order))
    bottom = {m for _, m in order[len(order) - cut :]}
    if not diverged and me.member not in bottom:
        return None
    donors = []
    for value, member in order[:cut] if not diverged else order:
        result = peers[member].result_at(boundary)
        if (
            member != me.member
            and math.isfinite(value)
            and result is not None
            and result.checkpoint is not None
            and Path(result.checkpoint).is_file()
        ):
            donors.append((member, result.checkpoint))
    if diverged:
        donors = donors[:cut]
    if not donors:
        return None
    parent, checkpoint = donors[int(rng.integers(len(donors)))]
    params = config.explore(
        space, peers[parent].params, population, boundary, rng, member=me.member, history=history
    )
    reason = CopyReason.DIVERGED if diverged else CopyReason.UNDERPERFORMING
    return Exploit(parent, checkpoint, boundary, params, reason)
