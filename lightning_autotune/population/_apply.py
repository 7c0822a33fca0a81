"""Change a running Trainer's hyperparameters and weights in place (the model is not rebuilt)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from torch import nn

from lightning_autotune._optimizers import OPTIMIZERS
from lightning_autotune.callbacks._batch_size import set_batch_size
from lightning_autotune.callbacks._optimizer_switch import switch_optimizer
from lightning_autotune.exceptions import ConfigError

__all__ = ["apply_params", "load_member", "optimizer_class", "save_member"]

SGD_MOMENTUM = 0.9
"""SGD's momentum after a switch when the space has no `momentum` (`OptimizerSwitch`'s too)."""


def optimizer_class(name: str) -> type[torch.optim.Optimizer]:
    """The optimizer class of a space value ('sgd', 'adam', ...) or a class name ('SGD').

    Raises:
        ConfigError: Neither a name of `OPTIMIZERS` nor a `torch.optim` class.
    """
    cls = OPTIMIZERS.get(str(name).lower()) or getattr(torch.optim, str(name), None)
    if not (isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer)):
        raise ConfigError(
            f"population: optimizer must be one of {sorted(OPTIMIZERS)} (a categorical of the "
            f"space), got {name!r}"
        )
    return cls


def apply_params(
    trainer: pl.Trainer, module: pl.LightningModule, params: Mapping[str, Any]
) -> None:
    """Set the mutable hyperparameters in `params` on the running `trainer` and `module`.

    `optimizer` (a name of `OPTIMIZERS`) replaces the running optimizer by a fresh one of
    that class over the same parameter groups when the class differs (`switch_optimizer`;
    SGD gets momentum 0.9 unless `momentum` is given). Then `lr` (or `learning_rate`),
    `momentum` (SGD's momentum, Adam's first beta) and `weight_decay` go into every param
    group of every optimizer; `dropout` into every `nn.Dropout` of the module;
    `gradient_clip_val` into the Trainer's clipping value, read at every optimizer step;
    `batch_size` into the module's (or datamodule's) `batch_size`, which the next rebuilt train
    loader reads (`set_batch_size`).
    """
    lr = params.get("lr", params.get("learning_rate"))
    if "optimizer" in params:
        cls = optimizer_class(params["optimizer"])
        if trainer.optimizers and type(trainer.optimizers[0]) is not cls:
            kwargs = {"momentum": SGD_MOMENTUM} if cls is torch.optim.SGD else {}
            switch_optimizer(trainer, cls, optimizer_kwargs=kwargs)
    if "batch_size" in params:
        set_batch_size(module, int(params["batch_size"]))
    for optimizer in trainer.optimizers:
        for group in optimizer.param_groups:
            if lr is not None:
                group["lr"] = float(lr)
            if "weight_decay" in params and "weight_decay" in group:
                group["weight_decay"] = float(params["weight_decay"])
            if "momentum" in params:
                if "betas" in group:
                    group["betas"] = (float(params["momentum"]), group["betas"][1])
                elif "momentum" in group:
                    group["momentum"] = float(params["momentum"])
    if "dropout" in params:
        for layer in module.modules():
            if isinstance(layer, nn.Dropout):
                layer.p = float(params["dropout"])
    if "gradient_clip_val" in params:
        trainer.gradient_clip_val = float(params["gradient_clip_val"])


def save_member(trainer: pl.Trainer, module: pl.LightningModule, path: Path) -> None:
    """Save the module's weights and every optimizer's class and state."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(
        {
            "state_dict": module.state_dict(),
            "optimizer_states": [o.state_dict() for o in trainer.optimizers],
            "optimizer_classes": [type(o).__name__ for o in trainer.optimizers],
        },
        tmp,
    )
    tmp.replace(path)  # a reader never sees half a file


def load_member(trainer: pl.Trainer, module: pl.LightningModule, path: str | Path) -> None:
    """Load what `save_member` saved into the running module and optimizers (weights only).

    A saved optimizer of another class than the running one (a donor that switched from Adam
    to SGD) is installed first, so its state fits.
    """
    saved = torch.load(path, map_location=module.device, weights_only=True)
    module.load_state_dict(saved["state_dict"])
    for name in saved.get("optimizer_classes", [])[:1]:
        cls = optimizer_class(name)
        if trainer.optimizers and type(trainer.optimizers[0]) is not cls:
            switch_optimizer(trainer, cls)
    for optimizer, state in zip(trainer.optimizers, saved["optimizer_states"], strict=False):
        optimizer.load_state_dict(state)
