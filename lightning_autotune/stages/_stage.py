"""`Stage`: one step of a staged search, as data (budget, fidelity, how it narrows the next)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lightning_autotune._subset import check_fraction
from lightning_autotune._time import parse_duration
from lightning_autotune.exceptions import ConfigError
from lightning_autotune.registry import SAMPLERS
from lightning_autotune.samplers import Sampler

__all__ = ["DEFAULT_SCREEN_THRESHOLD", "Narrowing", "Stage", "check_stages"]

DEFAULT_SCREEN_THRESHOLD = 0.05
"""A screened parameter whose share of the total one-at-a-time effect is below this is fixed at
its best value for the later stages."""


@dataclass(frozen=True)
class Narrowing:
    """How a stage narrows the search space of the next one.

    The next ranges are the smallest box holding the best configurations (on the log scale for
    log parameters), widened on each side by `margin` times the parameter's full range, and
    clipped to the user's ranges; categorical choices are those the best configurations make.
    Conditional parameters keep their ranges.

    Args:
        top_k: The best `top_k` completed trials define the box.
        quantile: Instead of `top_k`: the best `quantile` share of completed trials (e.g. 0.25).
        margin: Widening on each side, as a share of the user's range (on its scale).

    Example:
        >>> Narrowing(top_k=3, margin=0.1).top_k
        3
    """

    top_k: int | None = 5
    quantile: float | None = None
    margin: float = 0.1

    def __post_init__(self) -> None:
        if self.quantile is not None:
            object.__setattr__(self, "top_k", None)
            if not (0.0 < self.quantile <= 1.0):
                raise ConfigError(
                    f"Narrowing: quantile must be in (0, 1], got {self.quantile!r}; e.g. 0.25 "
                    "keeps the best quarter of the trials"
                )
        elif not isinstance(self.top_k, int) or isinstance(self.top_k, bool) or self.top_k < 1:
            raise ConfigError(
                f"Narrowing: top_k must be a whole number >= 1, got {self.top_k!r}; an empty "
                "set of best trials would leave the next stage no space to search"
            )
        if not (math.isfinite(self.margin) and 0.0 <= self.margin <= 1.0):
            raise ConfigError(
                f"Narrowing: margin must be in [0, 1] (a share of each range), got "
                f"{self.margin!r}; e.g. 0.1"
            )

    def how_many(self, n_completed: int) -> int:
        """How many of `n_completed` best trials define the box (at least one)."""
        if self.quantile is not None:
            return max(1, math.ceil(self.quantile * n_completed))
        return min(int(self.top_k or 1), n_completed)


@dataclass(frozen=True)
class Stage:
    """One stage of a staged search: its budget, its fidelity, and how it narrows the next.

    Args:
        trials: Trials the stage runs (for a screening stage: ignored, the perturbations count).
        time_budget: Seconds or 'HH:MM:SS' the stage may run (with or without `trials`).
        data_fraction: Share of the training data, in (0, 1]: a fixed class-stratified subset.
        max_epochs: The Trainer's epochs in this stage (None: the objective's own).
        params: User-defined fidelities: params of the space fixed at a value in this stage
            (e.g. `{'image_size': 64}`), which `build` reads like any other param.
        narrow: How this stage narrows the next stage's space (None: not at all).
        screen: A screening stage: one-at-a-time perturbations around the middle of the space
            rank the parameters, and those whose share of the total effect is below
            `threshold` are fixed at their best value in the later stages (the most
            important one never is).
        points: Values per numeric parameter in a screening stage (the base included).
        threshold: See `screen` (`DEFAULT_SCREEN_THRESHOLD`).
        promote: The best configurations of the previous stage that this stage runs first
            (those inside its space), so a good configuration is confirmed at the new fidelity.
        sampler: This stage's sampler (None: the plan's), a `Sampler` or a name of
            `registry.SAMPLERS`. 'multifidelity' (or a `MultiFidelitySampler`) models this
            stage's trials and every earlier stage's in one multi-fidelity GP, each trial at
            its stage's data fraction and share of the final epochs (docs/stages.md).

    Example:
        >>> plan = [Stage(screen=True, data_fraction=0.25, max_epochs=2),
        ...         Stage(trials=20, data_fraction=0.25, max_epochs=3),
        ...         Stage(trials=10)]
    """

    trials: int | None = None
    time_budget: float | str | None = None
    data_fraction: float = 1.0
    max_epochs: int | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    narrow: Narrowing | None = field(default_factory=Narrowing)
    screen: bool = False
    points: int = 3
    threshold: float = DEFAULT_SCREEN_THRESHOLD
    promote: int = 2
    sampler: Sampler | str | None = None

    def seconds(self) -> float | None:
        """`time_budget` in seconds."""
        return parse_duration(self.time_budget, "Stage: time_budget")

    def fidelity(self) -> dict[str, Any]:
        """The stage's fidelity as JSON: data fraction, max epochs and fixed params."""
        return {
            "data_fraction": self.data_fraction,
            "max_epochs": self.max_epochs,
            "params": dict(self.params),
        }


