"""Tiny models and data for tests, examples and benchmarks. Everything works offline."""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

from lightning_autotune._optimizers import make_optimizer

__all__ = [
    "TINY_TRAINER_KWARGS",
    "TinyClassifier",
    "digits_datasets",
    "loaders",
    "random_datasets",
]

# Trainer arguments for fast, quiet CPU runs in tests and examples.
TINY_TRAINER_KWARGS: dict[str, Any] = {
    "max_epochs": 3,
    "accelerator": "cpu",
    "devices": 1,
    "logger": False,
    "enable_checkpointing": False,
    "enable_progress_bar": False,
    "enable_model_summary": False,
}


class TinyClassifier(pl.LightningModule):
    """A small MLP classifier that logs `train_loss`, `val_loss` and `val_accuracy`.

    Args:
        n_features: Input width.
        n_classes: Number of classes.
        hidden: Hidden layer width.
        lr: Learning rate.
        optimizer: 'adam', 'adamw', 'sgd' or 'rmsprop'.
        dropout: Dropout probability after the hidden layer.
        momentum: Momentum for SGD / RMSprop.
    """

    def __init__(
        self,
        n_features: int = 64,
        n_classes: int = 10,
        hidden: int = 32,
        lr: float = 1e-2,
        optimizer: str = "adam",
        dropout: float = 0.0,
        momentum: float = 0.0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.lr, self.optimizer_name, self.momentum = lr, optimizer, momentum
        self.net = nn.Sequential(
            nn.Linear(n_features, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, n_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = nn.functional.cross_entropy(self(x), y)
        self.log("train_loss", loss, on_epoch=True, on_step=False)
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        logits = self(x)
        self.log("val_loss", nn.functional.cross_entropy(logits, y))
        self.log("val_accuracy", (logits.argmax(-1) == y).float().mean())

    def test_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        self.log("test_accuracy", (self(x).argmax(-1) == y).float().mean())

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return make_optimizer(
            self.optimizer_name, self.parameters(), self.lr, momentum=self.momentum
        )


def digits_datasets(seed: int = 0) -> tuple[Dataset, Dataset, Dataset]:
    """scikit-learn's bundled digits (8x8 images, 10 classes) as train/val/test datasets.

    Features are scaled to [0, 1]; the split is 60/20/20, stratified and fixed by `seed`.
    Needs scikit-learn (no download: the data ships inside the package).
    """
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError as err:
        raise ImportError("digits_datasets needs scikit-learn: pip install scikit-learn") from err
    x, y = load_digits(return_X_y=True)
    x = x / 16.0
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, random_state=seed, stratify=y)
    x_tr, x_va, y_tr, y_va = train_test_split(
        x_tr, y_tr, test_size=0.25, random_state=seed, stratify=y_tr
    )

    def ds(a: Any, b: Any) -> TensorDataset:
        return TensorDataset(torch.tensor(a, dtype=torch.float32), torch.tensor(b))

    return ds(x_tr, y_tr), ds(x_va, y_va), ds(x_te, y_te)


def random_datasets(
    n: int = 256, n_features: int = 16, n_classes: int = 3, seed: int = 0
) -> tuple[Dataset, Dataset]:
    """A learnable random classification task (labels from a fixed linear map): train, val."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, n_features, generator=g)
    w = torch.randn(n_features, n_classes, generator=g)
    y = (x @ w).argmax(-1)
    cut = int(0.75 * n)
    return TensorDataset(x[:cut], y[:cut]), TensorDataset(x[cut:], y[cut:])


def loaders(train: Dataset, val: Dataset, batch_size: int = 32) -> tuple[DataLoader, DataLoader]:
    """Train (shuffled) and validation loaders."""
    return (
        DataLoader(train, batch_size=batch_size, shuffle=True),
        DataLoader(val, batch_size=batch_size),
    )
