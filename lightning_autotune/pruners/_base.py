"""`Pruner`: a pure decision whether a running trial should stop now."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from lightning_autotune.trial import Direction, TrialRecord

__all__ = ["NopPruner", "Pruner"]


class Pruner(ABC):
    """Decides from snapshots alone; writes nothing, remembers nothing between calls."""

    @abstractmethod
    def prune(
        self, trial: TrialRecord, history: Sequence[TrialRecord], direction: Direction
    ) -> bool:
        """Whether `trial` should stop now.

        Args:
            trial: The running trial, with its intermediate values so far.
            history: Every other trial of the study (any state), by number.
            direction: The objective's direction; `TrialRecord.curve` turns values lower-is-better.

        Returns:
            True to stop the trial (it ends PRUNED).
        """

    def describe(
        self, trial: TrialRecord, history: Sequence[TrialRecord], direction: Direction
    ) -> str:
        """Who pruned `trial`, for its recorded reason (asked after `prune` returned True).

        The pruner's class name; a pruner made of others names the one that decided.
        """
        return type(self).__name__

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class NopPruner(Pruner):
    """Never prunes."""

    def prune(
        self, trial: TrialRecord, history: Sequence[TrialRecord], direction: Direction
    ) -> bool:
        return False
