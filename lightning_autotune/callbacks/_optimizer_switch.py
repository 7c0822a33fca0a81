"""`OptimizerSwitch`: train with one optimizer, then switch to another (e.g. Adam, then SGD)."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Mapping
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.strategies import DeepSpeedStrategy, FSDPStrategy, ModelParallelStrategy

from lightning_autotune._optimizers import OPTIMIZERS
from lightning_autotune.callbacks._common import log_value, same_on_all_ranks
from lightning_autotune.callbacks._schedule import milestone_epoch
from lightning_autotune.exceptions import ConfigError

__all__ = ["OptimizerSwitch", "switch_optimizer"]

OptimizerFactory = Callable[[list[dict[str, Any]]], torch.optim.Optimizer]
SchedulerFactory = Callable[[torch.optim.Optimizer], Any]
_SHARDED = (FSDPStrategy, DeepSpeedStrategy, ModelParallelStrategy)
# Group keys kept across a switch; `lr_multiplier` and `base_group` mark PretrainedTransfer's
# groups, whose learning rates stay multiples of the base lr.
_CARRIED = ("params", "weight_decay", "lr_multiplier", "base_group")


class OptimizerSwitch(pl.Callback):
    """Replace the model's optimizer by another one at the start of a chosen epoch.

    The first optimizer is whatever `configure_optimizers` returns; at epoch `at` the callback
    builds the new one over the same parameter groups (keeping `weight_decay` and the
    `lr_multiplier` of `PretrainedTransfer`'s groups) and installs it through the public
    `trainer.optimizers` setter. Learning-rate schedulers are rebuilt for the new optimizer by
    `scheduler(new_optimizer)`, keeping each one's interval and frequency. The phase (0 before,
    1 after) is logged as `optimizer_phase` and saved in checkpoints: a run resumed after the
    switch rebuilds the second optimizer before Lightning loads its state.

    Args:
        at: Epoch (int >= 1) or fraction of training (float in (0, 1)) where the switch happens.
        optimizer: 'sgd', 'adam', 'adamw', 'rmsprop', a `torch.optim.Optimizer` class, or a
            factory `f(param_groups) -> Optimizer` (each group has `params` and `lr`).
        lr: Learning rate of the new optimizer; None keeps each group's current lr times
            `lr_scale`.
        lr_scale: Multiplies the carried-over lr when `lr` is None (SGD often wants a larger lr
            than Adam).
        optimizer_kwargs: Extra arguments of the optimizer class; 'sgd' defaults to
            `momentum=0.9`.
        scheduler: `scheduler(new_optimizer) -> LRScheduler`; required when the model configures
            schedulers.

    Raises:
        ConfigError: Bad arguments; at `setup`, manual optimization or a sharded strategy
            (FSDP, DeepSpeed, ModelParallel); at fit start, schedulers with no `scheduler`
            factory. (Automatic optimization, which the switch needs, has one optimizer.)

    Example:
        >>> cb = OptimizerSwitch(at=0.5, optimizer="sgd", lr_scale=10.0)
    """

    def __init__(
        self,
        at: int | float,
        optimizer: str | type[torch.optim.Optimizer] | OptimizerFactory = "sgd",
        *,
        lr: float | None = None,
        lr_scale: float = 1.0,
        optimizer_kwargs: Mapping[str, Any] | None = None,
        scheduler: SchedulerFactory | None = None,
    ) -> None:
        if isinstance(at, bool) or not isinstance(at, (int, float)):
            raise ConfigError(f"OptimizerSwitch.at must be an epoch or a fraction, got {at!r}")
        if (isinstance(at, int) and at < 1) or (isinstance(at, float) and not 0.0 < at < 1.0):
            raise ConfigError(
                f"OptimizerSwitch.at must be an epoch >= 1 (int) or a fraction in (0, 1) "
                f"(float), got {at!r}; to use the second optimizer from the start, return it "
                "from configure_optimizers instead"
            )
        kwargs = dict(optimizer_kwargs or {})
        if isinstance(optimizer, str):
            cls = OPTIMIZERS.get(optimizer.lower())
            if cls is None:
                raise ConfigError(
                    f"OptimizerSwitch.optimizer must be one of {sorted(OPTIMIZERS)}, an Optimizer "
                    f"class or a factory, got {optimizer!r}"
                )
            if cls is torch.optim.SGD:
                kwargs.setdefault("momentum", 0.9)
            optimizer = cls
        if not callable(optimizer):
            raise ConfigError(
                f"OptimizerSwitch.optimizer must be a name, an Optimizer class or a factory, got "
                f"{optimizer!r}"
            )
        if lr is not None and not (isinstance(lr, (int, float)) and lr > 0):
            raise ConfigError(f"OptimizerSwitch.lr must be > 0 or None, got {lr!r}")
        if not (isinstance(lr_scale, (int, float)) and lr_scale > 0):
            raise ConfigError(f"OptimizerSwitch.lr_scale must be > 0, got {lr_scale!r}")
        if scheduler is not None and not callable(scheduler):
            raise ConfigError(
                f"OptimizerSwitch.scheduler must be a callable f(optimizer) -> LRScheduler, got "
                f"{scheduler!r}"
            )
        self.at = at
        self.optimizer = optimizer
        self.lr = lr
        self.lr_scale = float(lr_scale)
        self.optimizer_kwargs = kwargs
        self.scheduler = scheduler
        self.switch_epoch: int | None = None
        self.switched = False
        self._restored_switched = False

    @property
    def state_key(self) -> str:
        name = getattr(self.optimizer, "__name__", type(self.optimizer).__name__)
        return self._generate_state_key(at=self.at, optimizer=name)

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage != "fit":
            return
        if not pl_module.automatic_optimization:
            raise ConfigError(
                "OptimizerSwitch works with automatic optimization only, but the model sets "
                "automatic_optimization=False; switch optimizers yourself in training_step, or "
                "remove the callback"
            )
        if isinstance(trainer.strategy, _SHARDED):
            raise ConfigError(
                f"OptimizerSwitch cannot rebuild an optimizer under the sharded strategy "
                f"{type(trainer.strategy).__name__} (its optimizer state is partitioned); use "
                "Trainer(strategy='ddp') or a single device, or remove the callback"
            )
        max_epochs = trainer.max_epochs if trainer.max_epochs and trainer.max_epochs > 0 else None
        self.switch_epoch = milestone_epoch(self.at, max_epochs, "OptimizerSwitch.at")

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.lr_scheduler_configs and self.scheduler is None:
            names = [type(c.scheduler).__name__ for c in trainer.lr_scheduler_configs]
            raise ConfigError(
                f"OptimizerSwitch: the model configures LR schedulers {names}, which are bound to "
                "the first optimizer; pass scheduler=lambda opt: <a new scheduler for opt> so "
                "they can be rebuilt after the switch"
            )
        # A checkpoint taken after the switch holds the second optimizer's state, which
        # Lightning loads right after this hook: rebuild that optimizer first.
        if self._restored_switched:
            self._switch(trainer)

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        assert self.switch_epoch is not None
        due = not self.switched and trainer.current_epoch >= self.switch_epoch
        if same_on_all_ranks(trainer, due):
            self._switch(trainer)
        log_value(pl_module, "optimizer_phase", float(self.switched))

    def _switch(self, trainer: pl.Trainer) -> None:
        switch_optimizer(
            trainer,
            self.optimizer,
            lr=self.lr,
            lr_scale=self.lr_scale,
            optimizer_kwargs=self.optimizer_kwargs,
            scheduler=self.scheduler,
        )
        self.switched = True

    def state_dict(self) -> dict[str, Any]:
        return {"switched": self.switched, "switch_epoch": self.switch_epoch}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._restored_switched = bool(state_dict["switched"])


def switch_optimizer(
    trainer: pl.Trainer,
    optimizer: type[torch.optim.Optimizer] | OptimizerFactory,
    *,
    lr: float | None = None,
    lr_scale: float = 1.0,
    optimizer_kwargs: Mapping[str, Any] | None = None,
    scheduler: SchedulerFactory | None = None,
) -> torch.optim.Optimizer:
    """Install a new optimizer over the running optimizer's parameter groups.

    Each group keeps `params`, `weight_decay` and `PretrainedTransfer`'s marks; its lr is `lr`
    (times the group's `lr_multiplier`) or the current lr times `lr_scale`. The new optimizer
    starts with no state (no momentum buffers). Schedulers are rebuilt by `scheduler`.

    Args:
        trainer: The running Trainer (one optimizer, automatic optimization).
        optimizer: An Optimizer class (called with `optimizer_kwargs`) or a factory.
        lr: The new base learning rate, or None to carry the current one.
        lr_scale: Multiplies the carried lr when `lr` is None.
        optimizer_kwargs: Arguments of the optimizer class.
        scheduler: `scheduler(new_optimizer)`, required when the Trainer has schedulers.

    Returns:
        The new optimizer.

    Raises:
        ConfigError: The factory returned no Optimizer, or schedulers with no `scheduler`.
    """
    configs = trainer.lr_scheduler_configs
    if configs and scheduler is None:
        names = [type(c.scheduler).__name__ for c in configs]
        raise ConfigError(
            f"switching the optimizer: the model configures LR schedulers {names}, which are "
            "bound to the old optimizer; pass a scheduler factory f(optimizer) -> LRScheduler "
            "or configure no scheduler"
        )
    groups = []
    for group in trainer.optimizers[0].param_groups:
        new_group = {k: v for k, v in group.items() if k in _CARRIED}
        # An explicit lr is the base lr: transfer groups keep their multiple of it.
        base = lr * group.get("lr_multiplier", 1.0) if lr is not None else None
        new_group["lr"] = base if base is not None else group["lr"] * lr_scale
        groups.append(new_group)
    factory: Any = optimizer
    kwargs = dict(optimizer_kwargs or {}) if inspect.isclass(optimizer) else {}
    new = factory(groups, **kwargs)
    if not isinstance(new, torch.optim.Optimizer):
        raise ConfigError(
            f"OptimizerSwitch.optimizer returned {type(new).__name__}, not a torch.optim.Optimizer"
        )
    trainer.optimizers = [new]
    for i, config in enumerate(configs):
        assert scheduler is not None
        configs[i] = dataclasses.replace(config, scheduler=scheduler(new))
    return new
