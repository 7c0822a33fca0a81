"""`AnyPruner`: prune when any of several pruners says so."""

from __future__ import annotations

from collections.abc import Sequence

from lightning_autotune.exceptions import ConfigError
from lightning_autotune.pruners._base import Pruner
from lightning_autotune.trial import Direction, TrialRecord

__all__ = ["AnyPruner"]


class AnyPruner(Pruner):
    """Prune when at least one of `pruners` prunes (they are asked in order; the first yes wins).

    Typical use: a divergence guard in front of a ranking pruner. The reason recorded for a
    pruned trial names the pruner that decided ('MedianPruner at step 3 ...').

    Args:
        pruners: One or more pruners.

    Raises:
        ConfigError: `pruners` is empty or holds something that is not a `Pruner`.

    Example:
        >>> from lightning_autotune.pruners import DivergencePruner, MedianPruner
        >>> AnyPruner([DivergencePruner(), MedianPruner()]).pruners[0]
        DivergencePruner(threshold=None, growth_factor=None, n_warmup_steps=0)
    """

    def __init__(self, pruners: Sequence[Pruner]) -> None:
        items = tuple(pruners)
        if not items:
            raise ConfigError("AnyPruner: pruners must hold at least one Pruner, got none")
        for i, p in enumerate(items):
            if not isinstance(p, Pruner):
                raise ConfigError(
                    f"AnyPruner: pruners[{i}] must be a Pruner instance, got {p!r}; "
                    "pass e.g. MedianPruner() rather than the class"
                )
        self.pruners = items

    def __repr__(self) -> str:
        return f"AnyPruner([{', '.join(repr(p) for p in self.pruners)}])"

    def prune(
        self, trial: TrialRecord, history: Sequence[TrialRecord], direction: Direction
    ) -> bool:
        return any(p.prune(trial, history, direction) for p in self.pruners)

    def which(
        self, trial: TrialRecord, history: Sequence[TrialRecord], direction: Direction
    ) -> Pruner | None:
        """The first pruner that prunes `trial`, or None."""
        for p in self.pruners:
            if p.prune(trial, history, direction):
                return p
        return None

    def describe(
        self, trial: TrialRecord, history: Sequence[TrialRecord], direction: Direction
    ) -> str:
        """The description of the first pruner that prunes `trial` (this one's name if none)."""
        decided = self.which(trial, history, direction)
        if decided is None:
            return type(self).__name__
        return decided.describe(trial, history, direction)
