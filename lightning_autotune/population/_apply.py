"""Change a running Trainer's hyperparameters and weights in place (the model is not rebuilt)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from torch import nn

__all__ = ["apply_params", "load_member", "save_member"]


def apply_params(
    trainer: pl.Trainer, module: pl.LightningModule, params: Mapping[str, Any]
) -> None:
    """Set the mutable hyperparameters in `params` on the running `trainer` and `module`.

    `lr` (or `learning_rate`), `momentum` (SGD's momentum, Adam's first beta) and
    `weight_decay` go into every param group of every optimizer; `dropout` into every
    `nn.Dropout` of the module;
    `gradient_clip_val` into the Trainer's clipping value, read at every optimizer step.
    """
    lr = params.get("lr", params.get("learning_rate"))
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
    """Save the module's weights and every optimizer's state (tensors and plain values only)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(
        {
            "state_dict": module.state_dict(),
            "optimizer_states": [o.state_dict() for o in trainer.optimizers],
        },
        tmp,
    )
    tmp.replace(path)  # a reader never sees half a file


def load_member(trainer: pl.Trainer, module: pl.LightningModule, path: str | Path) -> None:
    """Load what `save_member` saved into the running module and optimizers (weights only)."""
    saved = torch.load(path, map_location=module.device, weights_only=True)
    module.load_state_dict(saved["state_dict"])
    for optimizer, state in zip(trainer.optimizers, saved["optimizer_states"], strict=False):
        optimizer.load_state_dict(state)
