"""`NSGA2Sampler`: the elitist genetic algorithm for several objectives, on the store's history."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lightning_autotune._validation import check_int, check_number
from lightning_autotune.constraints import OutcomeConstraint
from lightning_autotune.exceptions import ConfigError, ConstraintError
from lightning_autotune.samplers._base import Sampler, check_seed, seeded_copy, suggestion_seed
from lightning_autotune.samplers._nsga2_memo import HistoryMemo, SobolDesign, config_key
from lightning_autotune.samplers._nsga2_ops import (
    crossover,
    mutate,
    rank_and_crowding,
    survivors,
    tournament,
)
from lightning_autotune.samplers._random import design_position
from lightning_autotune.space import SearchSpace
from lightning_autotune.trial import Direction, TrialRecord

__all__ = ["NSGA2Sampler"]

_TRIES = 20
"""Children bred before one that repeats a known configuration or breaks a constraint is
replaced by a feasible uniform draw."""


class NSGA2Sampler(Sampler):
    """NSGA-II (Deb et al. 2002): non-dominated sorting, crowding, crossover and mutation.

    For several objectives at budgets where a Gaussian process is too slow (hundreds to
    thousands of trials): a suggestion costs a sort of the history, not a model fit.

    **No memory between calls.** The parents of every child are the `population_size` best
    finished trials of the whole history, ranked by Deb's constrained non-dominated sorting and
    crowding distance. That is NSGA-II's elitist survival (the best of parents and offspring)
    applied to all trials so far, one child at a time (the steady-state form), so several
    workers and a resumed study need nothing beyond the store. The first `population_size`
    trials are a scrambled Sobol design. (A memo of each finished trial's scores and of the
    dominance between them only saves recomputing them: a fresh sampler suggests the same.)

    **Constraints.** Outcome constraints ('val_loss <= 0.5') are read from the last value of
    their metric each trial reported: a feasible trial beats every infeasible one, and
    infeasible ones are ranked by their total violation (a trial that never reported the
    metric counts as infinitely violating). Constraints and rules of the search space hold
    for every proposal: a child that breaks one is bred again, then replaced by a feasible
    uniform draw.

    **Mixed and conditional spaces.** Two parents, picked by binary tournaments, give one
    child: numeric parameters (Float, Int, log or linear, on their encoded scale) by simulated
    binary crossover, choices by taking either parent's; then each parameter is mutated with
    probability `mutation_prob` (polynomial mutation for numbers, a uniform redraw for
    choices). A parameter active in the child but in one parent only is inherited from it;
    in neither, drawn uniformly. Children that repeat a known configuration are bred again.

    Written here rather than on pymoo: the algorithm is a page, pymoo's generational
    `minimize` loop and its problem classes do not fit a stateless ask over a store, and the
    space's conditional parameters and rules need operators of their own anyway.

    Args:
        population_size: Parents kept, and the size of the initial design.
        outcome_constraints: Strings such as 'latency_ms <= 20' or `OutcomeConstraint`s.
        crossover_prob: Probability that a child is bred by crossover (else copied from a parent).
        swap_prob: Probability that a choice is taken from the second parent.
        mutation_prob: Per-parameter mutation probability (None: 1 / number of parameters).
        eta_crossover: Distribution index of the simulated binary crossover (larger: closer
            to the parents).
        eta_mutation: Distribution index of the polynomial mutation.
        seed: Seed of the whole sequence of proposals (None: the study's).

    Raises:
        ConfigError: An argument is out of range.
        ConstraintError: An outcome constraint is malformed.

    Example:
        >>> from lightning_autotune.space import SearchSpace, Float
        >>> space = SearchSpace({"x": Float(0.0, 1.0)})
        >>> NSGA2Sampler(population_size=4, seed=0).suggest(space, [])[0]["x"] <= 1.0
        True
    """

    def __init__(
        self,
        *,
        population_size: int = 50,
        outcome_constraints: Sequence[str | OutcomeConstraint] = (),
        crossover_prob: float = 0.9,
        swap_prob: float = 0.5,
        mutation_prob: float | None = None,
        eta_crossover: float = 15.0,
        eta_mutation: float = 20.0,
        seed: int | None = None,
    ) -> None:
        name = "NSGA2Sampler"
        self.population_size = check_int(
            population_size, f"{name}: population_size", low=2, hint="e.g. 50"
        )
        if isinstance(outcome_constraints, str):
            raise ConstraintError(
                f"outcome_constraints must be a list, got the string {outcome_constraints!r}; "
                f"write outcome_constraints=[{outcome_constraints!r}]"
            )
        self.outcome_constraints = tuple(
            c if isinstance(c, OutcomeConstraint) else OutcomeConstraint(c)
            for c in outcome_constraints
        )
        self.crossover_prob = _probability(crossover_prob, f"{name}: crossover_prob")
        self.swap_prob = _probability(swap_prob, f"{name}: swap_prob")
        self.mutation_prob = (
            None if mutation_prob is None else _probability(mutation_prob, f"{name}: mutation_prob")
        )
        self.eta_crossover = check_number(eta_crossover, f"{name}: eta_crossover", low=0.0)
        self.eta_mutation = check_number(eta_mutation, f"{name}: eta_mutation", low=0.0)
        self.seed = check_seed(seed, name)
        self._memo = HistoryMemo()
        self._design = SobolDesign(self.population_size)

    def __repr__(self) -> str:
        texts = [c.text for c in self.outcome_constraints]
        return (
            f"NSGA2Sampler(population_size={self.population_size}, "
            f"outcome_constraints={texts}, seed={self.seed})"
        )

    def for_study(self, seed: int | None) -> NSGA2Sampler:
        bound = seeded_copy(self, seed)
        if bound is not self:
            bound._memo = HistoryMemo()
            bound._design = SobolDesign(self.population_size)
        return bound

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        # time savers only: not worth sending to a worker
        state["_memo"] = HistoryMemo()
        state["_design"] = SobolDesign(self.population_size)
        return state

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
        dirs = tuple(Direction.parse(d, "directions") for d in directions)
        position = design_position(history, pending)
        scramble = 0 if self.seed is None else self.seed
        records, F, violation, dom, tried = self._memo.update(
            history, dirs, self.outcome_constraints
        )
        if position < self.population_size or len(records) < 2:
            return self._design.configs(space, scramble, position, n)
        rng = np.random.default_rng(suggestion_seed(seed, self.seed, position))
        rank, crowd = rank_and_crowding(
            F, violation, self.population_size, dom=dom, beaten=self._memo.beaten
        )
        pool = survivors(rank, crowd, self.population_size)
        known = {config_key(r.params) for r in pending}
        out = []
        for _ in range(n):
            child = self._child(space, records, pool, rank, crowd, (tried, known), rng)
            known.add(config_key(child))
            out.append(child)
        return out

    def _child(
        self,
        space: SearchSpace,
        records: list[TrialRecord],
        pool: np.ndarray,
        rank: np.ndarray,
        crowd: np.ndarray,
        known: tuple[set[Any], set[Any]],
        rng: np.random.Generator,
    ) -> dict[str, Any]:
        prob = self.mutation_prob if self.mutation_prob is not None else 1.0 / max(len(space), 1)
        for _ in range(_TRIES):
            a = records[tournament(pool, rank, crowd, rng)].params
            b = records[tournament(pool, rank, crowd, rng)].params
            if rng.random() < self.crossover_prob:
                child = crossover(
                    space, a, b, eta=self.eta_crossover, swap_prob=self.swap_prob, rng=rng
                )
            else:
                child = dict(a)
            child = mutate(space, child, prob=prob, eta=self.eta_mutation, rng=rng)
            if space.rules:
                child = space.apply_rules(child)
            key = config_key(child)
            if space.is_feasible(child) and not any(key in k for k in known):
                return space.validate(child)
        return space.sample(1, rng)[0]


def _probability(value: float, field: str) -> float:
    v = check_number(value, field, low=0.0, hint="a probability in [0, 1]")
    if v > 1:
        raise ConfigError(f"{field} is a probability and must be in [0, 1], got {value!r}")
    return v