def check_stages(stages: Sequence[Stage], names: Sequence[str], final_epochs: int) -> None:
    """Refuse a plan that cannot run, before any trial.

    Args:
        stages: The plan.
        names: The search space's parameter names.
        final_epochs: The epochs of a trial without a stage's `max_epochs`.

    Raises:
        ConfigError: Naming the stage (from 1), the field, the value and the fix.
    """
    if isinstance(stages, Stage) or not stages:
        raise ConfigError(
            f"stages must be a non-empty list of Stage, got {stages!r}; e.g. "
            "[Stage(trials=20, data_fraction=0.25), Stage(trials=10)]"
        )
    last = stages[-1].max_epochs or final_epochs
    for i, stage in enumerate(stages, start=1):
        where = f"stage {i}"
        if not isinstance(stage, Stage):
            raise ConfigError(f"{where}: expected a Stage, got {stage!r}")
        check_fraction(stage.data_fraction, f"{where}: data_fraction")
        if stage.max_epochs is not None and (
            not isinstance(stage.max_epochs, int) or stage.max_epochs < 1
        ):
            raise ConfigError(
                f"{where}: max_epochs must be a whole number >= 1, got {stage.max_epochs!r}"
            )
        if (stage.max_epochs or final_epochs) > last:
            raise ConfigError(
                f"{where}: max_epochs={stage.max_epochs or final_epochs} is above the final "
                f"stage's {last}; an earlier stage is a cheaper fidelity: lower its max_epochs "
                "or raise the final stage's"
            )
        if not stage.screen and stage.trials is None and stage.time_budget is None:
            raise ConfigError(
                f"{where}: give trials or time_budget (or both), got neither; e.g. Stage(trials=20)"
            )
        if stage.trials is not None and (not isinstance(stage.trials, int) or stage.trials < 1):
            raise ConfigError(f"{where}: trials must be a whole number >= 1, got {stage.trials!r}")
        stage.seconds()
        unknown = sorted(set(stage.params) - set(names))
        if unknown:
            raise ConfigError(
                f"{where}: params {unknown} are not in the search space {list(names)}; a "
                "user-defined fidelity must be a parameter of the space"
            )
        if stage.screen and (not isinstance(stage.points, int) or stage.points < 2):
            raise ConfigError(f"{where}: points must be a whole number >= 2, got {stage.points!r}")
        if stage.screen and not (0.0 <= stage.threshold < 1.0):
            raise ConfigError(
                f"{where}: threshold must be in [0, 1) (a share of the total effect), got "
                f"{stage.threshold!r}; e.g. {DEFAULT_SCREEN_THRESHOLD}"
            )
        name = stage.sampler
        if not (name is None or isinstance(name, Sampler) or _known_sampler(name)):
            raise ConfigError(
                f"{where}: sampler must be a Sampler or one of {sorted(SAMPLERS)}, got "
                f"{name!r}; e.g. 'multifidelity' to model the earlier stages too"
            )
        if not isinstance(stage.promote, int) or stage.promote < 0:
            raise ConfigError(
                f"{where}: promote must be a whole number >= 0, got {stage.promote!r}"
            )


def _known_sampler(name: Any) -> bool:
    return isinstance(name, str) and name.lower().replace("-", "_") in SAMPLERS
