"""`replay`: the schedule of one member as callbacks for a single fresh run."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import lightning.pytorch as pl

from lightning_autotune._lineage import Lineage, Segment, lineages
from lightning_autotune.callbacks._batch_size import require_batch_size_attr, set_batch_size
from lightning_autotune.exceptions import ConfigError
from lightning_autotune.population._apply import apply_params
from lightning_autotune.population._config import MUTABLE, short_name

__all__ = ["PopulationSchedule", "best_member", "replay"]


class PopulationSchedule(pl.Callback):
    """Applies a member's hyperparameter schedule at the start of each segment's first epoch.

    A segment's batch size is set when the epoch before it ends, so the train loader rebuilt
    for the segment uses it (the Trainer is made to rebuild loaders every epoch); a segment's
    optimizer is installed at its first epoch's start, as the member switched it.

    Args:
        segments: The schedule (`Lineage.segments`), by start epoch.

    Attributes:
        initial_params: The first segment's params: build the model with these.
    """

    def __init__(self, segments: Sequence[Segment]) -> None:
        if not segments:
            raise ConfigError("PopulationSchedule needs at least one segment")
        self.segments = tuple(sorted(segments, key=lambda s: s.start_epoch))
        self.initial_params = dict(self.segments[0].params)

    def params_at(self, epoch: int) -> dict[str, Any]:
        """The hyperparameters in force during `epoch`."""
        current = self.segments[0].params
        for s in self.segments:
            if s.start_epoch <= epoch:
                current = s.params
        return dict(current)

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage != "fit" or not any("batch_size" in _mutable(s.params) for s in self.segments):
            return
        require_batch_size_attr(pl_module, "batch_size", "PopulationSchedule (batch_size)")
        if not getattr(trainer, "reload_dataloaders_every_n_epochs", 0):
            # a new batch size needs a new loader
            trainer.reload_dataloaders_every_n_epochs = 1  # type: ignore[attr-defined]

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._set_batch_size(pl_module, 0)

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        mutable = _mutable(self.params_at(trainer.current_epoch))
        mutable.pop("batch_size", None)  # set before this epoch's loader was built
        apply_params(trainer, pl_module, mutable)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._set_batch_size(pl_module, trainer.current_epoch + 1)

    def _set_batch_size(self, pl_module: pl.LightningModule, epoch: int) -> None:
        size = _mutable(self.params_at(epoch)).get("batch_size")
        if size is not None:
            set_batch_size(pl_module, int(size))


def _mutable(params: Mapping[str, Any]) -> dict[str, Any]:
    return {short_name(k): v for k, v in params.items() if short_name(k) in MUTABLE}


def best_member(study: Any) -> Lineage:
    """The lineage of the member with the best final result.

    Raises:
        ConfigError: The study holds no population member with a result.
    """
    population = lineages(study.trials)
    scored = [
        (lin.results[-1].value, m)
        for m, lin in population.items()
        if lin.results and math.isfinite(lin.results[-1].value)
    ]
    if not scored:
        raise ConfigError(
            f"study {study.name!r} holds no population member with a finite result; run "
            "fit(..., population=PopulationBasedTraining(...)) first"
        )
    last = max(len(population[m].results) for _, m in scored)
    finished = [(v, m) for v, m in scored if len(population[m].results) == last]
    return population[min(finished)[1]]


def replay(study: Any, member: int | None = None) -> list[pl.Callback]:
    """Callbacks that rerun one member's whole hyperparameter schedule in one fresh run.

    Build the model with `callbacks[0].initial_params` and train with these callbacks for the
    same number of epochs: each segment's hyperparameters are set at its start epoch.

    Args:
        study: A study run with a population.
        member: The member's id (None: the best member at the last boundary).

    Raises:
        ConfigError: No such member.

    Example:
        >>> # callbacks = replay(study); Trainer(callbacks=callbacks, max_epochs=...)
    """
    if member is None:
        lineage = best_member(study)
    else:
        population = lineages(study.trials)
        if member not in population:
            raise ConfigError(
                f"replay: member={member} is not a member of study {study.name!r}; its members "
                f"are {sorted(population)}"
            )
        lineage = population[member]
    return [PopulationSchedule(lineage.segments)]
