"""How `BoTorchSampler` chooses a point while others are in flight: the batch policy and box."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

import numpy as np

from lightning_autotune.exceptions import ConfigError
from lightning_autotune.space import SearchSpace

if TYPE_CHECKING:
    from lightning_autotune.samplers._optimize_acqf import Box

__all__ = ["BatchPolicy", "refinement_box"]


class BatchPolicy(Enum):
    """Which acquisition `acq_func='auto'` uses for a point chosen while others are in flight.

    Points in flight are pending trials and the points chosen earlier in the same batch; their
    outcomes are unknown. There are two remedies. The Kriging believer (analytic LogEI on the
    GP that "believes" them at their posterior mean, with the real data's hyper-parameters)
    puts the next point near them without repeating them: it refines, and on a multimodal
    problem it crowds a batch into one basin. qLogNEI with them as `X_pending` integrates over
    their outcomes: it explores, and spreads a batch thin where refining pays. Each alone was
    far worse than sequential on some problem, in batches of 4 on Branin, Hartmann6, Ackley-4D
    and a mixed space (docs/botorch_sampler.md); alternating them, so a batch holds both kinds
    of point, stayed near sequential on all four, and the analytic half makes a batch cheaper.

    The other acquisitions (`acq_func` 'EI', 'NEI', 'UCB') use their MC form with the points in
    flight whatever the policy.
    """

    ALTERNATE = "alternate"
    """The believer with an odd number of points in flight, qLogNEI with an even number."""
    BELIEVER = "believer"
    """The believer for every point."""
    QLOGNEI = "qlognei"
    """qLogNEI for every point."""

    @classmethod
    def parse(cls, value: str | BatchPolicy) -> BatchPolicy:
        """Turn a name (case-insensitive) into a `BatchPolicy`.

        Raises:
            ConfigError: Unknown name.
        """
        if isinstance(value, BatchPolicy):
            return value
        for policy in cls:
            if str(value).lower() in (policy.value, policy.name.lower()):
                return policy
        raise ConfigError(
            f"batch_policy must be one of {[p.value for p in cls]}, got {value!r}; "
            "pass e.g. batch_policy='alternate'"
        )

    def uses_believer(self, in_flight: int) -> bool:
        """Whether the point chosen with `in_flight` points in flight (>= 1) uses the believer."""
        if self is BatchPolicy.ALTERNATE:
            return in_flight % 2 == 1
        return self is BatchPolicy.BELIEVER


_BOX_SHARE = 0.5
"""Half-width of the box a later point of a batch stays in, as a share of the batch's first
point's distance from the best observed one."""
_BOX_MIN = 0.01
"""Smallest half-width of that box, in units of the encoded cube."""


def refinement_box(space: SearchSpace, best: np.ndarray, first: np.ndarray) -> Box | None:
    """Where a later point of a batch whose first point is `first` may go.

    The first point of a batch is chosen as a sequential step would be, from the best observed
    point `best` out to `first`. The others, chosen from the same data, stay in a box around
    `best` of half that reach on the continuous columns of always-active parameters, so they
    refine around the best point rather than spend the batch on more guesses as far out as
    the first. Choices and conditional branches stay free, and a point that makes another
    choice of an always-active categorical than `best` is not held at all (a learning rate
    near Adam's best is no guide for SGD). None when the space has no such columns.
    """
    from lightning_autotune.samplers._optimize_acqf import Box, box_columns

    cols = box_columns(space)
    if not len(cols):
        return None
    reach = float(np.max(np.abs(first[cols] - best[cols])))
    return Box.around(space, best, max(_BOX_SHARE * reach, _BOX_MIN))
