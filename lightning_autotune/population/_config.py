"""`PopulationBasedTraining` and `PB2`: what a population study is, and its explore step."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from lightning_autotune._lineage import Lineage
from lightning_autotune._validation import check_int, check_number
from lightning_autotune.exceptions import ConfigError
from lightning_autotune.space import Float, Int, SearchSpace

if TYPE_CHECKING:
    from lightning_autotune.population._pb2_data import IntervalRecord

__all__ = ["MUTABLE", "PB2", "PopulationBasedTraining", "short_name"]

MUTABLE = (
    "lr",
    "learning_rate",
    "momentum",
    "weight_decay",
    "dropout",
    "gradient_clip_val",
    "batch_size",
    "optimizer",
)
"""Space names a population changes inside the running Trainer (see `population.apply_params`).

`batch_size` needs the model (or datamodule) to hold `batch_size` and build its train loader
from it; `optimizer` is a categorical of optimizer names ('adam', 'sgd', ...).

Every other name of the space is fixed for a member's whole life: members only copy members
with the same fixed values, so the copied weights fit the model. A dotted name (a sweep's
`model.lr`) counts by its last part.
"""


def short_name(name: str) -> str:
    """The part of a (dotted) space name that `MUTABLE` lists: 'model.init_args.lr' -> 'lr'."""
    return name.rsplit(".", 1)[-1]


@dataclass(frozen=True)
class PopulationBasedTraining:
    """Population Based Training (Jaderberg et al. 2017) as a study mode.

    `population_size` members (trials) train at once. After every `interval` epochs a member
    ranked in the bottom `quantile` (`ceil(quantile * n)` of the `n` members ranked, at most
    `n // 2`, as Ray Tune rounds) loads the weights and optimizer state a top-`quantile`
    member saved at that boundary (exploit) and changes the mutable hyperparameters (explore):
    each is resampled from the space with probability `resample_prob`, else multiplied by one
    of `perturbation` and clipped to its range (an integer such as `batch_size` is rounded;
    choice parameters such as `optimizer` are resampled, so explore may switch optimizer).

    Args:
        population_size: Members (>= 2).
        interval: Epochs between two boundaries (>= 1).
        quantile: Share of the population that copies and is copied, in (0, 0.5].
        perturbation: Factors an explored value is multiplied by (each > 0).
        resample_prob: Probability of drawing a value afresh instead, in [0, 1].
        seed: Seeds the explore decisions, with the member and the boundary (None: 0).
        sync_timeout: Seconds a member waits at a boundary for running members still behind it.

    Raises:
        ConfigError: A bad argument.

    Example:
        >>> PopulationBasedTraining(population_size=4, interval=2).quantile
        0.25
    """

    population_size: int = 4
    interval: int = 1
    quantile: float = 0.25
    perturbation: tuple[float, ...] = (0.8, 1.2)
    resample_prob: float = 0.25
    seed: int | None = None
    sync_timeout: float = 600.0

    def __post_init__(self) -> None:
        name = type(self).__name__
        check_int(self.population_size, f"{name}.population_size", low=2, hint="a population")
        check_int(self.interval, f"{name}.interval", hint="epochs between two boundaries")
        check_number(
            self.quantile, f"{name}.quantile", low=0.0, high=0.5, strict_low=True,
            hint="the share of members that copy (0.25: the bottom quarter copies the top)",
        )  # fmt: skip
        factors = self.perturbation
        if (
            isinstance(factors, (str, bytes))
            or not isinstance(factors, Sequence)
            or not factors
            or any(isinstance(f, bool) or not isinstance(f, (int, float)) for f in factors)
            or any(not math.isfinite(f) or f <= 0 for f in factors)
        ):
            raise ConfigError(
                f"{name}.perturbation must be a non-empty list of factors > 0, got {factors!r}; "
                "write e.g. (0.8, 1.2)"
            )
        object.__setattr__(self, "perturbation", tuple(float(f) for f in factors))
        check_number(self.resample_prob, f"{name}.resample_prob", low=0.0, high=1.0)
        check_number(self.sync_timeout, f"{name}.sync_timeout", low=0.0)
        if self.seed is not None:
            check_int(self.seed, f"{name}.seed", low=0, hint="or None")

    def mutable_names(self, space: SearchSpace) -> tuple[str, ...]:
        """The names of `space` that explore changes.

        Raises:
            ConfigError: The space has none of `MUTABLE`.
        """
        names = tuple(n for n in space.names if short_name(n) in MUTABLE)
        if not names:
            raise ConfigError(
                f"{type(self).__name__}: the space has no parameter a population can change "
                f"while training (it has {list(space.names)}); add one of {list(MUTABLE)}"
            )
        return names

    def explore(
        self,
        space: SearchSpace,
        params: Mapping[str, Any],
        population: Mapping[int, Lineage],
        boundary: int,
        rng: np.random.Generator,
        *,
        member: int | None = None,
        history: Mapping[int, Sequence[IntervalRecord]] | None = None,
    ) -> dict[str, Any]:
        """New hyperparameters from a copied member's `params`: perturb or resample each.

        Args:
            space: The study's space.
            params: The copied member's hyperparameters.
            population: Every member's lineage (PB2 learns from it; PBT does not).
            boundary: The boundary being passed.
            rng: Source of randomness.
            member: The member that copies (PB2 treats the others as still training).
            history: Every member's own interval records (PB2's data; PBT ignores them).
        """
        fresh = space.sample(1, rng)[0]
        out = dict(params)
        for name in self.mutable_names(space):
            p = space[name]
            if not isinstance(p, (Float, Int)) or rng.random() < self.resample_prob:
                out[name] = fresh[name]
                continue
            value = float(params[name]) * float(rng.choice(self.perturbation))
            value = min(max(value, float(p.low)), float(p.high))
            out[name] = round(value) if isinstance(params[name], int) else value
        return out

    def describe(self) -> dict[str, Any]:
        """The settings, JSON-ready (kept as the study attribute `population`)."""
        return {
            "kind": type(self).__name__,
            "population_size": self.population_size,
            "interval": self.interval,
            "quantile": self.quantile,
            "perturbation": list(self.perturbation),
            "resample_prob": self.resample_prob,
        }


@dataclass(frozen=True)
class PB2(PopulationBasedTraining):
    """Population Based Bandits (Parker-Holder et al. 2020): PBT whose explore step is chosen.

    Exploit is PBT's. Explore fits a time-varying GP over (boundary, hyperparameters) ->
    improvement of the objective during the interval that ended at the boundary, across all
    members' history (the time kernel's forgetting parameter lets old intervals count less),
    conditions it on the hyperparameters of the other members, which train over the coming
    interval, and takes the hyperparameters with the highest upper confidence bound for that
    interval (`samplers.pb2_suggest`). With fewer than 3 improvements on record it falls back
    to PBT's perturbation.

    Args:
        beta: Weight of the bound `mean + sqrt(beta) * std` (> 0); None: the schedule
            `0.2 + max(0, log(0.4 n))` over the `n` improvements on record.
        n_candidates: Random candidates scored before the bound is refined by L-BFGS-B.

    Example:
        >>> PB2(population_size=4).beta is None
        True
    """

    beta: float | None = None
    n_candidates: int = 512

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.beta is not None:
            check_number(self.beta, "PB2.beta", low=0.0, strict_low=True, hint="or None")
        check_int(self.n_candidates, "PB2.n_candidates", low=8)

    def explore(
        self,
        space: SearchSpace,
        params: Mapping[str, Any],
        population: Mapping[int, Lineage],
        boundary: int,
        rng: np.random.Generator,
        *,
        member: int | None = None,
        history: Mapping[int, Sequence[IntervalRecord]] | None = None,
    ) -> dict[str, Any]:
        """The hyperparameters with the highest UCB of improvement (PBT's explore as fallback)."""
        from lightning_autotune.population._pb2_data import (
            encode,
            improvement_data,
            pending_params,
        )
        from lightning_autotune.samplers._pb2 import pb2_suggest

        names = self.mutable_names(space)
        X, y = improvement_data(space, names, population, self.interval, history)
        if len(y) >= 3:
            best = pb2_suggest(
                X,
                y,
                t_now=float(boundary + 1),  # the new values train until the next boundary
                pending=pending_params(space, names, population, member),
                beta=self.beta,
                n_candidates=self.n_candidates,
                seed=int(rng.integers(2**31)),
            )
            if best is not None:
                row = encode(space, params)
                row[[i for n in names for i in range(*space.column_span(n))]] = best
                decoded = space.decode(row[None, :])[0]
                return {**dict(params), **{n: decoded[n] for n in names}}
        return super().explore(
            space, params, population, boundary, rng, member=member, history=history
        )
