"""`PopulationMember`: the Lightning callback that makes one trial a member of a population."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np

from lightning_autotune._lineage import (
    ATTR,
    BoundaryResult,
    CopyReason,
    Lineage,
    Segment,
    lineages,
)
from lightning_autotune.callbacks import AutoTuneCallback
from lightning_autotune.callbacks._batch_size import require_batch_size_attr
from lightning_autotune.exceptions import ConfigError
from lightning_autotune.population._apply import apply_params, load_member, save_member
from lightning_autotune.population._config import PopulationBasedTraining, short_name
from lightning_autotune.population._pb2_data import HISTORY_ATTR, IntervalRecord, interval_history
from lightning_autotune.population._policy import Exploit, decide, quantile_cut, ranked
from lightning_autotune.trial import FailureKind, TrialState

__all__ = ["PopulationMember"]


class PopulationMember(pl.Callback):
    """Reports a member at every interval boundary and applies exploit / explore in place.

    At the end of each `interval`-th epoch's validation the member saves its weights and
    optimizer state, records its result and lineage in its trial (user attribute
    `population`), waits for running members that are behind (up to `sync_timeout`), and asks
    `population.decide` whether to copy a top member. A copy loads that member's checkpoint
    into the running module and optimizers and sets the new hyperparameters with
    `apply_params`. A member whose loss turns NaN copies at once (reason DIVERGED) instead of
    ending. It needs the trial's `AutoTuneCallback` in the same Trainer.

    Args:
        config: The population's settings.
        root: Folder of the members' boundary checkpoints.
    """

    def __init__(self, config: PopulationBasedTraining, root: str | Path) -> None:
        self.config = config
        self.root = Path(root)
        self.lineage: Lineage | None = None
        self.history: tuple[IntervalRecord, ...] = ()
        self._start: float | None = None  # objective of the weights the interval started from
        self._reporter: AutoTuneCallback | None = None

    @property
    def state_key(self) -> str:
        return "PopulationMember"

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        reporters = [
            cb for cb in getattr(trainer, "callbacks", ()) if isinstance(cb, AutoTuneCallback)
        ]
        if not reporters:
            raise ConfigError(
                "PopulationMember needs the trial's AutoTuneCallback in the same Trainer; run "
                "members through fit(..., population=...) or HyperTuner(method='population')"
            )
        self._reporter = reporters[0]
        trial = self._reporter.trial
        self._check_in_run_changes(trainer, pl_module, trial.study.space)
        if self.lineage is None:
            record = trial.snapshot()
            member = trial.number
            if record.retry_of is not None:
                earlier = trial.study.storage.get_trial(_trial_id(trial, record.retry_of))
                if ATTR in earlier.user_attrs:
                    member = Lineage.decode(earlier.user_attrs[ATTR]).member
            self.lineage = Lineage(member, (Segment(0, dict(trial.params)),))

    def _check_in_run_changes(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, space: Any
    ) -> None:
        """Fail early on a model whose batch size or optimizer cannot change in place."""
        names = {short_name(n) for n in self.config.mutable_names(space)}
        if "batch_size" in names:
            require_batch_size_attr(pl_module, "batch_size", "PopulationMember (batch_size)")
            every = getattr(trainer, "reload_dataloaders_every_n_epochs", 0)
            if not every:  # the train loader must be rebuilt for a new batch size to count
                trainer.reload_dataloaders_every_n_epochs = 1  # type: ignore[attr-defined]
            elif self.config.interval % every:
                raise ConfigError(
                    f"PopulationMember: the batch size may change every interval="
                    f"{self.config.interval} epochs, but reload_dataloaders_every_n_epochs="
                    f"{every} rebuilds the loaders only every {every}; pass "
                    "Trainer(reload_dataloaders_every_n_epochs=1)"
                )
        if "optimizer" in names and not pl_module.automatic_optimization:
            raise ConfigError(
                "PopulationMember: the space's optimizer can be switched with automatic "
                "optimization only, but the model sets automatic_optimization=False; drop "
                "optimizer from the space or use automatic optimization"
            )

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        assert self.lineage is not None
        apply_params(trainer, pl_module, self._mutable(self.lineage.params))
        self._record()

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, *_: Any
    ) -> None:
        self._rescue_divergence(trainer, pl_module)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or self._reporter is None or self.lineage is None:
            return
        epoch = trainer.current_epoch
        if (epoch + 1) % self.config.interval != 0:
            self._rescue_divergence(trainer, pl_module)
            return
        boundary = (epoch + 1) // self.config.interval
        raw = self._reporter.last_value
        value = math.nan if raw is None else self._trial.study.direction.sign * raw
        last = trainer.max_epochs is not None and epoch + 1 >= trainer.max_epochs
        path = None
        if not last and math.isfinite(value):
            path = self.root / f"member_{self.lineage.member}" / f"boundary_{boundary}.pt"
            save_member(trainer, pl_module, path)
        if self._start is not None:
            done = IntervalRecord(boundary, dict(self.lineage.params), self._start, value)
            self.history = (*self.history, done)
        self._start = value
        self.lineage = self.lineage.with_result(BoundaryResult(boundary, value, _str(path)))
        self._record()
        if last:
            return
        self._wait_for_peers(boundary)
        records = self._trial.study.storage.get_trials(self._trial.study.study_id)
        population, history = lineages(records), interval_history(records)
        rng = np.random.default_rng([self.config.seed or 0, self.lineage.member, boundary])
        choice = decide(self.config, self._space, self.lineage, population, boundary, rng, history)
        if choice is not None:
            self._copy(trainer, pl_module, choice, population, epoch + 1)
            donor = population[choice.parent].result_at(choice.boundary)
            self._start = None if donor is None else donor.value
            if self._reporter.pruned:
                self._unprune(trainer)
        self._clean(population, boundary)

    def _rescue_divergence(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Replace a member whose loss turned NaN by a copy of the best member's last save."""
        reporter = self._reporter
        if reporter is None or not reporter.pruned or self.lineage is None:
            return
        if self._trial.prune_kind is not FailureKind.DIVERGED:
            return
        records = self._trial.study.storage.get_trials(self._trial.study.study_id)
        population, history = lineages(records), interval_history(records)
        for boundary in sorted({r.boundary for lin in population.values() for r in lin.results})[
            ::-1
        ]:
            for value, member in ranked(population, boundary):
                result = population[member].result_at(boundary)
                if member == self.lineage.member or not math.isfinite(value) or result is None:
                    continue
                if result.checkpoint is None or not Path(result.checkpoint).is_file():
                    continue
                rng = np.random.default_rng([self.config.seed or 0, self.lineage.member, boundary])
                params = self.config.explore(
                    self._space,
                    population[member].params,
                    population,
                    boundary,
                    rng,
                    member=self.lineage.member,
                    history=history,
                )
                choice = Exploit(member, result.checkpoint, boundary, params, CopyReason.DIVERGED)
                self._copy(trainer, pl_module, choice, population, trainer.current_epoch + 1)
                self._start = None  # mid-interval: the weights it goes on from were never scored
                self._unprune(trainer)
                return

    def _copy(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        choice: Exploit,
        population: dict[int, Lineage],
        next_epoch: int,
    ) -> None:
        assert self.lineage is not None
        load_member(trainer, pl_module, choice.checkpoint)
        apply_params(trainer, pl_module, self._mutable(choice.params))
        parent = population[choice.parent]
        inherited = parent.schedule_until(choice.boundary * self.config.interval)
        segment = Segment(next_epoch, choice.params, choice.parent, choice.reason)
        own = self.lineage.result_at(choice.boundary)
        if own is not None and own.checkpoint is not None:  # a bottom member's save is no donor
            Path(own.checkpoint).unlink(missing_ok=True)
            self.lineage = self.lineage.with_result(BoundaryResult(own.boundary, own.value))
        self.lineage = Lineage(
            member=self.lineage.member,
            segments=(*inherited, segment),
            results=self.lineage.results,
            copies=(*self.lineage.copies, (choice.boundary, choice.parent, choice.reason)),
        )
        self._record()

    def _unprune(self, trainer: pl.Trainer) -> None:
        assert self._reporter is not None
        self._reporter.pruned = False
        self._trial.prune_reason = None
        self._trial.prune_kind = None
        trainer.should_stop = False

    def _clean(self, population: dict[int, Lineage], boundary: int) -> None:
        """Delete this member's save at the previous boundary unless it ranked top there."""
        assert self.lineage is not None
        before = self.lineage.result_at(boundary - 1)
        if before is None or before.checkpoint is None:
            return
        order = ranked({**population, self.lineage.member: self.lineage}, boundary - 1)
        cut = quantile_cut(self.config.quantile, len(order))
        if self.lineage.member in {m for _, m in order[:cut]}:
            return
        Path(before.checkpoint).unlink(missing_ok=True)
        self.lineage = self.lineage.with_result(BoundaryResult(before.boundary, before.value))
        self._record()

    def _wait_for_peers(self, boundary: int) -> None:
        """Wait until every running member reached `boundary` (or `sync_timeout` passed)."""
        study = self._trial.study
        end = time.monotonic() + self.config.sync_timeout
        while time.monotonic() < end:
            behind = [
                t
                for t in study.storage.get_trials(study.study_id)
                if t.state is TrialState.RUNNING
                and t.number != self._trial.number
                and (  # a member still starting has no lineage yet: it is behind too
                    ATTR not in t.user_attrs
                    or Lineage.decode(t.user_attrs[ATTR]).result_at(boundary) is None
                )
            ]
            if not behind:
                return
            self._trial.heartbeat()
            time.sleep(0.2)

    def _record(self) -> None:
        assert self.lineage is not None
        self._trial.set_user_attr(ATTR, self.lineage.encode())
        self._trial.set_user_attr(HISTORY_ATTR, [r.encode() for r in self.history])

    def _mutable(self, params: Any) -> dict[str, Any]:
        names = self.config.mutable_names(self._space)
        return {short_name(k): v for k, v in dict(params).items() if k in names}

    @property
    def _trial(self) -> Any:
        assert self._reporter is not None
        return self._reporter.trial

    @property
    def _space(self) -> Any:
        return self._trial.study.space

    def state_dict(self) -> dict[str, Any]:
        return {
            "lineage": None if self.lineage is None else self.lineage.encode(),
            "history": [r.encode() for r in self.history],
            "start": self._start,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        data = state_dict.get("lineage")
        self.lineage = None if data is None else Lineage.decode(data)
        self.history = tuple(IntervalRecord.decode(r) for r in state_dict.get("history", ()))
        self._start = state_dict.get("start")


def _trial_id(trial: Any, number: int) -> Any:
    for record in trial.study.storage.get_trials(trial.study.study_id):
        if record.number == number:
            return record.trial_id
    raise KeyError(number)


def _str(path: Path | None) -> str | None:
    return None if path is None else str(path)
