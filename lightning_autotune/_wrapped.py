"""The LightningModule that `HyperTuner` wraps around a plain model, a loss and two datasets."""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from lightning_autotune._metrics_by_name import MetricChoice
from lightning_autotune._optimizers import OPTIMIZERS, make_optimizer
from lightning_autotune.exceptions import ConfigError

__all__ = ["WrappedModule"]


class WrappedModule(pl.LightningModule):
    """A LightningModule around a plain model, a loss and two datasets.

    `metric` (a `MetricChoice`) is computed with torchmetrics over the whole validation set:
    updated every batch, computed and logged at the epoch's end. Outputs `N x T x C` with labels
    `N x T` (sequences) are flattened for the loss and the metric, and labels equal to the
    loss's `ignore_index` (or `metric_kwargs['ignore_index']`) count nowhere.
    """

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
        metric: MetricChoice | None = None,
    ) -> None:
        super().__init__()
        if optimizer.lower() not in OPTIMIZERS:
            raise ConfigError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {optimizer!r}")
        self.model = model
        self.criterion = criterion
        self.train_data, self.val_data = train_data, val_data
        self.lr, self.batch_size, self.optimizer_name = lr, batch_size, optimizer
        self.momentum, self.weight_decay = momentum, weight_decay
        self.metric = metric
        self.val_metric: Any = None  # built from the first validation batch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = self._loss(self(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        out = self(x)
        self.log("val_loss", self._loss(out, y))
        metric = self.metric
        if metric is not None and metric.computed_here:
            if self.val_metric is None:
                self.val_metric = metric.make(out, y).to(out.device)
            preds, target = metric.prepare(out, y, getattr(self.criterion, "ignore_index", None))
            self.val_metric.update(preds, target)
            self.log(metric.log_key, self.val_metric, on_step=False, on_epoch=True)
        if out.ndim == 2 and y.ndim == 1 and (metric is None or metric.log_key != "val_accuracy"):
            # Lightning weighs batch means by batch size: the whole set's accuracy
            self.log("val_accuracy", (out.argmax(-1) == y).float().mean())

    def _loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if out.ndim >= 3 and out.shape[:-1] == y.shape and y.dtype == torch.long:
            # sequence logits N x T x C: class-index losses want the classes in dim 1
            return self.criterion(out.reshape(-1, out.shape[-1]), y.reshape(-1))
        return self.criterion(out, y)

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
