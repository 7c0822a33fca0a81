"""A user's LightningCLI training script, as the sweep tests drive it."""

from __future__ import annotations

import sys

import lightning.pytorch as pl
from lightning.pytorch.cli import LightningCLI
from torch.utils.data import DataLoader

from lightning_autotune.cli import AutoTuneCLI
from lightning_autotune.testing import TinyClassifier, random_datasets


class RandomData(pl.LightningDataModule):
    def __init__(self, batch_size: int = 32, n: int = 128) -> None:
        super().__init__()
        self.batch_size = batch_size
        self.train, self.val = random_datasets(n=n, n_features=8)

    def train_dataloader(self):
        return DataLoader(self.train, batch_size=self.batch_size, shuffle=True)

    def val_dataloader(self):
        return DataLoader(self.val, batch_size=64)


class Model(TinyClassifier):
    def __init__(self, lr: float = 0.01, hidden: int = 16, optimizer: str = "adam") -> None:
        super().__init__(n_features=8, n_classes=3, hidden=hidden, lr=lr, optimizer=optimizer)


if __name__ == "__main__":
    if sys.argv[1] == "sweep":
        AutoTuneCLI(Model, RandomData, args=sys.argv[2:])
    else:
        LightningCLI(Model, RandomData)
