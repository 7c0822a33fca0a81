"""`DivergencePruner`: stop at once a trial whose objective is NaN, infinite or blowing up."""

from __future__ import annotations

import math
from collections.abc import Sequence

from lightning_autotune._validation import check_int, check_number
from lightning_autotune.pruners._base import Pruner
from lightning_autotune.trial import Direction, TrialRecord

__all__ = ["DivergencePruner"]


class DivergencePruner(Pruner):
    """Prune a trial whose latest value is NaN or infinite, past a threshold, or far off its best.

    Needs no other trial, so it acts from the very first report. With the latest value `v` and
    the trial's best so far `b`, both turned lower-is-better (`score = sign * value`), the trial
    is pruned when any of these holds:

    - `v` is NaN or +-inf;
    - `threshold` is set and the raw value is worse than it (above it when minimizing, below it
      when maximizing);
    - `growth_factor` k is set, the trial is past `n_warmup_steps`, and
      `v > b + (k - 1) * |b|` (for a positive loss: the loss is more than k times its best).

    Args:
        threshold: Raw objective value no healthy trial is worse than (None: no threshold).
        growth_factor: k > 1 in the rule above (None: no growth rule).
        n_warmup_steps: Steps `<=` this are exempt from the growth rule (early curves are noisy).

    Raises:
        ConfigError: An argument is out of range (the message names it).

    Example:
        >>> DivergencePruner(threshold=10.0, growth_factor=3.0)
        DivergencePruner(threshold=10.0, growth_factor=3.0, n_warmup_steps=0)
    """

    def __init__(
        self,
        threshold: float | None = None,
        growth_factor: float | None = None,
        n_warmup_steps: int = 0,
    ) -> None:
        name = type(self).__name__
        self.threshold = (
            None if threshold is None else check_number(threshold, f"{name}: threshold")
        )
        self.growth_factor = (
            None
            if growth_factor is None
            else check_number(growth_factor, f"{name}: growth_factor", low=1.0, strict_low=True)
        )
        self.n_warmup_steps = check_int(n_warmup_steps, f"{name}: n_warmup_steps", low=0)

    def __repr__(self) -> str:
        return (
            f"DivergencePruner(threshold={self.threshold}, growth_factor={self.growth_factor}, "
            f"n_warmup_steps={self.n_warmup_steps})"
        )

    def prune(
        self, trial: TrialRecord, history: Sequence[TrialRecord], direction: Direction
    ) -> bool:
        step = trial.last_step
        if step is None:
            return False
        raw = trial.intermediate[step]
        if not math.isfinite(raw):
            return True
        latest = direction.sign * raw
        if self.threshold is not None and latest > direction.sign * self.threshold:
            return True
        if self.growth_factor is None or step <= self.n_warmup_steps:
            return False
        finite = [v for v in trial.curve(direction).values() if math.isfinite(v)]
        best = min(finite)
        return latest > best + (self.growth_factor - 1.0) * abs(best)
