"""The LightningModule that `HyperTuner` wraps around a plain model, a loss and two datasets."""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from lightning_autotune._optimizers import OPTIMIZERS, make_optimizer
from lightning_autotune.exceptions import ConfigError

__all__ = ["WrappedModule"]


class WrappedModule(pl.LightningModule):
    """A LightningModule around a plain model, a loss and two datasets."""

    def __init__(
        self,
        model: nn.Module,
        criterion: nn.Module,
        train_data: Dataset,
        val_data: Dataset,
        *,
        lr: float,
        batch_size: int,
        optimizer: str,
        momentum: float,
        weight_decay: float,
    ) -> None:
        super().__init__()
        if optimizer.lower() not in OPTIMIZERS:
            raise ConfigError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {optimizer!r}")
        self.model = model
        self.criterion = criterion
        self.train_data, self.val_data = train_data, val_data
        self.lr, self.batch_size, self.optimizer_name = lr, batch_size, optimizer
        self.momentum, self.weight_decay = momentum, weight_decay

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = self.criterion(self(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        out = self(x)
        self.log("val_loss", self.criterion(out, y))
        if out.ndim == 2 and y.ndim == 1:
            self.log("val_accuracy", (out.argmax(-1) == y).float().mean())

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return make_optimizer(
            self.optimizer_name,
            self.parameters(),
            self.lr,
            momentum=self.momentum,
            weight_decay=self.weight_decay,
        )

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.train_data, batch_size=self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_data, batch_size=max(self.batch_size, 256))
