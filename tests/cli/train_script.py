"""A user's LightningCLI training script with `LightningCLI` replaced by `AutoTuneCLI`, as the
README says: `python train_script.py --config sweep.yaml` sweeps, and
`python train_script.py fit --config best.yaml` trains the best configuration."""

from __future__ import annotations

import lightning.pytorch as pl
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
    AutoTuneCLI(Model, RandomData)
