"""Space-filling samplers that ignore the history: uniform random and scrambled Sobol."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lightning_autotune.samplers._base import Sampler, check_seed, suggestion_seed
from lightning_autotune.space import SearchSpace
from lightning_autotune.trial import Direction, TrialRecord, TrialState

__all__ = ["RandomSampler", "SobolSampler", "design_position"]


class RandomSampler(Sampler):
    """Uniform sampling on each parameter's own scale (log parameters uniformly in log).

    Args:
        seed: Makes the sequence of proposals repeat exactly (None: the study's seed, if any).

    Example:
        >>> from lightning_autotune.space import SearchSpace, Float
        >>> RandomSampler().suggest(SearchSpace({"x": Float(0, 1)}), [], seed=0)[0]["x"] < 1
        True
    """

    def __init__(self, seed: int | None = None) -> None:
        self.seed = check_seed(seed, "RandomSampler")

    def __repr__(self) -> str:
        return "RandomSampler()" if self.seed is None else f"RandomSampler(seed={self.seed})"

    def suggest(
        self,
        space: SearchSpace,
        history: Sequence[TrialRecord],
        *,
        directions: Sequence[Direction] = (Direction.MINIMIZE,),
        pending: Sequence[TrialRecord] = (),
        n: int = 1,
        seed: int | None = None,
    ) -> list[dict[str, Any]]:
        return space.sample(n, suggestion_seed(seed, self.seed, design_position(history, pending)))


class SobolSampler(Sampler):
    """Points of one scrambled Sobol sequence, taken in order across the study.

    The position in the sequence is the number of the trial being proposed (see
    `design_position`), so the sampler needs no memory of its own, and parallel workers, whose
    trials the store numbers atomically, do not repeat points.

    Args:
        seed: Scrambling seed of the sequence, fixed for the whole study. None (the default):
            the seed of the study the sampler is given to (0 for a study without one, or when
            the sampler is used on its own).
    """

    def __init__(self, seed: int | None = None) -> None:
        self.seed = check_seed(seed, "SobolSampler")

    def for_study(self, seed: int | None) -> SobolSampler:
        if self.seed is not None or seed is None:
            return self
        return SobolSampler(seed)

    def __repr__(self) -> str:
        return f"SobolSampler(seed={self.seed})"

    def suggest(
        self,
        space: SearchSpace,
        history: Sequence[TrialRecord],
        *,
        directions: Sequence[Direction] = (Direction.MINIMIZE,),
        pending: Sequence[TrialRecord] = (),
        n: int = 1,
        seed: int | None = None,
    ) -> list[dict[str, Any]]:
        scramble = 0 if self.seed is None else self.seed
        start = design_position(history, pending)
        return sobol_points(space, start=start, n=n, seed=scramble)


def design_position(history: Sequence[TrialRecord], pending: Sequence[TrialRecord]) -> int:
    """Position in an initial design of the next trial: how many trials the study holds.

    The study passes every trial it holds: the finished ones as `history`, the running and
    waiting ones as `pending` (finished trials it also passes as pending, such as those that
    ran out of memory, are counted once). That is the number the store gives the next trial,
    and the study records each proposal under that number only if no other process took it
    meanwhile, so two trials never share a design point.
    """
    live = (TrialState.RUNNING, TrialState.WAITING)
    return len(history) + sum(1 for t in pending if t.state in live)


def sobol_points(space: SearchSpace, start: int, n: int, seed: int) -> list[dict[str, Any]]:
    """Configurations `start .. start + n - 1` of the scrambled Sobol sequence of `space`.

    When the space has constraints or rules, the sequence is that of its feasible points.
    """
    import warnings

    from scipy.stats import qmc

    if space.constraints or space.rules:
        return space.sample_sobol(n, seed=seed, start=start)

    engine = qmc.Sobol(d=space.dim, scramble=True, seed=seed)
    if start:
        engine.fast_forward(start)
    with warnings.catch_warnings():
        # Points are taken a few at a time along one sequence; the power-of-2 advice does not apply.
        warnings.filterwarnings("ignore", message=".*balance properties.*")
        return space.decode(engine.random(n))
