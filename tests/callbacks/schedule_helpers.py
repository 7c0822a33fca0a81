"""Tiny models and a probe shared by the schedule callback tests (importable by DDP workers)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from lightning_autotune.testing import close_process_group


def data(n: int = 192, d: int = 16, seed: int = 0) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    y = (x @ torch.randn(d, 3, generator=g)).argmax(-1)
    return TensorDataset(x, y)


class ScheduleModel(pl.LightningModule):
    """A 2-layer MLP that builds its loaders from `self.batch_size`."""

    def __init__(
        self,
        batch_size: int = 16,
        lr: float = 1e-2,
        optimizer: str = "adam",
        dropout: float = 0.5,
        scheduler: bool = False,
        n: int = 192,
    ) -> None:
        super().__init__()
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer_name = optimizer
        self.use_scheduler = scheduler
        self.train_set = data(n)
        self.val_set = data(64, seed=1)
        self.net = nn.Sequential(
            nn.Linear(16, 32), nn.ReLU(), nn.Dropout(dropout), nn.Linear(32, 3)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = nn.functional.cross_entropy(self(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        self.log("val_loss", nn.functional.cross_entropy(self(x), y))

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.train_set, batch_size=self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_size=64)

    def configure_optimizers(self) -> Any:
        cls = torch.optim.Adam if self.optimizer_name == "adam" else torch.optim.SGD
        opt = cls(self.parameters(), lr=self.lr)
        if not self.use_scheduler:
            return opt
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
        return {"optimizer": opt, "lr_scheduler": sched}


class Probe(pl.Callback):
    """Records what each epoch and step actually used; optionally writes it per rank to JSON."""

    def __init__(self, out_dir: str | None = None) -> None:
        self.out_dir = out_dir
        self.batch_sizes: dict[int, set[int]] = {}
        self.optimizers: dict[int, list[str]] = {}
        self.lrs: dict[int, float] = {}
        self.dropout: dict[int, float] = {}
        self.momentum_state: dict[int, bool] = {}

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        e = trainer.current_epoch
        self.batch_sizes.setdefault(e, set()).add(len(batch[0]))
        opt = trainer.optimizers[0]
        self.optimizers.setdefault(e, []).append(type(opt).__name__)
        self.lrs.setdefault(e, opt.param_groups[0]["lr"])
        drop = [m.p for m in pl_module.modules() if isinstance(m, nn.Dropout)]
        if drop:
            self.dropout.setdefault(e, drop[0])
        if batch_idx == 0:
            self.momentum_state[e] = any("momentum_buffer" in s for s in opt.state.values())

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.out_dir is None:
            return
        out = {
            "batch_sizes": {e: sorted(s) for e, s in self.batch_sizes.items()},
            "optimizers": {e: sorted(set(v)) for e, v in self.optimizers.items()},
        }
        Path(self.out_dir, f"rank{trainer.global_rank}.json").write_text(json.dumps(out))

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        close_process_group()


def trainer(callbacks: list[pl.Callback], **kwargs: Any) -> pl.Trainer:
    defaults: dict[str, Any] = {
        "max_epochs": 4,
        "accelerator": "cpu",
        "devices": 1,
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "num_sanity_val_steps": 0,
    }
    defaults.update(kwargs)
    return pl.Trainer(callbacks=callbacks, **defaults)
