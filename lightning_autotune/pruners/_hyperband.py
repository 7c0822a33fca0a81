"""`HyperbandPruner`: several successive-halving brackets, each trial placed by its number."""

from __future__ import annotations

import math
from collections.abc import Sequence

from lightning_autotune._validation import check_int
from lightning_autotune.exceptions import ConfigError
from lightning_autotune.pruners._base import Pruner
from lightning_autotune.pruners._common import finished
from lightning_autotune.pruners._halving import judge
from lightning_autotune.trial import Direction, TrialRecord

__all__ = ["HyperbandPruner"]

# Knuth's multiplicative constant: spreads consecutive trial numbers evenly over [0, 1).
_GOLDEN = 2654435761
_MOD = 2**32


class HyperbandPruner(Pruner):
    """Hyperband over asynchronous successive halving, with no state outside the trials.

    There are `S = floor(log_eta(max_resource / min_resource)) + 1` brackets (eta is the
    reduction factor). Bracket `b` (0 <= b < S) is a `SuccessiveHalvingPruner` with
    `min_early_stopping_rate = b`: bracket 0 judges first at `min_resource` and is the most
    aggressive, bracket `S - 1` judges first at `min_resource * eta**(S-1)`.

    The bracket of a trial is a pure function of its number, so any worker computes the same
    one: `u = ((number * 2654435761) mod 2**32) / 2**32` falls in [0, 1), and `[0, 1)` is split
    into consecutive intervals, one per bracket, of lengths proportional to
    `w_b = eta**(S-1-b) / (S - b)` (the number of trials each bracket starts in the original
    Hyperband, so aggressive brackets get more trials). A trial only competes with trials of its
    own bracket.

    Args:
        min_resource: Step of the first rung of the most aggressive bracket (>= 1).
        max_resource: Steps of a full run (> min_resource), e.g. the global steps of max_epochs.
        reduction_factor: eta (>= 2).
        n_startup_trials: No pruning until this many trials have finished.

    Raises:
        ConfigError: An argument is out of range (the message names it).

    Example:
        >>> p = HyperbandPruner(min_resource=1, max_resource=27, reduction_factor=3)
        >>> p.n_brackets, [p.bracket_of(n) for n in range(6)]
        (4, [0, 1, 0, 2, 0, 0])
    """

    def __init__(
        self,
        min_resource: int = 1,
        max_resource: int = 81,
        reduction_factor: int = 3,
        n_startup_trials: int = 0,
    ) -> None:
        name = type(self).__name__
        self.min_resource = check_int(min_resource, f"{name}: min_resource", low=1)
        self.max_resource = check_int(max_resource, f"{name}: max_resource", low=1)
        self.reduction_factor = check_int(reduction_factor, f"{name}: reduction_factor", low=2)
        self.n_startup_trials = check_int(n_startup_trials, f"{name}: n_startup_trials", low=0)
        if self.max_resource <= self.min_resource:
            raise ConfigError(
                f"{name}: max_resource must be greater than min_resource={min_resource}, got "
                f"{max_resource!r}; pass the number of steps of a full run"
            )
        ratio = self.max_resource / self.min_resource
        # The small epsilon keeps exact powers (27 / 1 with eta 3) from rounding down.
        self.n_brackets = math.floor(math.log(ratio, self.reduction_factor) + 1e-9) + 1
        weights = [
            self.reduction_factor ** (self.n_brackets - 1 - b) / (self.n_brackets - b)
            for b in range(self.n_brackets)
        ]
        total = sum(weights)
        edges, acc = [], 0.0
        for w in weights:
            acc += w / total
            edges.append(acc)
        self._edges = tuple(edges)

    def __repr__(self) -> str:
        return (
            f"HyperbandPruner(min_resource={self.min_resource}, "
            f"max_resource={self.max_resource}, reduction_factor={self.reduction_factor}, "
            f"n_startup_trials={self.n_startup_trials})"
        )

    def bracket_of(self, number: int) -> int:
        """The bracket (0 = most aggressive) of the trial with this number."""
        u = ((number * _GOLDEN) % _MOD) / _MOD
        for b, edge in enumerate(self._edges):
            if u < edge:
                return b
        return self.n_brackets - 1

    def prune(
        self, trial: TrialRecord, history: Sequence[TrialRecord], direction: Direction
    ) -> bool:
        if len(finished(history)) < self.n_startup_trials:
            return False
        bracket = self.bracket_of(trial.number)
        same = [t for t in history if self.bracket_of(t.number) == bracket]
        return judge(trial, same, direction, self.min_resource, self.reduction_factor, bracket)
