"""`AutoTuneCallback`: connects a Lightning run to its trial (reporting and pruning)."""

from __future__ import annotations

import math
from typing import Any

import lightning.pytorch as pl
import torch

from lightning_autotune.callbacks._efficiency import TrainClock, batch_size_of
from lightning_autotune.exceptions import AutotuneError, ConfigError, MetricNotFoundError
from lightning_autotune.metrics import SAMPLES_PER_SEC, SECONDS_PER_EPOCH, CompositeMetric
from lightning_autotune.trial import Direction, FailureKind, Trial

__all__ = ["AutoTuneCallback"]


class AutoTuneCallback(pl.Callback):
    """Reports every validation result to the trial and stops the run when the pruner says so.

    After each validation (sanity checks excluded; several per epoch with `val_check_interval`)
    the callback records the objective and every other scalar metric at the trainer's global
    step, then asks the study's pruner. On a prune it sets `trainer.should_stop` and keeps the
    reason in `trial.prune_reason`, so the trial ends PRUNED; it never raises to stop training.
    A NaN or infinite training loss (the `loss` a training step returns) stops the run at once,
    pruned with that reason.

    The objective is either one logged metric (`monitor='val_loss'`) or a `CompositeMetric`
    (always lower-is-better, so the study must minimize). The callback measures training
    efficiency itself and adds it to the reported metrics, where a composite can use it:
    `SAMPLES_PER_SEC` (samples trained per second of training time, validation excluded, summed
    over ranks) and `SECONDS_PER_EPOCH` (the current epoch's training time extrapolated to a full
    epoch). A metric the model logs under either name takes precedence. Lightning's
    `ThroughputMonitor` sends its figures to the loggers only, where callbacks cannot read them,
    so the callback does not depend on it.

    Under DDP every rank checks its metrics, an error on any rank is agreed on with
    `reduce_boolean_decision` and raised on every rank (no rank is left waiting), only rank 0
    talks to the store, and its decision and reason are broadcast to every rank.

    Args:
        trial: The trial this run belongs to (from `Study.ask()`).
        monitor: Name of the logged metric that is the objective, or a `CompositeMetric`.
        mode: 'min' or 'max'; must agree with the study's direction. None takes the study's.

    Raises:
        ConfigError: `mode` disagrees with the study's direction, or a `CompositeMetric` is
            used with a study that maximizes.
        MetricNotFoundError: At the first validation, if `monitor` (or a composite's term) was
            never logged (the message lists what was).
        AutotuneError: Another rank failed in this callback (that rank raises its own error).

    Example:
        >>> # trainer = Trainer(callbacks=[AutoTuneCallback(trial, monitor="val_loss")])
    """

    def __init__(
        self, trial: Trial, monitor: str | CompositeMetric = "val_loss", mode: str | None = None
    ) -> None:
        if not isinstance(monitor, CompositeMetric) and (
            not isinstance(monitor, str) or not monitor
        ):
            raise ConfigError(
                "monitor must be a metric name such as 'val_loss' or a CompositeMetric, "
                f"got {monitor!r}"
            )
        study_direction = trial.study.direction
        if isinstance(monitor, CompositeMetric) and study_direction is not Direction.MINIMIZE:
            raise ConfigError(
                f"monitor=CompositeMetric({monitor.name!r}) is lower-is-better but study "
                f"{trial.study.name!r} is to {study_direction.value}; create the study with "
                "direction='minimize'"
            )
        if mode is not None:
            direction = Direction.parse(mode, "mode")
            if direction is not study_direction:
                raise ConfigError(
                    f"mode={mode!r} disagrees with study {trial.study.name!r}, which is to "
                    f"{study_direction.value}; pass mode={study_direction.value[:3]!r} or create "
                    "the study with the matching direction"
                )
        self.trial = trial
        self.monitor = monitor
        self.last_value: float | None = None
        self.pruned = False
        self.clock = TrainClock()

    @property
    def monitor_name(self) -> str:
        """The objective's name: the metric name or the composite's `name`."""
        return self.monitor.name if isinstance(self.monitor, CompositeMetric) else self.monitor

    @property
    def state_key(self) -> str:
        return f"AutoTuneCallback[monitor={self.monitor_name}]"

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.clock.epoch_start()

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        self.clock.batch_end(batch_size_of(batch))
        # A NaN or infinite training loss never recovers: stop now instead of at validation.
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1 or self.pruned:
            return
        bad = not bool(torch.isfinite(loss.detach()))
        if bool(trainer.strategy.reduce_boolean_decision(bad, all=False)):
            self.pruned = True
            self.trial.prune_reason = (
                f"training loss was {float(loss)} at step {trainer.global_step}"
            )
            self.trial.prune_kind = FailureKind.DIVERGED
            trainer.should_stop = True

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.clock.epoch_end()

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.sanity_checking:
            self.clock.pause()

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        scalars: dict[str, float] = {}
        value, local_error = math.nan, None
        try:
            scalars = self._read(trainer)
            value = self._objective(trainer, scalars)
        except Exception as err:  # agreed on by all ranks below, then raised everywhere
            local_error = err
        if trainer.strategy.reduce_boolean_decision(local_error is not None, all=False):
            if local_error is not None:
                raise local_error
            raise AutotuneError(
                f"AutoTuneCallback: another rank failed at step {trainer.global_step}; "
                "see that rank's error"
            )
        self.last_value = value
        decision: tuple[bool, str | None, str | None] = (False, None, None)
        failure: Exception | None = None
        if trainer.is_global_zero:
            try:
                self.trial.report(trainer.global_step, value, scalars)
                prune = self.pruned or self.trial.should_prune()  # keep an earlier reason
                decision = (prune, self.trial.prune_reason if prune else None, None)
            except Exception as err:  # every rank must still reach the broadcast below
                failure = err
                decision = (False, None, f"{type(err).__name__}: {err}")
        prune, reason, error = trainer.strategy.broadcast(decision, src=0)
        if failure is not None:
            raise failure
        if error is not None:
            raise AutotuneError(f"AutoTuneCallback: rank 0 failed to talk to the store: {error}")
        if prune:
            self.pruned = True
            self.trial.prune_reason = reason or self.trial.prune_reason
            trainer.should_stop = True
        self.clock.resume()

    def _read(self, trainer: pl.Trainer) -> dict[str, float]:
        """The logged scalar metrics plus the measured efficiency signals."""
        metrics = trainer.callback_metrics
        scalars = {k: _scalar(v) for k, v in metrics.items() if _is_scalar(v)}
        scalars.setdefault(SAMPLES_PER_SEC, self.clock.samples_per_sec(trainer.world_size))
        scalars.setdefault(
            SECONDS_PER_EPOCH, self.clock.seconds_per_epoch(float(trainer.num_training_batches))
        )
        if isinstance(self.monitor, str) and self.monitor not in metrics:
            logged = sorted(metrics) or ["(nothing)"]
            raise MetricNotFoundError(
                f"AutoTuneCallback: monitor {self.monitor!r} was not logged in validation; the "
                f"model logged {logged}. Log it with self.log({self.monitor!r}, ...) in "
                "validation_step, or pass one of the logged names as monitor="
            )
        return scalars

    def _objective(self, trainer: pl.Trainer, scalars: dict[str, float]) -> float:
        if isinstance(self.monitor, CompositeMetric):
            value = self.monitor.compute(scalars)
            scalars[self.monitor.name] = value
            return value
        return _scalar(trainer.callback_metrics[self.monitor])

    def state_dict(self) -> dict[str, Any]:
        return {"last_value": self.last_value, "pruned": self.pruned}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.last_value = state_dict.get("last_value")
        self.pruned = bool(state_dict.get("pruned", False))


def _is_scalar(v: Any) -> bool:
    return isinstance(v, (int, float)) or (isinstance(v, torch.Tensor) and v.numel() == 1)


def _scalar(v: Any) -> float:
    return float(v.item()) if isinstance(v, torch.Tensor) else float(v)
