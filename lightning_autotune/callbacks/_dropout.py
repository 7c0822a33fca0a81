"""`DropoutSchedule`: set the dropout probability of a model's dropout layers per epoch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import lightning.pytorch as pl
from torch import nn

from lightning_autotune.callbacks._common import log_value, same_on_all_ranks
from lightning_autotune.callbacks._schedule import Schedule, StepDecay, as_schedule
from lightning_autotune.exceptions import ConfigError

__all__ = ["DropoutSchedule"]

_DROPOUT_TYPES = (
    nn.Dropout,
    nn.Dropout1d,
    nn.Dropout2d,
    nn.Dropout3d,
    nn.AlphaDropout,
    nn.FeatureAlphaDropout,
)


class DropoutSchedule(pl.Callback):
    """At the start of every training epoch, set `p` on the model's dropout layers.

    Covers `nn.Dropout` and its 1d/2d/3d/alpha variants, and the between-layer dropout of
    multi-layer `nn.RNN` / `nn.LSTM` / `nn.GRU` (`include_rnn=True`). The value is a pure function
    of the epoch, so a resumed run applies the same `p`; it is logged as `dropout_p`.

    Args:
        schedule: A `StepDecay`, a `Piecewise`, or `{milestone: p}` (epoch int or fraction
            float). Example: `StepDecay(start=0.5, amount=0.1, every=10, floor=0.1)`.
        modules: Only layers whose qualified name starts with one of these prefixes (e.g.
            `["encoder."]`); None means every dropout layer.
        include_rnn: Also set `dropout` on multi-layer recurrent modules.

    Raises:
        ConfigError: A bad schedule or a `p` outside [0, 1); at `setup`, a model with no
            matching dropout layer.

    Example:
        >>> cb = DropoutSchedule(StepDecay(start=0.5, amount=0.1, every=10, floor=0.1))
    """

    def __init__(
        self,
        schedule: Schedule | Mapping[int | float, float],
        *,
        modules: Sequence[str] | None = None,
        include_rnn: bool = True,
    ) -> None:
        self.schedule = as_schedule(schedule, "DropoutSchedule.schedule")
        values: tuple[float, ...] = ()
        if isinstance(self.schedule, StepDecay):
            values = (self.schedule.start, self.schedule.floor)
        elif hasattr(self.schedule, "values"):
            values = tuple(self.schedule.values())
        for p in values:
            if not 0.0 <= p < 1.0:
                raise ConfigError(f"DropoutSchedule: every p must be in [0, 1), got {p}")
        if modules is not None and (
            isinstance(modules, str) or not all(isinstance(m, str) for m in modules)
        ):
            raise ConfigError(
                f"DropoutSchedule.modules must be a list of name prefixes, got {modules!r}"
            )
        self.modules = tuple(modules) if modules is not None else None
        self.include_rnn = include_rnn
        self.applied: float | None = None
        self._max_epochs: int | None = None
        self._targets: list[nn.Module] = []

    @property
    def state_key(self) -> str:
        return self._generate_state_key(schedule=repr(self.schedule), modules=self.modules)

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage != "fit":
            return
        self._max_epochs = (
            trainer.max_epochs if trainer.max_epochs and trainer.max_epochs > 0 else None
        )
        if self.schedule.needs_max_epochs() and self._max_epochs is None:
            raise ConfigError(
                "DropoutSchedule: the schedule uses fractions of training, which needs "
                "Trainer(max_epochs=N); set max_epochs or give milestones as integer epochs"
            )
        self._targets = [
            m
            for name, m in pl_module.named_modules()
            if self._selected(name) and self._is_dropout(m)
        ]
        if not self._targets:
            where = f" under {list(self.modules)}" if self.modules else ""
            raise ConfigError(
                f"DropoutSchedule found no dropout layer{where} in {type(pl_module).__name__}; "
                "add nn.Dropout layers (or fix modules=[...] prefixes), or remove the callback"
            )

    def p_for(self, epoch: int) -> float | None:
        """The p the schedule gives for `epoch` (None: leave the model's own p)."""
        p = self.schedule.value(epoch, self._max_epochs)
        return None if p is None else min(max(float(p), 0.0), 1.0)

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        p = same_on_all_ranks(trainer, self.p_for(trainer.current_epoch))
        if p is not None:
            for m in self._targets:
                if isinstance(m, nn.RNNBase):
                    m.dropout = p
                else:
                    m.p = p
            self.applied = p
        if self.applied is not None:
            log_value(pl_module, "dropout_p", self.applied)

    def _selected(self, name: str) -> bool:
        return self.modules is None or any(name.startswith(prefix) for prefix in self.modules)

    def _is_dropout(self, m: nn.Module) -> bool:
        if isinstance(m, _DROPOUT_TYPES):
            return True
        return self.include_rnn and isinstance(m, nn.RNNBase) and m.num_layers > 1

    def state_dict(self) -> dict[str, Any]:
        return {"applied": self.applied}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.applied = state_dict["applied"]
