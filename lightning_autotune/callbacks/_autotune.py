"""`AutoTuneCallback`: connects a Lightning run to its trial (reporting and pruning)."""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
import torch

from lightning_autotune.exceptions import ConfigError, MetricNotFoundError
from lightning_autotune.trial import Direction, Trial

__all__ = ["AutoTuneCallback"]


class AutoTuneCallback(pl.Callback):
    """Reports every validation result to the trial and stops the run when the pruner says so.

    After each validation (sanity checks excluded) the callback records the monitored value and
    every other scalar metric at the trainer's global step, then asks the study's pruner. On a
    prune it sets `trainer.should_stop`; it never raises to stop training. A NaN or infinite
    training loss (the `loss` a training step returns) also stops the run, pruned with reason.
    Under DDP only rank 0 talks to the store and its decision is broadcast to every rank.

    Args:
        trial: The trial this run belongs to (from `Study.ask()`).
        monitor: Name of the logged metric that is the objective.
        mode: 'min' or 'max'; must agree with the study's direction. None takes the study's.

    Raises:
        ConfigError: `mode` disagrees with the study's direction.
        MetricNotFoundError: At the first validation, if `monitor` was never logged (the message
            lists what was).

    Example:
        >>> # trainer = Trainer(callbacks=[AutoTuneCallback(trial, monitor="val_loss")])
    """

    def __init__(self, trial: Trial, monitor: str = "val_loss", mode: str | None = None) -> None:
        if not isinstance(monitor, str) or not monitor:
            raise ConfigError(f"monitor must be a metric name such as 'val_loss', got {monitor!r}")
        study_direction = trial.study.direction
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

    @property
    def state_key(self) -> str:
        return f"AutoTuneCallback[monitor={self.monitor}]"

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        metrics = trainer.callback_metrics
        if self.monitor not in metrics:
            logged = sorted(metrics) or ["(nothing)"]
            raise MetricNotFoundError(
                f"AutoTuneCallback: monitor {self.monitor!r} was not logged in validation; the "
                f"model logged {logged}. Log it with self.log({self.monitor!r}, ...) in "
                "validation_step, or pass one of the logged names as monitor="
            )
        value = _scalar(metrics[self.monitor])
        self.last_value = value
        prune = False
        if trainer.is_global_zero:
            scalars = {k: _scalar(v) for k, v in metrics.items() if _is_scalar(v)}
            self.trial.report(trainer.global_step, value, scalars)
            prune = self.pruned or self.trial.should_prune()  # keep an earlier reason
        prune = bool(trainer.strategy.broadcast(prune, src=0))
        if prune:
            self.pruned = True
            trainer.should_stop = True

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
        batch_idx: int,
    ) -> None:  # fmt: skip
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
            trainer.should_stop = True

    def state_dict(self) -> dict[str, Any]:
        return {"last_value": self.last_value, "pruned": self.pruned}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.last_value = state_dict.get("last_value")
        self.pruned = bool(state_dict.get("pruned", False))


def _is_scalar(v: Any) -> bool:
    return isinstance(v, (int, float)) or (isinstance(v, torch.Tensor) and v.numel() == 1)


def _scalar(v: Any) -> float:
    return float(v.item()) if isinstance(v, torch.Tensor) else float(v)
