"""Small helpers shared by the schedule callbacks: logging an applied value, Trainer checks."""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
import torch

__all__ = ["log_value", "same_on_all_ranks"]


def log_value(pl_module: pl.LightningModule, name: str, value: float | torch.Tensor) -> None:
    """Log an applied schedule value as an epoch-level metric (CSV / TensorBoard show it).

    The value is the same on every rank, so `sync_dist=True` only averages equal numbers; it keeps
    Lightning from warning under DDP and costs one reduction per epoch.
    """
    pl_module.log(name, value, on_step=False, on_epoch=True, batch_size=1, sync_dist=True)


def same_on_all_ranks(trainer: pl.Trainer, value: Any) -> Any:
    """Rank 0's value on every rank (a no-op on one process)."""
    if trainer.world_size <= 1:
        return value
    return trainer.strategy.broadcast(value, src=0)
