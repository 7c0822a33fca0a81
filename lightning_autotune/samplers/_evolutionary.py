"""`EvolutionarySampler`: CMA-ES for one objective, NSGA-II for several or for constraints."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lightning_autotune.constraints import OutcomeConstraint
from lightning_autotune.samplers._base import Sampler, check_seed
from lightning_autotune.samplers._cmaes import CmaEsSampler
from lightning_autotune.samplers._nsga2 import NSGA2Sampler
from lightning_autotune.space import SearchSpace
from lightning_autotune.trial import Direction, TrialRecord

__all__ = ["EvolutionarySampler"]


class EvolutionarySampler(Sampler):
    """The evolutionary sampler that fits the study, chosen at each suggestion.

    One objective and no outcome constraint: `CmaEsSampler` (with BIPOP restarts). Several
    objectives, or outcome constraints (which CMA-ES cannot weigh): `NSGA2Sampler`. Both hold
    no state, so the choice costs nothing and a study always gets the same one.

    Args:
        outcome_constraints: Strings such as 'latency_ms <= 20' or `OutcomeConstraint`s.
        population_size: Population of either algorithm (None: each one's default).
        seed: Seed of the whole sequence of proposals (None: the study's).

    Example:
        >>> from lightning_autotune.space import SearchSpace, Float
        >>> s = EvolutionarySampler(seed=0)
        >>> type(s.choose(("minimize",))).__name__, type(s.choose(("minimize", "max"))).__name__
        ('CmaEsSampler', 'NSGA2Sampler')
    """

    def __init__(
        self,
        *,
        outcome_constraints: Sequence[str | OutcomeConstraint] = (),
        population_size: int | None = None,
        seed: int | None = None,
    ) -> None:
        self.seed = check_seed(seed, "EvolutionarySampler")
        self.population_size = population_size
        self.nsga2 = NSGA2Sampler(
            outcome_constraints=outcome_constraints,
            seed=seed,
            **({} if population_size is None else {"population_size": population_size}),
        )
        self._cmaes: CmaEsSampler | None = None

    def __repr__(self) -> str:
        return f"EvolutionarySampler(seed={self.seed})"

    def for_study(self, seed: int | None) -> EvolutionarySampler:
        if self.seed is not None or seed is None:
            return self
        return EvolutionarySampler(
            outcome_constraints=self.nsga2.outcome_constraints,
            population_size=self.population_size,
            seed=seed,
        )

    def choose(self, directions: Sequence[Direction | str]) -> Sampler:
        """The sampler used for a study with these directions."""
        if len(directions) != 1 or self.nsga2.outcome_constraints:
            return self.nsga2
        if self._cmaes is None:  # built on first use: a multi-objective study needs no cmaes
            self._cmaes = CmaEsSampler(
                restart_strategy="bipop", population_size=self.population_size, seed=self.seed
            )
        return self._cmaes

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
        return self.choose(directions).suggest(
            space, history, directions=directions, pending=pending, n=n, seed=seed
        )
