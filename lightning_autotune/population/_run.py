"""Run a population through the study's own loop: members are trials, exploit happens in-run."""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lightning_autotune.exceptions import ConfigError
from lightning_autotune.population._callback import PopulationMember
from lightning_autotune.population._config import PopulationBasedTraining

if TYPE_CHECKING:
    from lightning_autotune.objective import LightningObjective
    from lightning_autotune.study import Executor, Study

__all__ = ["MemberCallbacks", "check_population", "population_for", "run_population"]


@dataclass(frozen=True)
class MemberCallbacks:
    """The callbacks of one member: `PopulationMember` plus the user's (picklable).

    Attributes:
        config: The population's settings.
        root: Folder of the boundary checkpoints.
        extra: The user's `callbacks(params)`, if any.
    """

    config: PopulationBasedTraining
    root: str
    extra: Callable[[dict[str, Any]], Sequence[Any]] | None = None

    def __call__(self, params: dict[str, Any]) -> list[Any]:
        user = list(self.extra(dict(params))) if self.extra is not None else []
        return [PopulationMember(self.config, self.root), *user]


def check_population(population: Any, field: str = "population") -> PopulationBasedTraining:
    """Return `population` if it is a `PopulationBasedTraining` (or `PB2`).

    Raises:
        ConfigError: Anything else.
    """
    if not isinstance(population, PopulationBasedTraining):
        raise ConfigError(
            f"{field} must be a PopulationBasedTraining or PB2, got {population!r}; write e.g. "
            f"{field}=PopulationBasedTraining(population_size=4, interval=2)"
        )
    return population


def population_for(
    method: str, population: Any, seed: int | None
) -> tuple[PopulationBasedTraining | None, str]:
    """The population `HyperTuner.set_search_strategy(method, population=...)` asks for.

    Returns:
        For a population method: `population` (default for 'population' / 'pbt':
        `PopulationBasedTraining`, for 'pb2': `PB2`) and 'random', the sampler of the first
        members; for any other method: None and `method`.

    Raises:
        ConfigError: `population` given with another method, or not a population.
    """
    from lightning_autotune.population._config import PB2

    key = str(method).strip().lower()
    if key not in ("population", "pbt", "pb2"):
        if population is not None:
            raise ConfigError(
                f"set_search_strategy: population= is for method='population', 'pbt' or "
                f"'pb2', not method={method!r}; drop it or pick a population method"
            )
        return None, method
    if population is not None:
        return check_population(population), "random"
    return (PB2(seed=seed) if key == "pb2" else PopulationBasedTraining(seed=seed)), "random"


def run_population(
    study: Study,
    objective: LightningObjective,
    config: PopulationBasedTraining,
    *,
    checkpoint_dir: str | Path,
    n_workers: int = 1,
    executor: Executor | None = None,
    max_retries: int = 1,
    failure_threshold: float | tuple[float, int] | None = None,
    timeout: float | None = None,
    progress: bool | Any = True,
    keep_checkpoints: bool = False,
    heartbeat_grace: float = 60.0,
) -> Study:
    """Train `config.population_size` members of `study` with exploit / explore between them.

    Each member is one trial run by `study.optimize` (so executors, heartbeats, retries and
    the store work as for any trial); its `PopulationMember` callback does the rest. Boundary
    checkpoints go to `checkpoint_dir/<study>/population/`, per-epoch resume checkpoints to
    `checkpoint_dir/<study>/trial_<n>/`; the boundary ones are deleted at the end unless
    `keep_checkpoints`. Run again after a crash: members that finished stay, the interrupted
    ones resume from their last epoch. `heartbeat_grace` is `Study.optimize`'s: raise it where
    a member's process takes long to start (a loaded machine, a cold Ray worker).

    Returns:
        The study.
    """
    config.mutable_names(study.space)  # fail before any member starts
    if executor is None and n_workers == 1:
        if getattr(study.storage, "url", None):
            n_workers = config.population_size  # members share the machine, in step
        else:
            warnings.warn(
                "population: with an in-memory store the members run one after another, so "
                "each copies only from members that already passed its boundary; give a URL "
                "store (e.g. 'sqlite:///autotune.db') to train them side by side",
                UserWarning,
                stacklevel=3,
            )
    root = Path(checkpoint_dir) / study.name / "population"
    study.storage.set_study_attr(study.study_id, "population", config.describe())
    member_objective = replace(
        objective,
        callbacks=MemberCallbacks(config, str(root), objective.callbacks),
        checkpoint_dir=str(checkpoint_dir),
    )
    study.optimize(
        member_objective,
        max_trials=config.population_size,
        timeout=timeout,
        n_workers=n_workers,
        executor=executor,
        max_retries=max_retries,
        failure_threshold=failure_threshold,
        progress=progress,
        heartbeat_grace=heartbeat_grace,
    )
    if not keep_checkpoints:
        shutil.rmtree(root, ignore_errors=True)
    return study
