"""`Fidelity`: automatic multi-fidelity BO, `fit(..., fidelity=Fidelity(...))`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lightning_autotune._subset import check_fraction
from lightning_autotune.exceptions import ConfigError
from lightning_autotune.objective import FIDELITY_PARAMS
from lightning_autotune.samplers import MultiFidelitySampler, Sampler
from lightning_autotune.space import Float, Int, SearchSpace
from lightning_autotune.study import Study
from lightning_autotune.trial import TrialRecord, TrialState

__all__ = ["Fidelity", "best_at_target"]


@dataclass(frozen=True)
class Fidelity:
    """The fidelity a multi-fidelity sampler proposes with each configuration.

    Args:
        name: 'data_fraction' (a class-stratified share of the training data), 'max_epochs'
            (the Trainer's epochs), or the name of a numeric parameter of the space that
            `build` reads (its upper bound is the target fidelity).
        low: The lowest fidelity: a fraction in (0, 1) for 'data_fraction', epochs >= 1 for
            'max_epochs' (ignored for a parameter of the space, whose range says it).
        fixed_cost: `MultiFidelitySampler`'s fixed cost of a trial, as a share of a
            target-fidelity trial.

    Example:
        >>> Fidelity("data_fraction", low=0.1).name
        'data_fraction'
    """

    name: str
    low: float | None = None
    fixed_cost: float = 0.05

    def objective_param(self) -> str | None:
        """The name `LightningObjective(fidelity=...)` takes (None: a parameter `build` reads)."""
        return self.name if self.name in FIDELITY_PARAMS else None

    def apply(
        self,
        space: SearchSpace | Mapping[str, Any],
        sampler: Sampler | None,
        final_epochs: int,
        seed: int | None,
    ) -> tuple[SearchSpace, Sampler]:
        """The space with the fidelity parameter, and the sampler that proposes it.

        Raises:
            ConfigError: A bad `low`, a reserved name already in the space, a missing
                parameter, or a sampler that is not a `MultiFidelitySampler`.
        """
        space = space if isinstance(space, SearchSpace) else SearchSpace.from_dict(space)
        if sampler is not None and not isinstance(sampler, MultiFidelitySampler):
            raise ConfigError(
                f"fidelity=... needs sampler=None or a MultiFidelitySampler, got {sampler!r}; "
                "the fidelity is proposed by the multi-fidelity model"
            )
        params = dict(space.items())
        if self.name == "data_fraction":
            low = check_fraction(self.low, "Fidelity('data_fraction'): low")
            if low >= 1.0:
                raise ConfigError(
                    f"Fidelity('data_fraction'): low must be below 1 (the target), got {low}"
                )
            params[self.name] = Float(low, 1.0)
        elif self.name == "max_epochs":
            low_e = self.low
            if (
                not isinstance(low_e, int)
                or isinstance(low_e, bool)
                or not 1 <= low_e < final_epochs
            ):
                raise ConfigError(
                    f"Fidelity('max_epochs'): low must be a whole number in [1, {final_epochs}) "
                    f"(the target is trainer_kwargs' max_epochs={final_epochs}), got {low_e!r}"
                )
            params[self.name] = Int(low_e, final_epochs)
        elif self.name not in space:
            raise ConfigError(
                f"Fidelity: {self.name!r} is neither 'data_fraction', 'max_epochs' nor a "
                f"parameter of the space {list(space.names)}; add it to the space"
            )
        if self.name in FIDELITY_PARAMS and self.name in space:
            raise ConfigError(
                f"Fidelity({self.name!r}): the space already has a parameter {self.name!r}; "
                "rename yours, or let the fidelity define it"
            )
        new = SearchSpace(params, constraints=space.constraints, rules=space.rules)
        return new, sampler or MultiFidelitySampler(
            self.name, fixed_cost=self.fixed_cost, seed=seed
        )


def best_at_target(study: Study, fidelity: str) -> TrialRecord:
    """The best COMPLETE trial run at the target fidelity (the upper bound of `fidelity`).

    A multi-fidelity study's `best_trial` may be a cheap trial whose value is not comparable
    with full-fidelity ones; this is the configuration to use.

    Raises:
        ConfigError: `fidelity` is not a numeric parameter of the study, or no trial ran at the
            target fidelity yet.
    """
    p = study.space.get(fidelity)
    if not isinstance(p, (Float, Int)):
        raise ConfigError(
            f"best_at_target: {fidelity!r} is not a numeric parameter of study {study.name!r} "
            f"(its parameters: {list(study.space.names)})"
        )
    done = [
        t
        for t in study.get_trials([TrialState.COMPLETE])
        if t.params.get(fidelity) == p.high and t.scores(study.directions) is not None
    ]
    if not done:
        raise ConfigError(
            f"best_at_target: no trial of study {study.name!r} completed at the target "
            f"{fidelity}={p.high}; run more trials"
        )
    return min(done, key=lambda t: (t.scores(study.directions) or (float("inf"),))[0])
